#include "trainer/core/layer_times.h"

#include <gtest/gtest.h>

#include <thread>

#include "trainer/core/error.h"

namespace trainer {
namespace {

using Kind = LayerTimes::Row::Kind;
using Clock = std::chrono::steady_clock;

void wait_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// A step as the trainer marks it: layers (one inside another), ops between layers, glue, the
// loss, backward closures and the optimizer. Every moment lands in one row, each row at least
// the time spent in it.
TEST(LayerTimes, EveryMomentOfTheStepLandsInOneRow) {
  LayerTimes t;
  const auto begun = Clock::now();
  t.start_step();
  wait_ms(1);  // input copy
  t.enter("conv");
  const int conv = t.recording("conv2d");
  wait_ms(3);
  t.exit("conv", "Conv2d");
  const int between = t.recording("add_relu");
  wait_ms(2);
  EXPECT_EQ(t.recording("max_pool2d"), between);
  EXPECT_EQ(t.recording("add_relu"), between);
  t.enter("block");
  wait_ms(1);
  t.enter("block.inner");
  EXPECT_EQ(t.recording("conv2d"), t.recording("conv2d"));
  wait_ms(4);
  t.exit("block.inner", "Conv2d");
  wait_ms(1);
  t.exit("block", "Block");
  wait_ms(2);  // glue without ops: the next layer's
  t.enter("fc");
  t.exit("fc", "Linear");
  const int loss = t.recording("cross_entropy");
  wait_ms(1);
  t.begin_backward();
  wait_ms(2);
  t.closure_done(loss);
  wait_ms(3);
  t.closure_done(conv);
  t.outside("optimizer");
  const double elapsed = std::chrono::duration<double>(Clock::now() - begun).count();

  ASSERT_EQ(t.steps(), 1);
  const std::vector<LayerTimes::Row>& rows = t.rows();
  ASSERT_EQ(rows.size(), 8u);
  const std::vector<std::tuple<Kind, std::string, std::string>> expected = {
      {Kind::Outside, "before the first layer (step start, input copy)", ""},
      {Kind::Layer, "conv", "Conv2d"},
      {Kind::Ops, "after conv", "add_relu, max_pool2d"},
      {Kind::Layer, "block", "Block"},
      {Kind::Layer, "block.inner", "Conv2d"},
      {Kind::Layer, "fc", "Linear"},
      {Kind::Ops, "after fc", "cross_entropy"},
      {Kind::Outside, "optimizer", ""}};
  double total = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].kind, std::get<0>(expected[i])) << i;
    EXPECT_EQ(rows[i].name, std::get<1>(expected[i])) << i;
    EXPECT_EQ(rows[i].type, std::get<2>(expected[i])) << i;
    total += rows[i].forward_seconds + rows[i].backward_seconds;
  }
  EXPECT_EQ(rows[1].calls, 1);
  EXPECT_EQ(rows[2].calls, 1) << "one stretch between layers";
  EXPECT_GE(rows[0].forward_seconds, 1e-3);
  EXPECT_GE(rows[1].forward_seconds, 3e-3);
  EXPECT_GE(rows[1].backward_seconds, 3e-3);
  EXPECT_GE(rows[2].forward_seconds, 2e-3);
  EXPECT_GE(rows[3].forward_seconds, 2e-3) << "its own time, before and after the inner layer";
  EXPECT_GE(rows[4].forward_seconds, 4e-3);
  EXPECT_GE(rows[5].forward_seconds, 2e-3) << "the glue before it";
  EXPECT_GE(rows[6].forward_seconds, 1e-3);
  EXPECT_GE(rows[6].backward_seconds, 2e-3);
  EXPECT_EQ(rows[0].backward_seconds + rows[2].backward_seconds + rows[3].backward_seconds, 0.0);
  EXPECT_LE(total, elapsed);
  EXPECT_GE(total, 0.020);  // the waits
}

// Rows are keyed by name: a layer applied again (a convolution shared across pyramid levels)
// and later steps add to the same rows.
TEST(LayerTimes, LayersAppliedAgainAndLaterStepsShareTheirRows) {
  LayerTimes t;
  for (int step = 0; step < 2; ++step) {
    t.start_step();
    for (int level = 0; level < 3; ++level) {
      t.enter("tower");
      t.exit("tower", "Conv2d");
      t.recording("reshape");
    }
    t.begin_backward();
    t.outside("optimizer");
  }
  EXPECT_EQ(t.steps(), 2);
  ASSERT_EQ(t.rows().size(), 4u);
  EXPECT_EQ(t.rows()[1].name, "tower");
  EXPECT_EQ(t.rows()[1].calls, 6);
  EXPECT_EQ(t.rows()[2].name, "after tower");
  EXPECT_EQ(t.rows()[2].calls, 6);
  t.clear();
  EXPECT_EQ(t.steps(), 0);
  EXPECT_TRUE(t.rows().empty());
}

TEST(LayerTimes, ALayerThatEndsWithoutBeginningIsAnError) {
  LayerTimes t;
  t.start_step();
  EXPECT_THROW(t.exit("conv", "Conv2d"), Error);
  t.enter("conv");
  EXPECT_THROW(t.exit("bn", "BatchNorm"), Error);
}

}  // namespace
}  // namespace trainer
