#include "trainer/ops/conv2d.h"

#include "dispatch.h"
#include "trainer/kernels/cpu/conv2d.h"
#include "trainer/kernels/cuda/conv2d_native.h"
#include "gemm_runner.h"
#if TRAINER_HAS_CUDA_KERNELS && !TRAINER_CUDA_EMULATED
#include "trainer/kernels/cuda/conv2d.h"  // cuDNN
#endif
#include "trainer/ops/graph_recorder.h"
#include "trainer/ops/part_scope.h"
#include "trainer/ops/shape_ops.h"
#include "trainer/ops/tensor_math.h"

namespace trainer::ops {

std::pair<int64_t, int64_t> same_padding(int64_t in, int64_t kernel, int64_t stride, int64_t dilation) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t effective = (kernel - 1) * dilation + 1;
  const int64_t total = std::max<int64_t>((out - 1) * stride + effective - in, 0);
  return {total / 2, total - total / 2};
}

Tensor conv2d(Context& ctx, const Tensor& x_in, const Tensor& w_in, const Tensor& bias,
              const Conv2dOptions& o) {
  ops_detail::check_rank("conv2d", x_in, 4, "NHWC input");
  ops_detail::check_rank("conv2d", w_in, 4, "OHWI weight");
  // Depthwise convolutions are where CPU frameworks lose time: benchmark mode reports their share.
  const PartScope part(ctx, o.groups > 1 && o.groups == x_in.dim(3) ? "depthwise convolution" : nullptr);
  const Tensor x = cast(ctx, x_in, ctx.gemm_dtype()).contiguous();
  const Tensor w = cast(ctx, w_in, ctx.gemm_dtype()).contiguous();
  TRAINER_CHECK(x.dim(3) == w.dim(3) * o.groups, "conv2d: input ", x_in.describe(), " has ", x.dim(3),
                " channels but weight ", w_in.describe(), " with groups=", o.groups, " expects ", w.dim(3) * o.groups);
  if (bias.defined())
    TRAINER_CHECK(bias.dtype() == DType::F32 && bias.rank() == 1 && bias.dim(0) == w.dim(0), "conv2d: bias ",
                  bias.describe(), " for ", w.dim(0), " output channels (expected f32[", w.dim(0), "])");
  Conv2dShape s;
  s.batch = x.dim(0), s.in_h = x.dim(1), s.in_w = x.dim(2), s.in_c = x.dim(3);
  s.out_c = w.dim(0), s.kernel_h = w.dim(1), s.kernel_w = w.dim(2);
  s.stride_h = o.stride_h, s.stride_w = o.stride_w, s.dilation_h = o.dilation_h, s.dilation_w = o.dilation_w;
  s.groups = o.groups;
  if (o.padding) {
    s.pad_top = o.padding->top, s.pad_bottom = o.padding->bottom;
    s.pad_left = o.padding->left, s.pad_right = o.padding->right;
  } else {
    std::tie(s.pad_top, s.pad_bottom) = same_padding(s.in_h, s.kernel_h, s.stride_h, s.dilation_h);
    std::tie(s.pad_left, s.pad_right) = same_padding(s.in_w, s.kernel_w, s.stride_w, s.dilation_w);
  }
  ops_detail::check_same("conv2d", x, w);
  const Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  TRAINER_CHECK(!b.defined() || b.device() == x.device(), "conv2d: bias ", b.describe(), " is not on ",
                x.describe(), "'s device");
  Tensor y = Tensor::empty({s.batch, s.out_h(), s.out_w(), s.out_c}, x.dtype(), x.device());
  const float* bias_data = b.defined() ? b.data<float>() : nullptr;
  const ops_detail::GemmRunner runner(ctx);
  const cpu::ConvAlgorithm algorithm = ctx.cpu_conv_algorithm;
  runner.run(
      "conv2d", x,
      [&] { cpu::conv2d_forward(s, x.dtype(), x.raw(), w.raw(), bias_data, o.activation, y.raw(), algorithm); },
      [&] {
        cuda::conv2d_forward(s, x.dtype(), x.raw(), w.raw(), bias_data, o.activation, y.raw(), runner.stream,
                             runner.gemm);
      },
      [&](auto& lib) { cuda::conv2d_forward(lib, s, x.dtype(), x.raw(), w.raw(), bias_data, o.activation, y.raw()); });
  const bool needs_grad = ctx.recording(x, w) || (ctx.tape && b.defined() && b.requires_grad());
  if (needs_grad) {
    TRAINER_CHECK(o.activation == Activation::Identity,
                  "conv2d: a fused activation has no backward; use it for inference only");
    ctx.tape->track(y);
    ctx.tape->record({x, w, b}, [s, x, w, b, y = GradRef(y), runner, algorithm](Tape& tape) {
      Tensor dy = tape.take_grad(y);
      if (!dy.defined()) return;
      dy = dy.contiguous();
      if (x.requires_grad()) {
        Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
        runner.run(
            "conv2d backward", dy, [&] { cpu::conv2d_backward_data(s, x.dtype(), dy.raw(), w.raw(), dx.raw(), algorithm); },
            [&] { cuda::conv2d_backward_data(s, x.dtype(), dy.raw(), w.raw(), dx.raw(), runner.stream, runner.gemm); },
            [&](auto& lib) { cuda::conv2d_backward_data(lib, s, x.dtype(), dy.raw(), w.raw(), dx.raw()); });
        tape.accumulate(x, std::move(dx));
      }
      const bool want_db = b.defined() && b.requires_grad();
      if (w.requires_grad() || want_db) {
        Tensor dw = Tensor::empty(w.shape(), DType::F32, w.device());
        Tensor db = want_db ? Tensor::empty(b.shape(), DType::F32, b.device()) : Tensor();
        float* db_data = want_db ? db.data<float>() : nullptr;
        runner.run(
            "conv2d backward", dy,
            [&] {
              cpu::conv2d_backward_weights(s, x.dtype(), x.raw(), dy.raw(), dw.data<float>(), db_data, algorithm);
            },
            [&] {
              cuda::conv2d_backward_weights(s, x.dtype(), x.raw(), dy.raw(), dw.data<float>(), db_data, runner.stream,
                                            runner.gemm);
            },
            [&](auto& lib) {
              cuda::conv2d_backward_weights(lib, s, x.dtype(), x.raw(), dy.raw(), dw.data<float>(), db_data);
            });
        // The weight gradient stays f32 even for bf16 weights: the cast op's backward hands it to
        // the f32 master without a lossy round trip through bf16.
        if (w.requires_grad()) tape.accumulate(w, std::move(dw));
        if (want_db) tape.accumulate(b, std::move(db));
      }
    });
  }
  if (ctx.recorder) ctx.recorder->conv2d(x_in, w_in, bias, o, y);
  return y;
}

}  // namespace trainer::ops
