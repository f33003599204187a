#include "trainer/train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "trainer/core/error.h"

namespace trainer::train {
namespace {

double cosine(const LearningRateSchedule& s, int64_t step) {
  if (step > s.total_steps) return 0.0;
  if (step < s.warmup_steps)
    return s.warmup_lr + (s.base - s.warmup_lr) * static_cast<double>(step) / static_cast<double>(s.warmup_steps);
  if (s.cosine_from_step_zero)  // tf.train.cosine_decay(base, step, total_steps)
    return 0.5 * s.base * (1.0 + std::cos(std::numbers::pi * static_cast<double>(step) / s.total_steps));
  const int64_t flat = s.warmup_steps + s.hold_steps;
  if (s.hold_steps > 0 && step <= flat) return s.base;
  if (s.total_steps == flat) return 0.0;  // no decay phase: the API divides by zero here
  const double progress = static_cast<double>(step - flat) / static_cast<double>(s.total_steps - flat);
  return 0.5 * s.base * (1.0 + std::cos(std::numbers::pi * progress));
}

double exponential(const LearningRateSchedule& s, int64_t step) {
  if (step < s.burnin_steps) return std::max(s.burnin_lr == 0.0 ? s.base : s.burnin_lr, s.min_lr);
  double exponent = static_cast<double>(step - s.burnin_steps) / static_cast<double>(s.decay_steps);
  if (s.staircase) exponent = std::floor(exponent);
  return std::max(s.base * std::pow(s.decay_factor, exponent), s.min_lr);
}

double manual(const LearningRateSchedule& s, int64_t step) {
  const auto& b = s.boundaries;
  if (s.manual_warmup && !b.empty() && step < b[0])
    return s.rates[0] + (s.rates[1] - s.rates[0]) * static_cast<double>(step) / static_cast<double>(b[0]);
  // The rate of the last boundary reached.
  const size_t passed = std::upper_bound(b.begin(), b.end(), step) - b.begin();
  return s.rates[passed];
}

}  // namespace

double LearningRateSchedule::at(int64_t step) const {
  switch (kind) {
    case Kind::Constant: return base;
    case Kind::CosineWithWarmup: return cosine(*this, step);
    case Kind::ExponentialDecay: return exponential(*this, step);
    case Kind::ManualStep:
      TRAINER_CHECK(rates.size() == boundaries.size() + 1, "manual_step_learning_rate: ", rates.size(),
                    " rates for ", boundaries.size(), " boundaries");
      return manual(*this, step);
  }
  return base;
}

}  // namespace trainer::train
