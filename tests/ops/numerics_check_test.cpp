// runtime.check_numerics on the tape: the first op whose output or gradient is not finite, named
// with the layer that reported after it.
#include "trainer/ops/numerics_check.h"

#include <gtest/gtest.h>

#include <limits>

#include "trainer/nn/module.h"
#include "trainer/ops/elementwise.h"
#include "trainer/ops/reduce.h"

namespace trainer {
namespace {

// A layer that only reports: the ops run before it belong to it.
struct NamedLayer : nn::Module {
  using nn::Module::Module;
  void done(Context& ctx, const Tensor& y) const { report(ctx, "Test", OpClass::Elementwise, y, 0, 0); }
};

struct Graph {
  Tape tape;
  NumericsCheck check;
  Context ctx{&tape, true};
  Tensor w = Tensor::from_floats({3}, {1, 2, 3}), gw = Tensor::zeros({3}, DType::F32);
  Graph() {
    check.watch(tape);
    ctx.observer = &check;
    tape.track_leaf(w, gw);
  }
};

TEST(NumericsCheck, NamesTheFirstOpWhoseOutputIsNotFiniteAndItsLayer) {
  Graph g;
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor a = ops::mul(g.ctx, g.w, Tensor::from_floats({3}, {1, 1, 1}));
  NamedLayer("stem").done(g.ctx, a);
  const Tensor b = ops::mul(g.ctx, a, Tensor::from_floats({3}, {1, inf, 0}));  // inf, and later nan
  const Tensor c = ops::scale(g.ctx, b, 0.f);                                   // nan: not the first
  NamedLayer("block1").done(g.ctx, c);
  const Tensor loss = ops::sum(g.ctx, c);
  g.check.check_forward();
  ASSERT_TRUE(g.check.first().has_value());
  const NumericsCheck::Finding& f = *g.check.first();
  EXPECT_FALSE(f.backward);
  EXPECT_EQ(f.op, "mul");
  EXPECT_EQ(f.layer, "block1");
  EXPECT_EQ(f.bad, 1);
  EXPECT_EQ(f.total, 3);
  EXPECT_EQ(NumericsCheck::describe(f),
            "forward: the output of mul in layer block1 has 1 of 3 values not finite (the first: inf)");
}

TEST(NumericsCheck, NamesTheOpWhoseGradientOverflowsInBackward) {
  Graph g;
  const Tensor a = ops::mul(g.ctx, g.w, Tensor::from_floats({3}, {10, 1, 1}));
  NamedLayer("head").done(g.ctx, a);
  const Tensor loss = ops::sum(g.ctx, a);
  g.check.check_forward();
  EXPECT_FALSE(g.check.first().has_value()) << "the forward pass is finite";
  // A loss scale of 1e38 is finite; times 10 in mul's backward it is not.
  g.tape.backward(loss, Tensor::full({}, 1e38, DType::F32));
  ASSERT_TRUE(g.check.first().has_value());
  EXPECT_EQ(NumericsCheck::describe(*g.check.first()),
            "backward: the gradient from mul in layer head has 1 of 3 values not finite (the first: inf)");
}

TEST(NumericsCheck, OpsAfterTheLastLayerAreInTheLoss) {
  Graph g;
  const Tensor a = ops::mul(g.ctx, g.w, Tensor::from_floats({3}, {1, 1, 1}));
  NamedLayer("head").done(g.ctx, a);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor loss = ops::sum(g.ctx, ops::mul(g.ctx, a, Tensor::from_floats({3}, {nan, 1, 1})));
  g.check.check_forward();
  ASSERT_TRUE(g.check.first().has_value());
  EXPECT_EQ(g.check.first()->layer, "");
  EXPECT_NE(NumericsCheck::describe(*g.check.first()).find("mul after the last layer (in the loss)"),
            std::string::npos);
}

TEST(NumericsCheck, AFiniteStepFindsNothing) {
  Graph g;
  const Tensor loss = ops::sum(g.ctx, ops::mul(g.ctx, g.w, Tensor::from_floats({3}, {1, 2, 3})));
  g.check.check_forward();
  g.tape.backward(loss, Tensor::full({}, 1.0, DType::F32));
  EXPECT_FALSE(g.check.first().has_value());
}

}  // namespace
}  // namespace trainer
