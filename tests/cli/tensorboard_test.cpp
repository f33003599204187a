// runtime.tensorboard_dir as users meet it: a short training run with its evaluation leaves
// events files that TensorBoard's own reader (scripts/tensorboard/check_events.py, the oracle
// venv's pinned tensorboard) finds to hold exactly the numbers of the --log-json file, at the
// same steps, and, for a detector, the eval pictures as PNGs of the eval images' sizes.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "run_trainer.h"

namespace trainer::testing {
namespace {

// The oracle's verdict on LOGDIR against the JSON log; fails the test with its message.
void expect_events_match(const std::filesystem::path& logdir, const std::filesystem::path& log,
                         const std::string& eval_key, int eval_step, int images, const std::filesystem::path& scratch,
                         const std::string& coco_json = "") {
  std::string cmd = std::string(TRAINER_ORACLE_PYTHON) + " scripts/tensorboard/check_events.py --logdir " +
                    quote(logdir.string()) + " --log-json " + quote(log.string()) + " --eval-key " + eval_key +
                    " --eval-step " + std::to_string(eval_step) + " --images " + std::to_string(images);
  if (!coco_json.empty()) cmd += " --coco-json " + coco_json;
  const RunResult r = run_command(cmd, scratch);
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok: "), std::string::npos) << r.out << r.err;
}

// A reduced SSD on the 4 real COCO images, 3 steps at 128x128: the default folder is model_dir.
TEST(TensorBoard, DetectorRunWritesTrainScalarsEvalScalarsAndDetectionPictures) {
  const auto scratch = scratch_dir("tensorboard-ssd");
  const auto model = scratch / "model";
  RunResult t = run_trainer(
      {"--config", "tests/tasks/data/coco_overfit.pbtxt", "--override",
       "model { ssd { image_resizer { fixed_shape_resizer { height: 128 width: 128 } } } } "
       "train_config { num_steps: 3 } eval_config { num_visualizations: 3 min_score_threshold: 0.0 }",
       "--override", "runtime { log_every_n_steps: 1 model_dir: \"" + model.string() + "\" }", "--log-json",
       (scratch / "log.json").string()},
      scratch);
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_TRUE(std::regex_search(t.err, std::regex("tensorboard: writing .*/model/train/events\\.out\\.tfevents\\.")))
      << t.err;
  expect_events_match(model, scratch / "log.json", "coco.AP", 3, 3, scratch,
                      "tests/eval/data/instances_val2017_mini.json");
  std::filesystem::remove_all(scratch);
}

// The classifier: runtime.tensorboard_dir chosen explicitly, apart from model_dir; top-1/top-5 at
// the last step.
TEST(TensorBoard, ClassifierRunWritesIntoTheConfiguredFolder) {
  const auto scratch = scratch_dir("tensorboard-resnet");
  RunResult t = run_trainer(
      {"--config", "configs/demo/fashion_mnist_resnet.pbtxt", "--override",
       "model { classifier { resnet { width: 8 } } } train_config { batch_size: 16 num_steps: 4 } "
       "eval_config { batch_size: 2000 }",
       "--override",
       "runtime { log_every_n_steps: 2 model_dir: \"" + (scratch / "model").string() + "\" tensorboard_dir: \"" +
           (scratch / "tb").string() + "\" }",
       "--log-json", (scratch / "log.json").string()},
      scratch);
  ASSERT_EQ(t.status, 0) << t.err;
  expect_events_match(scratch / "tb", scratch / "log.json", "top1", 4, 0, scratch);
  EXPECT_FALSE(std::filesystem::exists(scratch / "model" / "train")) << "the events go to tensorboard_dir only";
  std::filesystem::remove_all(scratch);
}

}  // namespace
}  // namespace trainer::testing
