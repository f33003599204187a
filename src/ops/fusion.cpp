#include "trainer/ops/fusion.h"

#include "dispatch.h"
#include "trainer/kernels/cpu/fusion.h"
#include "trainer/kernels/cuda/fusion.h"
#include "trainer/ops/graph_recorder.h"

namespace trainer::ops {

Tensor weighted_fusion(Context& ctx, const std::vector<Tensor>& inputs_in, const Tensor& weights_in, float epsilon) {
  const int n = static_cast<int>(inputs_in.size());
  TRAINER_CHECK(n >= 1 && n <= FusionShape::kMaxInputs, "weighted_fusion: ", n, " inputs (1..",
                FusionShape::kMaxInputs, " supported)");
  TRAINER_CHECK(weights_in.rank() == 1 && weights_in.dim(0) == n && weights_in.dtype() == DType::F32 &&
                    weights_in.device() == inputs_in[0].device(),
                "weighted_fusion: weights ", weights_in.describe(), " for ", n, " inputs on ",
                inputs_in[0].device().name(), " (expected f32 [", n, "] there)");
  std::vector<Tensor> inputs;
  for (const Tensor& x : inputs_in) {
    ops_detail::check_same("weighted_fusion", inputs_in[0], x);
    TRAINER_CHECK(x.shape() == inputs_in[0].shape(), "weighted_fusion: inputs ", inputs_in[0].describe(), " and ",
                  x.describe(), " differ in shape");
    inputs.push_back(x.contiguous());
  }
  const Tensor weights = weights_in.contiguous();
  const FusionShape shape{n, inputs[0].numel(), epsilon};
  Tensor y = Tensor::empty(inputs[0].shape(), inputs[0].dtype(), inputs[0].device());
  ops_detail::dispatch("weighted_fusion", y, ctx.stream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    const T* x[FusionShape::kMaxInputs] = {};
    for (int i = 0; i < n; ++i) x[i] = inputs[i].data<T>();
    TRAINER_RUN_KERNEL(backend, fusion_forward<T>, shape, x, weights.data<float>(), y.data<T>());
  });
  bool any = weights.requires_grad();
  for (const Tensor& x : inputs) any = any || x.requires_grad();
  if (ctx.tape && any) {
    ctx.tape->track(y);
    std::vector<GradRef> refs(inputs.begin(), inputs.end());
    refs.push_back(weights);
    // The weights' gradient needs the inputs' values; the inputs' gradients need only dy.
    std::vector<Tensor> values;
    if (weights.requires_grad())
      for (const Tensor& x : inputs) values.push_back(x.detach());
    ctx.tape->record(refs, [shape, refs, values = std::move(values), w = weights.detach(), y = GradRef(y),
                            stream = ctx.stream](Tape& tape) {
      Tensor dy = tape.take_grad(y);
      if (!dy.defined()) return;
      dy = dy.contiguous();
      const int count = shape.inputs;
      std::vector<Tensor> dx(count);
      for (int i = 0; i < count; ++i)
        if (refs[i].requires_grad()) dx[i] = Tensor::empty(refs[i].shape, dy.dtype(), dy.device());
      const bool weights_grad = refs[count].requires_grad();
      Tensor dw = weights_grad ? Tensor::empty({count}, DType::F32, dy.device()) : Tensor();
      ops_detail::dispatch("weighted_fusion backward", dy, stream, [&](auto tag, auto backend) {
        using T = decltype(tag);
        // Inputs whose gradient is not wanted still get one computed into a scratch map: the kernel
        // writes all of them in one pass, which costs less than a pass per input.
        std::vector<Tensor> scratch;
        T* out[FusionShape::kMaxInputs] = {};
        for (int i = 0; i < count; ++i) {
          if (!dx[i].defined()) scratch.push_back(Tensor::empty(dy.shape(), dy.dtype(), dy.device()));
          out[i] = dx[i].defined() ? dx[i].data<T>() : scratch.back().data<T>();
        }
        TRAINER_RUN_KERNEL(backend, fusion_backward_inputs<T>, shape, dy.data<T>(), w.data<float>(), out);
        if (weights_grad) {
          const T* x[FusionShape::kMaxInputs] = {};
          for (int i = 0; i < count; ++i) x[i] = values[i].data<T>();
          TRAINER_RUN_KERNEL(backend, fusion_backward_weights<T>, shape, dy.data<T>(), x, w.data<float>(),
                             dw.data<float>());
        }
      });
      for (int i = 0; i < count; ++i)
        if (dx[i].defined()) tape.accumulate(refs[i], std::move(dx[i]));
      if (weights_grad) tape.accumulate(refs[count], std::move(dw));
    });
  }
  if (ctx.recorder) ctx.recorder->weighted_fusion(inputs_in, weights_in, epsilon, y);
  return y;
}

}  // namespace trainer::ops
