// train_config.fine_tune_checkpoint: seeds a fresh run with weights from another run, as the TF
// Object Detection API does (fine_tune_checkpoint_type "classification": the backbone only, from
// an image classifier; "detection": every tensor that fits, from a detector). Reads this
// project's checkpoints and torchvision ResNet state_dicts saved as safetensors
// (models/backbones/torchvision_resnet.h), and says what it loaded, missed, skipped and could not
// use, by name. TensorFlow checkpoints (.ckpt) cannot be read and are refused with the reason.
#pragma once

#include "trainer/config/config.h"
#include "trainer/nn/parameters.h"
#include "trainer/train/weight_match.h"

namespace trainer::tasks {

struct FineTuneReport {
  std::string source;  // "trainer checkpoint", "torchvision ResNet state_dict"
  train::WeightMatch match;
  std::vector<std::string> skipped;  // file tensors that were not for this model part
};

// Imports the weights the train config names into `store` (nothing if it names none) and
// prints the report on stderr. An Error when the file cannot be read, is of an unknown kind or
// fits nothing.
FineTuneReport fine_tune(nn::ParameterStore& store, const config::TrainConfig& train_config);

}  // namespace trainer::tasks
