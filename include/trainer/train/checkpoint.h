// Training checkpoints: safetensors files `ckpt-<step>.safetensors` in the model directory
// holding every parameter and buffer by name, the optimizer state, and the step's metadata
// (step, loader cursor, loss scale, the resolved config). Written atomically (a process killed
// mid-write leaves the previous checkpoints as they were) with a checksum of the data; the last N
// kept.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "trainer/nn/parameters.h"

namespace trainer::train {

struct TrainingState {
  int64_t step = 0;          // updates done
  int64_t loader_epoch = 0;  // the loader cursor of the next batch
  int64_t loader_batch = 0;
  double loss_scale = 1.0;
  int64_t loss_scale_good_steps = 0;
  int64_t loss_scale_overflows = 0;  // steps whose gradients overflowed
  int64_t skipped_steps = 0;         // batches whose update was skipped (overflow or non-finite loss)
};

// The flat f32 tensors the training loop keeps beside the weights; null: none.
struct TrainingTensors {
  Tensor* momentum = nullptr;        // "optimizer.momentum"
  Tensor* moving_average = nullptr;  // "optimizer.moving_average": the weights' EMA
};

class CheckpointManager {
 public:
  CheckpointManager(std::string directory, int keep_max);

  // Writes ckpt-<step>.safetensors and prunes all but the newest keep_max. Returns its path. A
  // write that fails (a full disk, a file-size limit) is an Error naming the step, the reason and
  // the newest checkpoint kept, and leaves no partial file; so does the temporary file of a
  // process killed mid-write, removed here.
  std::string save(const nn::ParameterStore& store, const TrainingTensors& training, const TrainingState& state,
                   const std::string& config_text, const std::string& architecture) const;
  // The newest complete checkpoint in the directory (temporary files are ignored).
  std::optional<std::string> latest() const;
  // Every complete checkpoint, newest first.
  std::vector<std::string> newest_first() const;

  const std::string& directory() const { return directory_; }

 private:
  std::string directory_;
  int keep_max_;
};

// Whether a safetensors file is one of ours (its metadata names the checkpoint format).
bool is_trainer_checkpoint(const std::map<std::string, std::string>& metadata);

// Loads a checkpoint into `store`, and the training tensors that are given: momentum that the
// checkpoint lacks is zeroed, a moving average it lacks starts from the loaded weights. Missing,
// unexpected or mis-shaped tensors are listed by name in one Error.
TrainingState load_checkpoint(const std::string& path, nn::ParameterStore& store, const TrainingTensors& training = {});

// Evaluation and prediction: the checkpoint's weights and statistics, read once; with
// `moving_average` (eval_config.use_moving_averages) its moving average of the weights replaces
// them (an Error when it was trained without one).
TrainingState load_inference_weights(const std::string& path, nn::ParameterStore& store, bool moving_average);

}  // namespace trainer::train
