#include "trainer/ops/activation.h"

#include "dispatch.h"
#include "trainer/kernels/cpu/activation.h"
#include "trainer/kernels/cuda/activation.h"
#include "trainer/ops/graph_recorder.h"

namespace trainer::ops {

Tensor activation(Context& ctx, const Tensor& x_in, Activation act) {
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  ops_detail::dispatch("activation", x, ctx.stream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    TRAINER_RUN_KERNEL(backend, activation_forward<T>, act, x.data<T>(), y.data<T>(), x.numel());
  });
  if (ctx.recording(x)) {
    ctx.tape->track(y);
    // swish differentiates from its input; the others from their output, so x can be freed.
    const bool needs_x = act == Activation::Swish;
    ctx.tape->record({x}, [x_ref = GradRef(x), x_kept = needs_x ? x.detach() : Tensor(), y_kept = y.detach(),
                      y_ref = GradRef(y), act, stream = ctx.stream](Tape& tape) {
      Tensor dy = tape.take_grad(y_ref);
      if (!dy.defined()) return;
      dy = dy.contiguous();
      Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
      ops_detail::dispatch("activation backward", dy, stream, [&](auto tag, auto backend) {
        using T = decltype(tag);
        const T* xp = x_kept.defined() ? x_kept.data<T>() : y_kept.data<T>();
        TRAINER_RUN_KERNEL(backend, activation_backward<T>, act, xp, y_kept.data<T>(), dy.data<T>(), dx.data<T>(),
                           dy.numel());
      });
      tape.accumulate(x_ref, std::move(dx));
    });
  }
  if (ctx.recorder) ctx.recorder->activation(x_in, act, y);
  return y;
}

}  // namespace trainer::ops
