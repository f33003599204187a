#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "trainer/core/allocator.h"
#include "trainer/ops/activation.h"
#include "trainer/ops/elementwise.h"
#include "trainer/ops/reduce.h"

namespace trainer {
namespace {

TEST(Tape, FreesSavedTensorsAsItUnwinds) {
  const size_t before = cpu_allocator_stats().in_use;
  {
    Tape tape;
    Context ctx{&tape, true};
    Tensor w = Tensor::full({256, 256}, 0.5, DType::F32), gw = Tensor::zeros({256, 256}, DType::F32);
    tape.track_leaf(w, gw);
    Tensor h = w;
    for (int i = 0; i < 8; ++i) h = ops::swish(ctx, h);  // each keeps its input alive
    Tensor loss = ops::sum(ctx, h);
    h = Tensor();
    const size_t during = cpu_allocator_stats().in_use;
    EXPECT_GE(during, before + 8 * 256 * 256 * 4) << "forward must keep the activations for backward";
    tape.backward(loss, Tensor::full({}, 1.0, DType::F32));
    EXPECT_EQ(tape.size(), 0u);
    EXPECT_LE(cpu_allocator_stats().in_use, before + 3 * 256 * 256 * 4 + 4096)
        << "after backward only w, its gradient and the loss may remain";
  }
}

TEST(Tape, LeavesThatGetNoGradientAreZeroed) {
  Tape tape;
  Context ctx{&tape, true};
  Tensor a = Tensor::full({3}, 2.0, DType::F32), b = Tensor::full({3}, 1.0, DType::F32);
  Tensor ga = Tensor::full({3}, 7.0, DType::F32), gb = Tensor::full({3}, 7.0, DType::F32);
  tape.track_leaf(a, ga);
  tape.track_leaf(b, gb);
  Tensor loss = ops::sum(ctx, ops::relu(ctx, a));  // b unused
  tape.backward(loss, Tensor::full({}, 1.0, DType::F32));
  EXPECT_EQ(ga.to_floats(), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(gb.to_floats(), (std::vector<float>{0, 0, 0}));
}

// A leaf's gradient is final once every closure that named it has run: a weight used twice
// (shared, like a detection head on every level) is final only after its first use's closure,
// and the tape says so while closures are still waiting; an unused leaf is final, as zeros,
// before the first.
TEST(Tape, SaysWhenEachLeafsGradientIsFinalDuringBackward) {
  Tape tape;
  Context ctx{&tape, true};
  Tensor shared = Tensor::full({3}, 2.0, DType::F32), last = Tensor::full({3}, 3.0, DType::F32),
         unused = Tensor::full({3}, 1.0, DType::F32);
  Tensor g_shared = Tensor::zeros({3}, DType::F32), g_last = Tensor::zeros({3}, DType::F32),
         g_unused = Tensor::full({3}, 7.0, DType::F32);
  tape.track_leaf(shared, g_shared);
  tape.track_leaf(last, g_last);
  tape.track_leaf(unused, g_unused);
  Tensor h = ops::mul(ctx, shared, shared);  // first use of `shared` (twice in one op)
  h = ops::relu(ctx, h);
  h = ops::mul(ctx, h, shared);  // second use
  h = ops::mul(ctx, h, last);
  Tensor loss = ops::sum(ctx, h);
  std::vector<std::pair<int64_t, size_t>> finals;  // (leaf, closures still waiting)
  std::vector<float> shared_when_final;
  tape.on_leaf_final([&](int64_t id) {
    finals.emplace_back(id, tape.size());
    if (id == shared.grad_id()) shared_when_final = g_shared.to_floats();
  });
  tape.backward(loss, Tensor::full({}, 1.0, DType::F32));
  ASSERT_EQ(finals.size(), 3u);
  EXPECT_EQ(finals[0], std::make_pair(unused.grad_id(), size_t{5}));
  EXPECT_EQ(finals[1], std::make_pair(last.grad_id(), size_t{3}));  // after sum's and the last mul's closures
  EXPECT_EQ(finals[2].first, shared.grad_id());
  EXPECT_EQ(finals[2].second, 0u);
  EXPECT_EQ(g_unused.to_floats(), (std::vector<float>{0, 0, 0}));
  // d/ds of s^2 * s * 3 = 9 s^2 = 36: complete when the tape called it final.
  EXPECT_EQ(shared_when_final, (std::vector<float>{36, 36, 36}));
}

// A closure that writes into a leaf it did not name would change a gradient that may already
// be on its way to the other ranks: the tape refuses.
TEST(Tape, RefusesAGradientForALeafTheClosureDidNotName) {
  Tape tape;
  Context ctx{&tape, true};
  Tensor w = Tensor::full({2}, 1.0, DType::F32), g = Tensor::zeros({2}, DType::F32);
  tape.track_leaf(w, g);
  Tensor y = w.clone();
  tape.track(y);
  tape.record({}, [w_ref = GradRef(w), y_ref = GradRef(y)](Tape& t) { t.accumulate(w_ref, t.take_grad(y_ref)); });
  Tensor loss = ops::sum(ctx, y);
  try {
    tape.backward(loss, Tensor::full({}, 1.0, DType::F32));
    ADD_FAILURE() << "an undeclared gradient was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("without naming it among its inputs"), std::string::npos) << e.what();
  }
}

TEST(Tape, NothingIsRecordedWithoutATape) {
  Context ctx;  // eval
  Tensor a = Tensor::full({3}, 2.0, DType::F32);
  Tensor y = ops::relu(ctx, a);
  EXPECT_FALSE(y.requires_grad());
}

}  // namespace
}  // namespace trainer
