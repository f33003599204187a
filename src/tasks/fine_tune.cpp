#include "trainer/tasks/fine_tune.h"

#include <filesystem>

#include "trainer/core/log.h"
#include "trainer/models/backbones/torchvision_resnet.h"
#include "trainer/train/checkpoint.h"
#include "trainer/train/safetensors.h"

namespace trainer::tasks {
namespace fs = std::filesystem;

FineTuneReport fine_tune(nn::ParameterStore& store, const config::TrainConfig& tc) {
  FineTuneReport report;
  const std::string& path = tc.fine_tune_checkpoint();
  if (path.empty()) return report;
  // TF's own format: model.ckpt{.index,.data-*} (TF1) or ckpt-N (TF2).
  TRAINER_CHECK(!fs::exists(path + ".index") && !path.ends_with(".index"), "train_config.fine_tune_checkpoint ",
                path, " is a TensorFlow checkpoint, which trainer cannot read; give a trainer checkpoint or a "
                "torchvision ResNet state_dict saved as safetensors (safetensors.torch.save_file)");
  TRAINER_CHECK(fs::exists(path), "train_config.fine_tune_checkpoint: no file ", path);
  const train::SafetensorsFile file = train::read_safetensors(path);
  // "" is TF1's default, which means classification (from_detection_checkpoint: false).
  const bool backbone_only = tc.fine_tune_checkpoint_type() != "detection";
  const std::string prefix = backbone_only ? "backbone." : "";
  std::map<std::string, Tensor> tensors;
  if (train::is_trainer_checkpoint(file.metadata)) {
    report.source = "trainer checkpoint";
    for (const auto& [name, t] : file.tensors) {
      if (name.starts_with(prefix) && !name.starts_with("optimizer."))
        tensors.emplace(name, t);
      else
        report.skipped.push_back(name);
    }
  } else if (models::is_torchvision_resnet(file.tensors)) {
    report.source = "torchvision ResNet state_dict";
    tensors = models::from_torchvision_resnet(file.tensors, "backbone.", &report.skipped);
  } else {
    std::string names;
    int shown = 0;
    for (const auto& [name, t] : file.tensors) {
      if (shown++ == 5) break;
      names += (names.empty() ? "" : ", ") + name;
    }
    fail("train_config.fine_tune_checkpoint ", path, " is neither a trainer checkpoint nor a torchvision ResNet "
         "state_dict (its tensors: ", names, ", ...)");
  }
  report.match = train::match_weights(store, tensors, prefix);
  TRAINER_CHECK(!report.match.loaded.empty(), "train_config.fine_tune_checkpoint ", path, " (", report.source,
                ") has no tensor this model can use:", report.match.problems());
  train::copy_matched(store, tensors, report.match);
  log_info("fine-tune: ", path, " (", report.source, ", ", backbone_only ? "backbone" : "whole model", "): ",
           report.match.loaded.size(), " tensors loaded, ", report.match.missing.size(), " missing, ",
           report.match.unexpected.size(), " unexpected, ", report.match.mis_shaped.size(), " mis-shaped, ",
           report.skipped.size(), " skipped");
  if (!report.match.complete()) log_warn("fine-tune: not loaded (kept at their initial values):", report.match.problems());
  if (!report.skipped.empty()) {
    std::string names;
    for (size_t i = 0; i < report.skipped.size() && i < 8; ++i) names += (i ? ", " : "") + report.skipped[i];
    log_info("fine-tune: skipped (not for this part of the model): ", names,
             report.skipped.size() > 8 ? str(", ... (", report.skipped.size() - 8, " more)") : std::string());
  }
  return report;
}

}  // namespace trainer::tasks
