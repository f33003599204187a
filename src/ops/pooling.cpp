#include "trainer/ops/pooling.h"

#include "dispatch.h"
#include "trainer/kernels/cpu/pooling.h"
#include "trainer/kernels/cuda/pooling.h"
#include "trainer/ops/graph_recorder.h"

namespace trainer::ops {
namespace {

Pool2dShape pool_shape(const Tensor& x, const Pool2dOptions& o) {
  ops_detail::check_rank("pool2d", x, 4, "NHWC");
  Pool2dShape s;
  s.batch = x.dim(0), s.in_h = x.dim(1), s.in_w = x.dim(2), s.channels = x.dim(3);
  s.kernel_h = o.kernel_h, s.kernel_w = o.kernel_w, s.stride_h = o.stride_h, s.stride_w = o.stride_w;
  if (o.padding) {
    s.pad_top = o.padding->top, s.pad_bottom = o.padding->bottom;
    s.pad_left = o.padding->left, s.pad_right = o.padding->right;
  } else {
    std::tie(s.pad_top, s.pad_bottom) = same_padding(s.in_h, s.kernel_h, s.stride_h, 1);
    std::tie(s.pad_left, s.pad_right) = same_padding(s.in_w, s.kernel_w, s.stride_w, 1);
  }
  TRAINER_CHECK(s.out_h() > 0 && s.out_w() > 0, "pool2d: ", x.describe(), " is smaller than the ", s.kernel_h, "x",
                s.kernel_w, " window");
  TRAINER_CHECK(s.pad_top < s.kernel_h && s.pad_bottom < s.kernel_h && s.pad_left < s.kernel_w &&
                    s.pad_right < s.kernel_w,
                "pool2d: padding must be smaller than the window, or some windows see only padding");
  return s;
}

}  // namespace

Tensor max_pool2d(Context& ctx, const Tensor& x_in, const Pool2dOptions& o) {
  const Tensor x = x_in.contiguous();
  const Pool2dShape s = pool_shape(x, o);
  Tensor y = Tensor::empty({s.batch, s.out_h(), s.out_w(), s.channels}, x.dtype(), x.device());
  Tensor argmax = Tensor::empty(y.shape(), DType::I32, x.device());
  ops_detail::dispatch("max_pool2d", x, ctx.stream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    TRAINER_RUN_KERNEL(backend, max_pool2d_forward<T>, s, x.data<T>(), y.data<T>(), argmax.data<int32_t>());
  });
  if (ctx.recording(x)) {
    ctx.tape->track(y);
    ctx.tape->record({x}, [s, x = GradRef(x), y = GradRef(y), argmax, stream = ctx.stream](Tape& tape) {
      Tensor dy = tape.take_grad(y);
      if (!dy.defined()) return;
      dy = dy.contiguous();
      Tensor dx = Tensor::empty(x.shape, dy.dtype(), dy.device());
      ops_detail::dispatch("max_pool2d backward", dy, stream, [&](auto tag, auto backend) {
        using T = decltype(tag);
        TRAINER_RUN_KERNEL(backend, max_pool2d_backward<T>, s, dy.data<T>(), argmax.data<int32_t>(), dx.data<T>());
      });
      tape.accumulate(x, std::move(dx));
    });
  }
  if (ctx.recorder) ctx.recorder->pool2d(RecordedPool::Max, x_in, o, y);
  return y;
}

Tensor avg_pool2d(Context& ctx, const Tensor& x_in, const Pool2dOptions& o) {
  const Tensor x = x_in.contiguous();
  const Pool2dShape s = pool_shape(x, o);
  Tensor y = Tensor::empty({s.batch, s.out_h(), s.out_w(), s.channels}, x.dtype(), x.device());
  ops_detail::dispatch("avg_pool2d", x, ctx.stream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    TRAINER_RUN_KERNEL(backend, avg_pool2d_forward<T>, s, o.count_include_pad, x.data<T>(), y.data<T>());
  });
  if (ctx.recording(x)) {
    ctx.tape->track(y);
    ctx.tape->record({x}, [s, include = o.count_include_pad, x = GradRef(x), y = GradRef(y), stream = ctx.stream](Tape& tape) {
      Tensor dy = tape.take_grad(y);
      if (!dy.defined()) return;
      dy = dy.contiguous();
      Tensor dx = Tensor::empty(x.shape, dy.dtype(), dy.device());
      ops_detail::dispatch("avg_pool2d backward", dy, stream, [&](auto tag, auto backend) {
        using T = decltype(tag);
        TRAINER_RUN_KERNEL(backend, avg_pool2d_backward<T>, s, include, dy.data<T>(), dx.data<T>());
      });
      tape.accumulate(x, std::move(dx));
    });
  }
  if (ctx.recorder) ctx.recorder->pool2d(RecordedPool::Average, x_in, o, y);
  return y;
}

Tensor global_avg_pool(Context& ctx, const Tensor& x_in) {
  ops_detail::check_rank("global_avg_pool", x_in, 4, "NHWC");
  const Tensor x = x_in.contiguous();
  const int64_t n = x.dim(0), spatial = x.dim(1) * x.dim(2), c = x.dim(3);
  Tensor y = Tensor::empty({n, c}, x.dtype(), x.device());
  ops_detail::dispatch("global_avg_pool", x, ctx.stream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    TRAINER_RUN_KERNEL(backend, global_avg_pool_forward<T>, x.data<T>(), n, spatial, c, y.data<T>());
  });
  if (ctx.recording(x)) {
    ctx.tape->track(y);
    ctx.tape->record({x}, [x = GradRef(x), y = GradRef(y), n, spatial, c, stream = ctx.stream](Tape& tape) {
      Tensor dy = tape.take_grad(y);
      if (!dy.defined()) return;
      dy = dy.contiguous();
      Tensor dx = Tensor::empty(x.shape, dy.dtype(), dy.device());
      ops_detail::dispatch("global_avg_pool backward", dy, stream, [&](auto tag, auto backend) {
        using T = decltype(tag);
        TRAINER_RUN_KERNEL(backend, global_avg_pool_backward<T>, dy.data<T>(), n, spatial, c, dx.data<T>());
      });
      tape.accumulate(x, std::move(dx));
    });
  }
  if (ctx.recorder) ctx.recorder->global_avg_pool(x_in, y);
  return y;
}

}  // namespace trainer::ops
