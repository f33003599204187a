#include "trainer/ops/upsample.h"

#include "dispatch.h"
#include "trainer/kernels/cpu/resample.h"
#include "trainer/kernels/cuda/resample.h"
#include "trainer/ops/graph_recorder.h"

namespace trainer::ops {

Tensor upsample_nearest2x(Context& ctx, const Tensor& x_in) {
  ops_detail::check_rank("upsample_nearest2x", x_in, 4, "NHWC");
  const Tensor x = x_in.contiguous();
  const int64_t n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
  Tensor y = Tensor::empty({n, 2 * h, 2 * w, c}, x.dtype(), x.device());
  ops_detail::dispatch("upsample_nearest2x", x, ctx.stream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    TRAINER_RUN_KERNEL(backend, upsample_nearest2x_forward<T>, x.data<T>(), n, h, w, c, y.data<T>());
  });
  if (ctx.recording(x)) {
    ctx.tape->track(y);
    ctx.tape->record({x}, [x = GradRef(x), y = GradRef(y), n, h, w, c, stream = ctx.stream](Tape& tape) {
      Tensor dy = tape.take_grad(y);
      if (!dy.defined()) return;
      dy = dy.contiguous();
      Tensor dx = Tensor::empty(x.shape, dy.dtype(), dy.device());
      ops_detail::dispatch("upsample_nearest2x backward", dy, stream, [&](auto tag, auto backend) {
        using T = decltype(tag);
        TRAINER_RUN_KERNEL(backend, upsample_nearest2x_backward<T>, dy.data<T>(), n, h, w, c, dx.data<T>());
      });
      tape.accumulate(x, std::move(dx));
    });
  }
  if (ctx.recorder) ctx.recorder->upsample_nearest2x(x_in, y);
  return y;
}

}  // namespace trainer::ops
