// The training loop (src/train/README.md): batch -> forward on the tape -> loss x scale ->
// backward into the flat gradient buffer -> unscale + finite check -> clip -> fused optimizer
// update -> metrics -> atomic checkpoint. The model-specific part (forward and loss) is a
// TrainTask; where batches come from is a BatchSource, so this layer needs neither models nor
// data.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "trainer/core/metrics_log.h"
#include "trainer/dist/communicator.h"
#include "trainer/nn/parameters.h"
#include "trainer/ops/context.h"
#include "trainer/train/checkpoint.h"
#include "trainer/train/gradient_reducer.h"
#include "trainer/train/loss_scaler.h"
#include "trainer/train/lr_schedule.h"
#include "trainer/train/moving_average.h"
#include "trainer/train/optimizer.h"

namespace trainer::train {

// One batch, as the task that made it knows it (images and labels, or images and boxes). The
// training loop counts its images, and starts its copy to the run's device a step ahead.
class TrainBatch {
 public:
  virtual ~TrainBatch() = default;
  virtual int64_t size() const = 0;  // images
  // Starts copying what the task's loss() reads to `device` (without waiting for the copy);
  // run() calls it while the step before this batch's computes. Nothing to copy by default.
  virtual void prefetch(Device /*device*/) {}
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual std::unique_ptr<TrainBatch> next() = 0;
  // Where next() continues: saved in checkpoints.
  virtual std::pair<int64_t, int64_t> cursor() const = 0;
};

class TrainTask {
 public:
  virtual ~TrainTask() = default;
  virtual nn::ParameterStore& store() = 0;
  virtual std::string architecture() const = 0;
  // The scalar F32 loss of one batch (of the task's own batch type); `step` seeds any per-step
  // randomness (mixup).
  virtual Tensor loss(Context& ctx, const TrainBatch& batch, int64_t step) = 0;
  // When the loss is a sum of named terms (detection: classification + localization): their
  // names, and their values in the last loss() call as scalar F32 tensors on the loss's device,
  // in that order (the loop sums them there and reads them at log steps only: no extra
  // synchronisation per step). Logged beside the loss (`loss.<name>`) and drawn in loss.png.
  // None by default.
  virtual std::vector<std::string> loss_term_names() const { return {}; }
  virtual std::vector<Tensor> last_loss_terms() const { return {}; }
};

struct TrainerOptions {
  int64_t num_steps = 0;        // total updates (0 = until stopped)
  ExecutionSettings execution;  // device, precision policy, kernel choices of every step
  // Data parallelism (null: one process): gradients are averaged over the ranks during every
  // backward pass (gradient_reducer.h), rank 0's weights are everyone's at the start, and rank 0
  // alone writes checkpoints and logs.
  dist::Communicator* communicator = nullptr;
  int64_t allreduce_bucket_bytes = 25 << 20;  // <= 0: one bucket, reduced after backward
  LearningRateSchedule schedule;
  MomentumSgdOptions optimizer;
  LossScalerOptions loss_scaling;
  double clip_gradient_norm = 0;  // 0 = off
  // Each parameter's gradient clipped to this norm first (0 = off); clip_gradient_norm then
  // applies to the clipped gradients' global norm.
  double clip_gradient_norm_per_tensor = 0;
  double moving_average_decay = 0;  // > 0: keep the weights' EMA (moving_average.h); 0 = off
  int64_t log_every = 10;
  std::string model_dir;          // "" = no checkpoints
  int64_t checkpoint_every = 0;   // 0 = only at the end
  int keep_checkpoints = 5;
  std::string config_text;        // saved in every checkpoint
  int max_consecutive_bad_steps = 5;  // non-finite losses in a row before the run stops
  // runtime.check_numerics: every op's output and gradient is checked, and the first that is
  // not finite stops the run, named with its layer (ops/numerics_check.h).
  bool check_numerics = false;
  // Polled after every step: true ends run() early, with a checkpoint (e.g. on SIGTERM).
  std::function<bool()> should_stop;
  // Called (by the rank that writes them) after each checkpoint run() writes, the last included:
  // cli redraws model_dir/loss.png from the loss history there.
  std::function<void()> after_checkpoint;
};

struct StepResult {
  double loss = 0, lr = 0, loss_scale = 1, grad_norm = 0;
  bool applied = true;  // false: skipped (non-finite gradients or loss); step_ did not advance
  int64_t skipped_steps = 0, overflows = 0;  // totals since the run began
};

class Trainer {
 public:
  Trainer(TrainTask& task, const TrainerOptions& options, MetricsLog& log);

