#include "trainer/train/moving_average.h"

#include <algorithm>

#include "trainer/ops/tensor_math.h"

namespace trainer::train {

MovingAverage::MovingAverage(nn::ParameterStore& store, double decay) : store_(store), decay_(decay) {
  TRAINER_CHECK(decay > 0 && decay < 1, "moving average: decay ", decay, " is not in (0, 1)");
}

double MovingAverage::decay_at(int64_t update) const {
  return std::min(decay_, (1.0 + static_cast<double>(update)) / (10.0 + static_cast<double>(update)));
}

Tensor& MovingAverage::values() {
  // Made on first use, from the weights as they are then (initialised, fine-tuned or resumed),
  // and kept on the parameters' device (models are built on the CPU and moved).
  if (!average_.defined()) average_ = store_.values().clone();
  else if (average_.device() != store_.device()) average_ = average_.to(store_.device());
  return average_;
}

void MovingAverage::update(int64_t update) {
  math::ema_update_(values(), store_.values(), static_cast<float>(decay_at(update)));
}

}  // namespace trainer::train
