// Learning-rate schedules against independent references: the expected values the TF Object
// Detection API's own tests publish for its schedules (object_detection/utils/
// learning_schedules_test.py), and values computed from the published formulas for the
// configs this project ships (NVIDIA's SSD320 and ResNet-50 recipes) at chosen steps, the last
// step and past it included.
#include <gtest/gtest.h>

#include "trainer/train/lr_schedule.h"

namespace trainer::train {
namespace {

using Kind = LearningRateSchedule::Kind;

void expect_rates(const LearningRateSchedule& s, const std::vector<std::pair<int64_t, double>>& expected,
                  double tolerance = 1e-6) {
  for (const auto& [step, rate] : expected)
    EXPECT_NEAR(s.at(step), rate, tolerance + 1e-6 * rate) << "step " << step;
}

LearningRateSchedule cosine(double base, int64_t total, double warmup_lr, int64_t warmup, int64_t hold = 0) {
  LearningRateSchedule s;
  s.kind = Kind::CosineWithWarmup;
  s.base = base, s.total_steps = total, s.warmup_lr = warmup_lr, s.warmup_steps = warmup, s.hold_steps = hold;
  return s;
}

// learning_schedules_test.py: testCosineDecayWithWarmup and testCosineDecayAfterTotalSteps.
TEST(LearningRateSchedule, TfOdApiCosineDecayWithWarmup) {
  expect_rates(cosine(1.0, 100, 0.1, 9), {{0, 0.1}, {4, 0.5}, {8, 0.9}, {9, 1.0}, {100, 0.0}, {101, 0.0}});
}

// testCosineDecayWithHoldBaseLearningRateSteps (the API rounds its expectations to 6 digits).
TEST(LearningRateSchedule, TfOdApiCosineDecayWithHold) {
  expect_rates(cosine(1.0, 120, 0.1, 9, 20),
               {{0, 0.1}, {4, 0.5}, {8, 0.9}, {9, 1.0}, {10, 1.0}, {29, 1.0}, {30, 0.999702}, {50, 0.874255},
                {70, 0.577365}, {120, 0.0}},
               1e-6);
}

// testExponentialDecayWithBurnin.
TEST(LearningRateSchedule, TfOdApiExponentialDecayWithBurnin) {
  LearningRateSchedule s;
  s.kind = Kind::ExponentialDecay;
  s.base = 1.0, s.decay_steps = 3, s.decay_factor = 0.1, s.burnin_lr = 0.5, s.burnin_steps = 2, s.min_lr = 0.05;
  expect_rates(s, {{0, .5}, {1, .5}, {2, 1}, {3, 1}, {4, 1}, {5, .1}, {6, .1}, {7, .1}, {8, .05}});
  // Burn-in rate 0 means the base rate; without staircase the exponent is fractional.
  s.burnin_lr = 0, s.min_lr = 0, s.staircase = false;
  expect_rates(s, {{0, 1.0}, {1, 1.0}, {2, 1.0}, {3, 0.46415888336127786}, {5, 0.1}, {8, 0.01}});
}

// testManualStepping and testManualSteppingWithWarmup.
TEST(LearningRateSchedule, TfOdApiManualStepping) {
  LearningRateSchedule s;
  s.kind = Kind::ManualStep;
  s.boundaries = {2, 3, 7};
  s.rates = {1.0, 2.0, 3.0, 4.0};
  expect_rates(s, {{0, 1}, {1, 1}, {2, 2}, {3, 3}, {4, 3}, {5, 3}, {6, 3}, {7, 4}, {8, 4}, {9, 4}});
  s.boundaries = {4, 6, 8};
  s.rates = {0.02, 0.10, 0.01, 0.001};
  s.manual_warmup = true;
  expect_rates(s, {{0, 0.02}, {1, 0.04}, {2, 0.06}, {3, 0.08}, {4, 0.10}, {5, 0.10}, {6, 0.01}, {7, 0.01},
                   {8, 0.001}});
}

// configs/tfod/ssd320_full_8gpus.config: base 0.16, warm-up from 0.0693312 over 1000 steps,
// 12500 steps: lr = w + (b - w) * s / 1000, then 0.08 * (1 + cos(pi * (s - 1000) / 11500)).
TEST(LearningRateSchedule, NvidiaSsd320EightGpuSchedule) {
  expect_rates(cosine(0.16, 12500, 0.0693312, 1000),
               {{0, 0.0693312}, {1, 0.0694218688}, {500, 0.1146656}, {999, 0.1599093312}, {1000, 0.16},
                {1001, 0.15999999701486448}, {6750, 0.08}, {12499, 2.985135525435112e-09}, {12500, 0.0},
                {12501, 0.0}},
               1e-12);
}

// NVIDIA's ResNet-50: linear warm-up from 0, and tf.train.cosine_decay over all steps from step
// 0 (not from the end of the warm-up): 0.128 * (1 + cos(pi * s / 1000)).
TEST(LearningRateSchedule, NvidiaResnetCosineFromStepZero) {
  LearningRateSchedule s = cosine(0.256, 1000, 0.0, 80);
  s.cosine_from_step_zero = true;
  expect_rates(s, {{0, 0.0}, {40, 0.128}, {79, 0.2528}, {80, 0.2519786446244648}, {500, 0.128},
                   {999, 6.316541621487204e-07}, {1000, 0.0}, {1001, 0.0}},
               1e-12);
}

TEST(LearningRateSchedule, ConstantIsConstant) {
  LearningRateSchedule s;
  s.base = 0.3;
  expect_rates(s, {{0, 0.3}, {1, 0.3}, {1000000, 0.3}});
}

}  // namespace
}  // namespace trainer::train
