#include "trainer/ops/reduce.h"

#include "dispatch.h"
#include "trainer/kernels/cpu/elementwise.h"
#include "trainer/kernels/cuda/reduce.h"
#include "trainer/ops/graph_recorder.h"

namespace trainer::ops {
namespace {

// factor * sum(x) as an f32 scalar on x's device; the CUDA kernel writes it there, so the loss
// never visits the host unless someone reads it.
Tensor scaled_sum(Context& ctx, const Tensor& x_in, double factor, const char* name) {
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({}, DType::F32, x.device());
  ops_detail::dispatch("sum", x, ctx.stream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    if constexpr (decltype(backend)::is_cuda)
      cuda::sum<T>(x.data<T>(), x.numel(), factor, nullptr, y.data<float>(), backend.stream);
    else
      *y.data<float>() = static_cast<float>(cpu::sum<T>(x.data<T>(), x.numel()) * factor);
  });
  if (ctx.recording(x)) {
    ctx.tape->track(y, name);
    ctx.tape->record({x}, [x = GradRef(x), dtype = x.dtype(), device = x.device(), y = GradRef(y), factor,
                      stream = ctx.stream](Tape& tape) {
      Tensor dy = tape.take_grad(y);
      if (!dy.defined()) return;
      // every element receives the same gradient
      Tensor dx = Tensor::empty(x.shape, dtype, device);
      ops_detail::dispatch("sum backward", dx, stream, [&](auto tag, auto backend) {
        using T = decltype(tag);
        if constexpr (decltype(backend)::is_cuda)
          cuda::sum_backward<T>(dy.data<float>(), factor, dx.data<T>(), dx.numel(), backend.stream);
        else
          dx.fill_(dy.item() * factor);
      });
      tape.accumulate(x, std::move(dx));
    }, name);
  }
  if (ctx.recorder) ctx.recorder->refuse(name);
  return y;
}

}  // namespace

Tensor sum(Context& ctx, const Tensor& x) { return scaled_sum(ctx, x, 1.0, "sum"); }
Tensor mean(Context& ctx, const Tensor& x) {
  TRAINER_CHECK(x.numel() > 0, "mean of the empty tensor ", x.describe());
  return scaled_sum(ctx, x, 1.0 / static_cast<double>(x.numel()), "mean");
}

}  // namespace trainer::ops
