// `trainer export` as users run it: a classifier, an SSD and an EfficientDet are trained for a
// few steps, exported to ONNX and run in onnxruntime (tests/cli/onnx_check.py, the test venv) on
// the image `trainer --mode predict` classified or searched: the graph passes the ONNX checker,
// takes any batch size, gives the raw outputs the trainer's own forward gives (to float
// rounding), and predict's printed probabilities, or an anchor of the right score and box
// behind every detection predict printed. The graph's input is the preprocessed
// image, made here by the task's own eval transform (what predict fed the network).
#include <gtest/gtest.h>

#include <fstream>

#include "run_trainer.h"
#include "trainer/config/config.h"
#include "trainer/data/detection_transform.h"
#include "trainer/data/image_folder.h"
#include "trainer/tasks/classification_task.h"
#include "trainer/tasks/detection_task.h"
#include "trainer/tasks/ssd_config.h"
#include "trainer/train/checkpoint.h"

namespace trainer::testing {
namespace {

constexpr const char* kImage = "tests/data/fixtures/000000289393.jpg";

std::string source_path(const std::string& relative) {
  return (std::filesystem::path(std::getenv("TRAINER_SOURCE_DIR")) / relative).string();
}

data::Sample image_sample() {
  data::Sample s;
  s.name = kImage;
  s.encoded = data::read_file_bytes(source_path(kImage));
  return s;
}

void write_raw(const Tensor& x, const std::filesystem::path& path) {
  std::ofstream(path, std::ios::binary)
      .write(static_cast<const char*>(x.raw()), static_cast<std::streamsize>(x.nbytes()));
}

// The task's own eval-mode forward of x with the checkpoint predict used, each output written
// raw beside the input (for onnx_check.py's NAME=PATH arguments).
void load_checkpoint(tasks::Task& task, const config::TrainEvalPipelineConfig& c, const std::filesystem::path& scratch) {
  const auto latest = train::CheckpointManager((scratch / "model").string(), 1).latest();
  ASSERT_TRUE(latest.has_value());
  train::load_inference_weights(*latest, task.store(), c.eval_config().use_moving_averages());
}

// onnx_check.py with these arguments, from the source tree; its report on failure.
void check_in_onnxruntime(const std::vector<std::string>& args, const std::filesystem::path& scratch) {
  std::string cmd = std::string(TRAINER_ORACLE_PYTHON) + " tests/cli/onnx_check.py";
  for (const std::string& a : args) cmd += " " + quote(a);
  const RunResult r = run_command(cmd, scratch);
  std::printf("%s", r.out.c_str());  // the checks and their numbers, for the test log
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ok   onnx.checker.check_model(full_check=True)"), std::string::npos) << r.out << r.err;
}

// Trains `config` (with `overrides`) into scratch/model, exports it and predicts kImage; returns
// predict's stdout, after checking the export's own report.
std::string train_export_predict(const std::string& config, std::vector<std::string> overrides,
                                 const std::filesystem::path& scratch) {
  overrides.push_back("runtime { model_dir: \"" + (scratch / "model").string() + "\" }");
  std::vector<std::string> common = {"--config", config};
  for (const std::string& o : overrides) common.insert(common.end(), {"--override", o});
  auto with = [&](std::vector<std::string> head, std::vector<std::string> tail) {
    head.insert(head.end(), common.begin(), common.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  const RunResult train = run_trainer(with({}, {}), scratch);
  EXPECT_EQ(train.status, 0) << train.err;
  const RunResult exported = run_trainer(with({"export"}, {"--output", (scratch / "model.onnx").string()}), scratch);
  EXPECT_EQ(exported.status, 0) << exported.err;
  EXPECT_NE(exported.out.find("model.onnx: "), std::string::npos) << exported.out;
  EXPECT_NE(exported.err.find("exporting "), std::string::npos) << exported.err;  // the checkpoint it read
  const RunResult predicted = run_trainer(with({}, {"--mode", "predict", "--output", (scratch / "drawn").string(),
                                                    kImage}),
                                          scratch);
  EXPECT_EQ(predicted.status, 0) << predicted.err;
  std::ofstream(scratch / "predict.txt") << predicted.out;
  return predicted.out;
}

TEST(Export, ClassifierGraphGivesPredictsProbabilities) {
  const auto scratch = scratch_dir("export-classifier");
  const auto config = scratch / "resnet.pbtxt";
  std::ofstream(config) << R"pb(
    model { classifier { num_classes: 10 image_size: 32 resnet { width: 8 blocks_per_stage: [1, 1, 1, 1] } } }
    train_input_reader { synthetic_input_reader { num_examples: 32 } }
    eval_input_reader { synthetic_input_reader { num_examples: 16 } }
    train_config {
      batch_size: 8
      num_steps: 3
      optimizer { momentum_optimizer { learning_rate { constant_learning_rate { learning_rate: 0.01 } } } }
    }
    eval_config { batch_size: 16 }
  )pb";
  train_export_predict(config.string(), {}, scratch);

  const config::TrainEvalPipelineConfig c = config::load_pipeline_config(config.string());
  tasks::ClassificationTask task(c, tasks::RunContext{});
  const auto transform = task.transform(tasks::Split::Eval);
  const Shape s = transform->sample_shape();
  Tensor x = Tensor::empty({1, s[0], s[1], s[2]}, DType::F32);
  Philox unused(0, 0);
  transform->apply(image_sample(), unused, DType::F32, x.raw());
  write_raw(x, scratch / "input.f32");
  load_checkpoint(task, c, scratch);
  Context ctx = tasks::RunContext{}.inference_context();
  write_raw(task.model().forward(ctx, x), scratch / "logits.f32");
  check_in_onnxruntime({"classification", (scratch / "model.onnx").string(), (scratch / "input.f32").string(),
                        (scratch / "predict.txt").string(), "logits=" + (scratch / "logits.f32").string()},
                       scratch);
  std::filesystem::remove_all(scratch);
}

// Both detectors of model.ssd: the anchors travel as a constant output, the box decode is the
// script's; every detection predict printed (min_score_threshold 0: all 100) must be found.
void check_detector(const std::string& config, const std::string& tag) {
  const auto scratch = scratch_dir("export-" + tag);
  const std::string few_steps = "train_config { batch_size: 2 num_steps: 2 } eval_config { min_score_threshold: 0.0 }";
  const std::string out = train_export_predict(config, {few_steps}, scratch);
  EXPECT_NE(out.find("000000289393.jpg: 640x480"), std::string::npos) << out;

  const config::TrainEvalPipelineConfig c = config::load_pipeline_config(source_path(config), {few_steps});
  const data::DetectionTransform transform(tasks::ssd_transform_options(c, false));
  const Shape s = transform.sample_shape();
  Tensor x = Tensor::empty({1, s[0], s[1], s[2]}, DType::F32);
  data::ImageAnnotations image;
  Philox unused(0, 0);
  transform.apply(image_sample(), unused, DType::F32, x.raw(), &image);
  write_raw(x, scratch / "input.f32");
  tasks::DetectionTask task(c, tasks::RunContext{});
  load_checkpoint(task, c, scratch);
  Context ctx = tasks::RunContext{}.inference_context();
  const models::SsdDetector::Output raw = task.model().forward(ctx, x);
  write_raw(raw.box_codes, scratch / "box_codes.f32");
  write_raw(raw.class_logits, scratch / "class_logits.f32");
  const auto& coder = c.model().ssd().box_coder().faster_rcnn_box_coder();
  check_in_onnxruntime({"detection", (scratch / "model.onnx").string(), (scratch / "input.f32").string(),
                        (scratch / "predict.txt").string(), std::to_string(image.original_width),
                        std::to_string(image.original_height), std::to_string(c.model().ssd().num_classes()),
                        std::to_string(image.true_height_fraction),
                        std::to_string(image.true_width_fraction), std::to_string(coder.y_scale()),
                        std::to_string(coder.x_scale()), std::to_string(coder.height_scale()),
                        std::to_string(coder.width_scale()), "box_codes=" + (scratch / "box_codes.f32").string(),
                        "class_logits=" + (scratch / "class_logits.f32").string()},
                       scratch);
  std::filesystem::remove_all(scratch);
}

TEST(Export, SsdGraphFindsPredictsDetections) { check_detector("tests/tasks/data/coco_overfit.pbtxt", "ssd"); }

TEST(Export, EfficientDetGraphFindsPredictsDetections) {
  check_detector("tests/tasks/data/efficientdet_overfit.pbtxt", "effdet");
}

TEST(Export, RefusesOtherFormatsAndSaysWhatIsMissing) {
  const auto scratch = scratch_dir("export-usage");
  RunResult format = run_trainer({"export", "--config", "configs/resnet50_v1_5.pbtxt", "--format", "tflite",
                                  "--output", (scratch / "m.tflite").string()},
                                 scratch);
  EXPECT_EQ(format.status, 1);
  EXPECT_NE(format.err.find("--format tflite: trainer export writes onnx only"), std::string::npos) << format.err;
  RunResult output = run_trainer({"export", "--config", "configs/resnet50_v1_5.pbtxt"}, scratch);
  EXPECT_EQ(output.status, 1);
  EXPECT_NE(output.err.find("trainer export needs --output MODEL.onnx"), std::string::npos) << output.err;
  RunResult no_checkpoint = run_trainer({"export", "--config", "configs/resnet50_v1_5.pbtxt", "--override",
                                         "runtime { model_dir: \"" + (scratch / "none").string() + "\" }",
                                         "--output", (scratch / "m.onnx").string()},
                                        scratch);
  EXPECT_EQ(no_checkpoint.status, 1);
  EXPECT_NE(no_checkpoint.err.find("no checkpoint in "), std::string::npos) << no_checkpoint.err;
  EXPECT_NE(no_checkpoint.err.find("(or export the initial weights with --untrained)"), std::string::npos)
      << no_checkpoint.err;
  std::filesystem::remove_all(scratch);
}

}  // namespace
}  // namespace trainer::testing
