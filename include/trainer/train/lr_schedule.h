// Learning-rate schedules as the TF Object Detection API defines them
// (object_detection/utils/learning_schedules.py, chosen by the config's `learning_rate` oneof),
// plus NVIDIA's ResNet variant of the cosine (from step 0 under a warm-up override).
// at(step) is the rate of the update made at 0-based `step`: TF evaluates the schedule at the
// global step before the optimizer increments it.
#pragma once

#include <cstdint>
#include <vector>

namespace trainer::train {

struct LearningRateSchedule {
  enum class Kind { Constant, CosineWithWarmup, ExponentialDecay, ManualStep } kind = Kind::Constant;
  // Constant: the rate. Cosine: learning_rate_base. Exponential: initial_learning_rate.
  double base = 0.1;

  // CosineWithWarmup (cosine_decay_with_warmup): linear from warmup_lr to base over
  // warmup_steps, base for hold_steps more, then 0.5 * base * (1 + cos(pi * progress)) to 0 at
  // total_steps, and 0 after. cosine_from_step_zero: NVIDIA's ResNet recipe, the cosine runs
  // over all total_steps from step 0 (tf.train.cosine_decay) and the warm-up replaces its start.
  double warmup_lr = 0.0;
  int64_t warmup_steps = 0;
  int64_t hold_steps = 0;
  int64_t total_steps = 1;
  bool cosine_from_step_zero = false;

  // ExponentialDecay (exponential_decay_with_burnin): burnin_lr (0 means base) for burnin_steps,
  // then base * decay_factor ^ ((step - burnin_steps) / decay_steps), the exponent floored when
  // staircase, never below min_lr.
  int64_t decay_steps = 1;
  double decay_factor = 1.0;
  bool staircase = true;
  double burnin_lr = 0.0;
  int64_t burnin_steps = 0;
  double min_lr = 0.0;

  // ManualStep (manual_stepping): rates[0] (= base) before boundaries[0], rates[i + 1] from
  // boundaries[i] on; with manual_warmup, linear from rates[0] to rates[1] over [0, boundaries[0]).
  std::vector<int64_t> boundaries;
  std::vector<double> rates;
  bool manual_warmup = false;

  double at(int64_t step) const;
};

}  // namespace trainer::train
