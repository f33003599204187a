#include "trainer/train/loss_scaler.h"

#include <algorithm>

#include "trainer/ops/tensor_math.h"

namespace trainer::train {

LossScaler::LossScaler(const LossScalerOptions& o)
    : options_(o), scale_(o.mode == LossScalerOptions::Mode::None ? 1.0 : o.initial_scale) {
  TRAINER_CHECK(scale_ > 0, "loss scale must be positive, got ", scale_);
}

bool LossScaler::unscale_and_check(Tensor& grads, double* squared_norm) {
  const math::UnscaleResult r =
      math::unscale_and_check_finite(grads, static_cast<float>(1.0 / scale_), squared_norm != nullptr);
  if (squared_norm) *squared_norm = r.squared_norm;
  const bool finite = r.all_finite;
  if (options_.mode != LossScalerOptions::Mode::Dynamic) {
    overflows_ += !finite;
    return finite;
  }
  if (!finite) {
    scale_ = std::max(options_.min_scale, scale_ * options_.backoff_factor);
    good_steps_ = 0;
    ++overflows_;
    return false;
  }
  if (++good_steps_ >= options_.growth_interval) {
    scale_ = std::min(options_.max_scale, scale_ * options_.growth_factor);
    good_steps_ = 0;
  }
  return true;
}

}  // namespace trainer::train
