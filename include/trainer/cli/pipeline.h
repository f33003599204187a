// From the command line and its config to what a mode runs: the resolved config, the run's
// settings and the task (which owns the model). The one place that reads the config's
// train_config and runtime sections; everything model- or data-specific is the task's.
#pragma once

#include <memory>
#include <string>

#include "trainer/cli/cli_args.h"
#include "trainer/config/config.h"
#include "trainer/dist/communicator.h"
#include "trainer/tasks/task.h"
#include "trainer/train/trainer.h"

namespace trainer::cli {

struct Pipeline {
  config::TrainEvalPipelineConfig config;
  std::string config_text;  // resolved, as printed and saved beside checkpoints
  tasks::RunContext run;
  // This process among the run's processes (one, or a rank under mpirun).
  std::shared_ptr<dist::Communicator> communicator;
  // runtime.conv_backend CUDNN in a real CUDA build: the cuDNN / cuBLASLt handles the run's
  // contexts point to (RunContext::libraries).
  std::shared_ptr<cuda::StreamContext> libraries;
  std::unique_ptr<tasks::Task> task;
};

// Loads (with overrides), validates, prints the resolved config, applies runtime settings
// (threads, the device) and creates the task for the config's model.
Pipeline load_pipeline(const CliArgs& args);

// The training loop's options: train_config's optimizer, schedule and clipping, precision's
// loss scaling, runtime's checkpointing and logging, and the task's own part (weight decay).
train::TrainerOptions trainer_options(const Pipeline& p);
// The schedule a `learning_rate` message describes (its oneof decides the kind).
train::LearningRateSchedule learning_rate_schedule(const config::LearningRate& lr);

// eval/predict: --checkpoint, else the newest in runtime.model_dir; an Error if neither.
std::string checkpoint_to_load(const Pipeline& p, const CliArgs& args);

}  // namespace trainer::cli
