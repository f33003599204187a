#include <gtest/gtest.h>

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

TEST(Tape, NothingIsRecordedWithoutATape) {
  Context ctx;  // eval
  Tensor a = Tensor::full({3}, 2.0, DType::F32);
  Tensor y = ops::relu(ctx, a);
  EXPECT_FALSE(y.requires_grad());
}

}  // namespace
}  // namespace trainer