  // Continues from the newest checkpoint in model_dir, if any. Returns the state loaded.
  std::optional<TrainingState> resume();
  // Trains until num_steps, checkpointing on the way and at the end.
  void run(BatchSource& source);
  // One update; exposed for benchmarks and tests. `once_loss_queued`, when given, runs after
  // the task's loss() has queued the forward pass and before the host reads the loss back:
  // run() takes the next batch there and starts its copy, so both overlap this step's compute.
  StepResult step(const TrainBatch& batch, const std::function<void()>& once_loss_queued = {});
  // Per-layer timing of the steps from now on (null: none); the caller starts each step in
  // `times` (LayerTimes::start_step) and the step marks its layers and phases there.
  void time_layers(LayerTimes* times) { options_.execution.layer_times = times; }

  int64_t steps_done() const { return step_; }
  std::pair<int64_t, int64_t> resume_cursor() const { return resume_cursor_; }
  // A checkpoint with the loader cursor where `source` is now.
  std::optional<std::string> save(const BatchSource& source);
  // The weights' moving average (null when moving_average_decay is 0).
  MovingAverage* moving_average() { return moving_average_ ? &*moving_average_ : nullptr; }
  // The gradient buckets (null in one process).
  const GradientReducer* gradient_reducer() const { return reducer_.get(); }

  // The CPU memory one forward and backward of `batch` takes on top of what is held now (the
  // allocator's high-water mark), for the start-up estimate; changes nothing the run keeps
  // (batchnorm's running statistics are put back; the gradients are overwritten by the next
  // step). 0 on other devices.
  size_t step_memory(const TrainBatch& batch);

 private:
  // Clips each parameter's gradient to clip_gradient_norm_per_tensor; returns the squared norm
  // of all the gradients after it.
  double clip_per_tensor(nn::ParameterStore& store) const;
  // Forward and backward of `batch` on a fresh tape, gradients into the store; with `check`, it
  // sees every output and gradient. With `reduce`, gradients are averaged over the ranks as
  // backward goes. Returns the loss.
  double forward_backward(const TrainBatch& batch, NumericsCheck* check, bool reduce,
                          const std::function<void()>& once_loss_queued = {});
  // A checkpoint whose loader cursor is `cursor`: in run(), the position after the batch last
  // trained, which the source has passed when the next batch is already prefetched.
  std::optional<std::string> save_at(std::pair<int64_t, int64_t> cursor);
  // Where a non-finite step went wrong: the batch again, checked (a bad step changes nothing, so
  // the rerun sees what the step saw); says which op and layer came out non-finite first.
  std::string diagnose(const TrainBatch& batch);
  TrainTask& task_;
  TrainerOptions options_;
  MetricsLog& log_;
  MomentumSgd optimizer_;
  std::optional<MovingAverage> moving_average_;
  LossScaler scaler_;
  std::unique_ptr<CheckpointManager> checkpoints_;
  std::unique_ptr<GradientReducer> reducer_;  // when distributed
  int64_t step_ = 0;
  std::pair<int64_t, int64_t> resume_cursor_{0, 0};
  int bad_in_a_row_ = 0;
  std::string first_bad_;  // the diagnosis of the first of the bad steps in a row
  int64_t skipped_steps_ = 0;

  bool distributed() const { return options_.communicator && options_.communicator->world_size() > 1; }

  TrainingTensors training_tensors() {
    return {&optimizer_.accumulators(), moving_average_ ? &moving_average_->values() : nullptr};
  }
};

}  // namespace trainer::train
