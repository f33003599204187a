// From a pipeline config to the objects a mode runs: the model, the datasets and transforms,
// the loader and trainer options. The one place that reads config messages for classifiers.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "trainer/cli/cli_args.h"
#include "trainer/config/config.h"
#include "trainer/data/dataset.h"
#include "trainer/data/loader.h"
#include "trainer/data/transform.h"
#include "trainer/models/classifier.h"
#include "trainer/train/trainer.h"

namespace trainer::cli {

struct Pipeline {
  config::TrainEvalPipelineConfig config;
  std::string config_text;  // resolved, as printed and saved beside checkpoints
  std::unique_ptr<models::Classifier> model;
  DType compute_dtype = DType::F32;
  uint64_t seed = 0;
};

// Loads (with overrides), validates, prints the resolved config, applies runtime settings
// (threads) and builds the model.
Pipeline load_pipeline(const CliArgs& args);

enum class Split { Train, Eval };
std::shared_ptr<data::Dataset> build_dataset(const Pipeline& p, Split split);
std::shared_ptr<data::ImageTransform> build_transform(const Pipeline& p, Split split);
data::LoaderOptions loader_options(const Pipeline& p, Split split);
train::TrainerOptions trainer_options(const Pipeline& p);
// The schedule a `learning_rate` message describes (its oneof decides the kind).
train::LearningRateSchedule learning_rate_schedule(const config::LearningRate& lr);

// eval/predict: --checkpoint, else the newest in runtime.model_dir; an Error if neither.
std::string checkpoint_to_load(const Pipeline& p, const CliArgs& args);

}  // namespace trainer::cli
