// The loss scaler against the rules of PyTorch's GradScaler and TF's dynamic loss scale, played
// out by hand: after `growth_interval` finite steps in a row the scale grows by growth_factor
// (capped at max_scale) and the count restarts; a non-finite step is skipped, backs the scale off
// by backoff_factor (floored at min_scale) and restarts the count.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <span>

#include "trainer/train/loss_scaler.h"

namespace trainer::train {
namespace {

// One gradient buffer, finite or not; scaled by `scale` as a backward pass would leave it.
Tensor grads(bool finite, double scale) {
  Tensor g = Tensor::from_floats({3}, {1.f, -2.f, 0.5f});
  for (float& v : std::span(g.data<float>(), 3)) v = static_cast<float>(v * scale);
  if (!finite) g.data<float>()[1] = std::numeric_limits<float>::infinity();
  return g;
}

LossScalerOptions dynamic(double initial, int64_t interval) {
  LossScalerOptions o;
  o.mode = LossScalerOptions::Mode::Dynamic;
  o.initial_scale = initial;
  o.growth_interval = interval;
  return o;
}

TEST(LossScaler, DynamicScaleFollowsGrowthAndBackoffStepByStep) {
  LossScalerOptions o = dynamic(8, 3);
  o.max_scale = 64;
  LossScaler scaler(o);
  // (gradients finite?, scale after the step, step applied?)
  const struct {
    bool finite;
    double scale_after;
  } steps[] = {
      {true, 8},  {true, 8},   {true, 16},                       // third clean step: x2
      {true, 16}, {true, 16},  {false, 8},                       // overflow: x0.5, count restarts
      {true, 8},  {true, 8},   {true, 16},                       // three more clean steps
      {true, 16}, {true, 16},  {true, 32}, {true, 32}, {true, 32}, {true, 64},
      {true, 64}, {true, 64},  {true, 64},                       // capped at max_scale
      {false, 32}, {false, 16}, {true, 16}, {false, 8},          // every overflow backs off
  };
  int index = 0;
  int64_t skipped = 0;
  for (const auto& s : steps) {
    Tensor g = grads(s.finite, scaler.scale());
    const bool applied = scaler.unscale_and_check(g);
    EXPECT_EQ(applied, s.finite) << "step " << index;
    EXPECT_EQ(scaler.scale(), s.scale_after) << "step " << index;
    skipped += !s.finite;
    EXPECT_EQ(scaler.overflows(), skipped) << "step " << index;
    ++index;
  }
}

// NVIDIA's AMP defaults (2^15, x2 after 2000 finite steps): the scale grows on the 2000th clean
// step, not the 1999th, and an overflow at step 1000 of the next run restarts the count.
TEST(LossScaler, DefaultsGrowAfter2000FiniteSteps) {
  const LossScalerOptions defaults;
  EXPECT_EQ(defaults.initial_scale, 32768);
  EXPECT_EQ(defaults.growth_interval, 2000);
  LossScalerOptions o = dynamic(32768, 2000);
  LossScaler scaler(o);
  for (int step = 1; step <= 1999; ++step) {
    Tensor g = grads(true, scaler.scale());
    ASSERT_TRUE(scaler.unscale_and_check(g));
  }
  EXPECT_EQ(scaler.scale(), 32768);
  Tensor g = grads(true, scaler.scale());
  scaler.unscale_and_check(g);
  EXPECT_EQ(scaler.scale(), 65536);
  EXPECT_EQ(scaler.good_steps(), 0);
  for (int step = 1; step <= 1000; ++step) {
    Tensor h = grads(step != 1000, scaler.scale());
    scaler.unscale_and_check(h);
  }
  EXPECT_EQ(scaler.scale(), 32768);
  EXPECT_EQ(scaler.good_steps(), 0);
  EXPECT_EQ(scaler.overflows(), 1);
}

TEST(LossScaler, BackoffNeverGoesBelowMinScaleAndFactorsComeFromOptions) {
  LossScalerOptions o = dynamic(4, 2);
  o.backoff_factor = 0.25;
  o.growth_factor = 3;
  o.min_scale = 0.5;
  LossScaler scaler(o);
  const bool finite[] = {false, false, false, true, true, true, true};
  const double after[] = {1, 0.5, 0.5, 0.5, 1.5, 1.5, 4.5};
  for (int i = 0; i < 7; ++i) {
    Tensor g = grads(finite[i], scaler.scale());
    scaler.unscale_and_check(g);
    EXPECT_EQ(scaler.scale(), after[i]) << "step " << i;
  }
}

TEST(LossScaler, UnscalingDividesEveryGradientByTheScale) {
  LossScaler scaler(dynamic(1024, 2000));
  Tensor g = grads(true, 1024);
  ASSERT_TRUE(scaler.unscale_and_check(g));
  const std::vector<float> v = g.to_floats();
  EXPECT_EQ(v, (std::vector<float>{1.f, -2.f, 0.5f}));
}

TEST(LossScaler, NanIsAnOverflowToo) {
  LossScaler scaler(dynamic(2, 2000));
  Tensor g = grads(true, 2);
  g.data<float>()[0] = std::nanf("");
  EXPECT_FALSE(scaler.unscale_and_check(g));
  EXPECT_EQ(scaler.scale(), 1);
}

TEST(LossScaler, StaticScaleNeverChangesButStillReportsOverflow) {
  LossScalerOptions o;
  o.mode = LossScalerOptions::Mode::Static;
  o.initial_scale = 128;
  LossScaler scaler(o);
  for (int i = 0; i < 5; ++i) {
    Tensor g = grads(i != 2, 128);
    EXPECT_EQ(scaler.unscale_and_check(g), i != 2);
    EXPECT_EQ(scaler.scale(), 128);
  }
  EXPECT_EQ(scaler.overflows(), 1);
}

TEST(LossScaler, NoScalingMeansScaleOne) {
  LossScaler scaler(LossScalerOptions{});
  EXPECT_EQ(scaler.scale(), 1);
  Tensor g = grads(true, 1);
  EXPECT_TRUE(scaler.unscale_and_check(g));
  EXPECT_EQ(g.to_floats(), (std::vector<float>{1.f, -2.f, 0.5f}));
}

TEST(LossScaler, RestoreContinuesTheCountWhereItStopped) {
  LossScaler scaler(dynamic(8, 3));
  scaler.restore(16, 2, 0);  // two clean steps already counted
  Tensor g = grads(true, 16);
  scaler.unscale_and_check(g);
  EXPECT_EQ(scaler.scale(), 32);
  EXPECT_EQ(scaler.good_steps(), 0);
}

}  // namespace
}  // namespace trainer::train
