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

// A layer that only reports: the ops run since the previous layer's end belong to it.
struct NamedLayer : nn::Module {
  using nn::Module::Module;
  void start(Context& ctx) const { begin(ctx); }
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

// Layers that mark where they begin (as every layer of the library does) own only their span:
// an op between two of them, like a residual add, is named after the layer before it.
TEST(NumericsCheck, AnOpBetweenTwoLayersIsNamedAfterTheLayerBeforeIt) {
  Graph g;
  const float inf = std::numeric_limits<float>::infinity();
  const NamedLayer conv("block.conv"), head("head");
  conv.start(g.ctx);
  const Tensor a = ops::mul(g.ctx, g.w, Tensor::from_floats({3}, {1, 1, 1}));
  conv.done(g.ctx, a);
  const Tensor sum = ops::mul(g.ctx, a, Tensor::from_floats({3}, {inf, 1, 1}));  // between the layers
  head.start(g.ctx);
  const Tensor b = ops::mul(g.ctx, sum, Tensor::from_floats({3}, {1, 1, 1}));
  head.done(g.ctx, b);
  g.check.check_forward();
  ASSERT_TRUE(g.check.first().has_value());
  EXPECT_EQ(g.check.first()->placement, NumericsCheck::Placement::AfterLayer);
  EXPECT_EQ(NumericsCheck::describe(*g.check.first()),
            "forward: the output of mul after layer block.conv has 1 of 3 values not finite (the first: inf)");
}

// A layer inside another (a block around its convolutions): the innermost one owns the op, the
// outer one the ops outside its children.
TEST(NumericsCheck, NestedLayersNameTheInnermostOneAndOpsBeforeTheFirstLayerSaySo) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const NamedLayer block("block"), conv("block.conv");
  auto run = [&](int bad_op) {
    Graph g;
    auto factor = [&](int op) { return Tensor::from_floats({3}, {op == bad_op ? nan : 1.f, 1, 1}); };
    const Tensor x = ops::mul(g.ctx, g.w, factor(0));  // input preparation, before any layer
    block.start(g.ctx);
    conv.start(g.ctx);
    const Tensor a = ops::mul(g.ctx, x, factor(1));
    conv.done(g.ctx, a);
    const Tensor b = ops::mul(g.ctx, a, factor(2));  // the block's own op after its child
    block.done(g.ctx, b);
    g.check.check_forward();
    EXPECT_TRUE(g.check.first().has_value());
    return g.check.first() ? NumericsCheck::describe(*g.check.first()) : std::string();
  };
  EXPECT_NE(run(0).find("mul before the first layer has"), std::string::npos) << run(0);
  EXPECT_NE(run(1).find("mul in layer block.conv has"), std::string::npos) << run(1);
  EXPECT_NE(run(2).find("mul in layer block has"), std::string::npos) << run(2);
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
