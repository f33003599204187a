// Loss scaling for fp16 training: the loss is multiplied by `scale` before backward so small
// gradients survive in fp16; gradients are divided by it again before the update. Dynamic
// scaling multiplies the scale by backoff_factor (never below min_scale) and skips the step when
// a gradient overflowed, and multiplies it by growth_factor (never above max_scale) after
// `growth_interval` clean steps in a row — the scheme of PyTorch's GradScaler and TF's dynamic
// loss scale; the bounds are Apex's (1 and 2^24).
#pragma once

#include <cstdint>

#include "trainer/core/tensor.h"

namespace trainer::train {

struct LossScalerOptions {
  enum class Mode { None, Static, Dynamic } mode = Mode::None;
  double initial_scale = 32768.0;  // static: the scale
  int64_t growth_interval = 2000;
  double growth_factor = 2.0, backoff_factor = 0.5;
  double min_scale = 1.0, max_scale = 16777216.0;
};

class LossScaler {
 public:
  explicit LossScaler(const LossScalerOptions& options);

  double scale() const { return scale_; }
  // Divides the flat gradients by the scale and checks them. Returns false when a gradient is
  // inf/NaN: the caller skips the update (and with dynamic scaling the scale backs off).
  // With `squared_norm`, the same pass also yields the unscaled gradients' squared norm.
  bool unscale_and_check(Tensor& grads, double* squared_norm = nullptr);

  // For checkpoints.
  void restore(double scale, int64_t good_steps, int64_t overflows) {
    scale_ = scale, good_steps_ = good_steps, overflows_ = overflows;
  }
  int64_t good_steps() const { return good_steps_; }
  // Steps whose unscaled gradients were not finite, since the run began (checkpoints carry it).
  int64_t overflows() const { return overflows_; }

 private:
  LossScalerOptions options_;
  double scale_;
  int64_t good_steps_ = 0, overflows_ = 0;
};

}  // namespace trainer::train
