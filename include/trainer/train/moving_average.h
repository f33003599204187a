// The exponential moving average of the weights (the TF OD API's `use_moving_average`,
// automl's and NVIDIA's EfficientDet EMA): TF's ExponentialMovingAverage with num_updates = the
// global step, so early averages are not dominated by the random initialisation:
//   decay_t = min(decay, (1 + t) / (10 + t)) for the t-th update,
//   average = decay_t * average + (1 - decay_t) * weights,
// one pass over the flat f32 parameter buffer. It starts as a copy of the weights (TF
// initialises its shadow variables with the variables' values) unless a checkpoint gives it.
// Batchnorm's running statistics are not averaged (TF averages trainable variables only).
#pragma once

#include "trainer/nn/parameters.h"

namespace trainer::train {

class MovingAverage {
 public:
  MovingAverage(nn::ParameterStore& store, double decay);

  // After the optimizer's update number `update` (1 for the first).
  void update(int64_t update);
  // The decay used at update `update`.
  double decay_at(int64_t update) const;
  // [store.count()] f32 on the parameters' device: saved in checkpoints, loaded on resume.
  Tensor& values();

 private:
  nn::ParameterStore& store_;
  double decay_;
  Tensor average_;
};

}  // namespace trainer::train
