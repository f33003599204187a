// fine_tune_checkpoint against independent references: the names and shapes of torchvision's
// resnet50 state_dict (dumped by scripts/tasks/torchvision_resnet50_names.py from torchvision
// itself) must seed every tensor of NVIDIA's SSD320 backbone with the right element in the right
// place; a checkpoint of our own classifier seeds a detector's backbone; TensorFlow checkpoints
// and unrelated files are refused by name.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../scratch_dir.h"
#include "trainer/config/config.h"
#include "trainer/tasks/classification_task.h"
#include "trainer/tasks/detection_task.h"
#include "trainer/tasks/fine_tune.h"
#include "trainer/train/checkpoint.h"
#include "trainer/train/safetensors.h"

namespace trainer::tasks {
namespace {
namespace fs = std::filesystem;

std::string source(const std::string& path) {
  const char* dir = std::getenv("TRAINER_SOURCE_DIR");
  return std::string(dir ? dir : ".") + "/" + path;
}


// A value that identifies (entry, element): tells a transposed or misplaced copy apart.
float mark(int entry, int64_t element) { return static_cast<float>(entry) + 1e-4f * static_cast<float>(element % 9973); }

// torchvision's resnet50 state_dict layout with marked values, saved as safetensors.
std::string torchvision_file(const fs::path& dir, std::map<std::string, Tensor>& written) {
  std::ifstream in(source("tests/tasks/data/torchvision_resnet50_state_dict.txt"));
  std::string line;
  std::vector<train::NamedTensor> tensors;
  int entry = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name, dtype;
    fields >> name >> dtype;
    Shape shape;
    for (int64_t d; fields >> d;) shape.push_back(d);
    Tensor t;
    if (dtype == "int64") {
      t = Tensor::zeros(shape, DType::I64);
    } else {
      t = Tensor::empty(shape, DType::F32);
      for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = mark(entry, i);
    }
    tensors.push_back({name, t});
    written[name] = t;
    ++entry;
  }
  EXPECT_EQ(entry, 320);
  const std::string path = (dir / "resnet50_torchvision.safetensors").string();
  train::write_safetensors(path, tensors, {});
  return path;
}

const Tensor& param(nn::ParameterStore& store, const std::string& name) {
  for (const nn::Parameter& p : store.params())
    if (p.name == name) return p.value;
  for (const nn::Buffer& b : store.buffers())
    if (b.name == name) return b.value;
  throw Error("no tensor " + name);
}

TEST(FineTune, TorchvisionResnet50SeedsEveryTensorOfTheSsd320Backbone) {
  const test_support::ScratchDir scratch("finetune");
  std::map<std::string, Tensor> torch;
  config::TrainEvalPipelineConfig c = config::load_pipeline_config(source("configs/tfod/ssd320_full_8gpus.config"));
  c.mutable_train_config()->set_fine_tune_checkpoint(torchvision_file(fs::path(scratch.path()), torch));
  DetectionTask task(c, RunContext{});
  const std::vector<float> fpn_before = param(task.store(), "fpn.lateral3.weight").to_floats();
  const FineTuneReport r = fine_tune(task.store(), c.train_config());
  EXPECT_EQ(r.source, "torchvision ResNet state_dict");
  // 53 convolutions and 53 batchnorms of 4 tensors; fc.weight, fc.bias and 53 counters skipped.
  EXPECT_EQ(r.match.loaded.size(), 265u);
  EXPECT_TRUE(r.match.complete()) << r.match.problems();
  EXPECT_EQ(r.skipped.size(), 55u);
  // OIHW -> OHWI: torch's conv1.weight[o=5, i=2, y=3, x=1] is ours [5, 3, 1, 2].
  const Tensor& stem = param(task.store(), "backbone.conv1.conv.weight");
  ASSERT_EQ(stem.shape(), (Shape{64, 7, 7, 3}));
  const int64_t torch_index = ((5 * 3 + 2) * 7 + 3) * 7 + 1, ours_index = ((5 * 7 + 3) * 7 + 1) * 3 + 2;
  EXPECT_EQ(stem.data<float>()[ours_index], torch.at("conv1.weight").data<float>()[torch_index]);
  // Batchnorm fields and the shortcut's projection land under our names.
  EXPECT_EQ(param(task.store(), "backbone.layer2.0.shortcut.bn.running_var").to_floats(),
            torch.at("layer2.0.downsample.1.running_var").to_floats());
  EXPECT_EQ(param(task.store(), "backbone.layer4.2.conv3.bn.gamma").to_floats(),
            torch.at("layer4.2.bn3.weight").to_floats());
  // The detector's own layers keep their initial values.
  EXPECT_EQ(param(task.store(), "fpn.lateral3.weight").to_floats(), fpn_before);
}

TEST(FineTune, OurClassifierCheckpointSeedsTheDetectorBackbone) {
  const test_support::ScratchDir scratch("finetune");
  config::TrainEvalPipelineConfig cls;
  config::Classifier& m = *cls.mutable_model()->mutable_classifier();
  m.mutable_resnet()->set_width(8);
  for (int b : {1, 1, 1, 1}) m.mutable_resnet()->add_blocks_per_stage(b);
  m.set_num_classes(10);
  ClassificationTask classifier(cls, RunContext{.seed = 11});
  const std::string ckpt = train::CheckpointManager(scratch.path(), 1)
                               .save(classifier.store(), {}, train::TrainingState{}, "", "classifier");

  config::TrainEvalPipelineConfig det = config::load_pipeline_config(source("tests/tasks/data/coco_overfit.pbtxt"));
  config::SsdFeatureExtractor& fe = *det.mutable_model()->mutable_ssd()->mutable_feature_extractor();
  fe.mutable_resnet()->set_width(8);
  det.mutable_train_config()->set_fine_tune_checkpoint(ckpt);
  det.mutable_train_config()->set_fine_tune_checkpoint_type("classification");
  DetectionTask detector(det, RunContext{.seed = 12});
  const FineTuneReport r = fine_tune(detector.store(), det.train_config());
  EXPECT_EQ(r.source, "trainer checkpoint");
  EXPECT_TRUE(r.match.complete()) << r.match.problems();
  EXPECT_EQ(r.skipped, (std::vector<std::string>{"fc.bias", "fc.weight"}));
  EXPECT_EQ(param(detector.store(), "backbone.layer3.0.conv2.conv.weight").to_floats(),
            param(classifier.store(), "backbone.layer3.0.conv2.conv.weight").to_floats());
}

TEST(FineTune, TensorflowCheckpointsAndUnrelatedFilesAreRefusedByName) {
  const test_support::ScratchDir scratch("finetune");
  config::TrainConfig tc;
  const std::string tf = scratch / "model.ckpt";
  std::ofstream(tf + ".index") << "x";
  tc.set_fine_tune_checkpoint(tf);
  nn::ParameterStore store;
  store.add("backbone.w", {2}, nn::ParamRole::Weight, nn::Init::zeros());
  store.finalize(0);
  try {
    fine_tune(store, tc);
    FAIL() << "a TF checkpoint was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is a TensorFlow checkpoint"), std::string::npos) << e.what();
  }
  const std::string other = scratch / "other.safetensors";
  train::write_safetensors(other, {{"encoder.layer.0.weight", Tensor::zeros({2}, DType::F32)}}, {});
  tc.set_fine_tune_checkpoint(other);
  try {
    fine_tune(store, tc);
    FAIL() << "an unrelated file was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("neither a trainer checkpoint nor a torchvision ResNet state_dict (its "
                                         "tensors: encoder.layer.0.weight"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace trainer::tasks
