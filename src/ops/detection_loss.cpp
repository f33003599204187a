#include "trainer/ops/detection_loss.h"

#include <cmath>

#include "dispatch.h"
#include "trainer/kernels/cpu/detection_losses.h"
#include "trainer/kernels/cuda/detection_losses.h"
#include "trainer/ops/graph_recorder.h"

namespace trainer::ops {
namespace {

// Checks the [N, A, C] predictions, [N, A, C] f32 targets and [N, A] f32 weights of `op`.
void check_operands(const char* op, const Tensor& pred, const Tensor& targets, const Tensor& weights) {
  ops_detail::check_rank(op, pred, 3, "[batch, anchors, channels]");
  TRAINER_CHECK(targets.defined() && targets.dtype() == DType::F32 && targets.shape() == pred.shape(), op,
                ": targets ", targets.defined() ? targets.describe() : "undefined", " for predictions ",
                pred.describe(), " (expected f32 of the same shape)");
  TRAINER_CHECK(weights.defined() && weights.dtype() == DType::F32 && weights.rank() == 2 &&
                    weights.dim(0) == pred.dim(0) && weights.dim(1) == pred.dim(1),
                op, ": weights ", weights.defined() ? weights.describe() : "undefined", " for predictions ",
                pred.describe(), " (expected f32[", pred.dim(0), ",", pred.dim(1), "])");
  TRAINER_CHECK(targets.device() == pred.device() && weights.device() == pred.device(), op, ": operands ",
                pred.describe(), ", ", targets.describe(), ", ", weights.describe(), " are on different devices");
}

// The loss is a sum whose per-entry gradient the forward already computed (`grad`, f32):
// backward only scales it by the upstream scalar and converts it to the predictions' dtype.
// front_end: the op that records it (check_numerics names it); op: its backward, for errors.
void record_saved_gradient(Context& ctx, const Tensor& pred, const Tensor& y, Tensor grad, const char* front_end,
                           const char* op) {
  ctx.tape->record({pred}, [x = GradRef(pred), dtype = pred.dtype(), y_ref = GradRef(y), grad = std::move(grad), op,
                    stream = ctx.stream](Tape& tape) {
    Tensor dy = tape.take_grad(y_ref);
    if (!dy.defined()) return;
    Tensor dx = Tensor::empty(grad.shape(), dtype, grad.device());
    ops_detail::dispatch(op, dx, stream, [&](auto tag, auto backend) {
      using T = decltype(tag);
      if constexpr (decltype(backend)::is_cuda)  // the upstream gradient stays on the device
        cuda::scale_saved_gradient<T>(grad.data<float>(), grad.numel(), dy.data<float>(), dx.data<T>(), backend.stream);
      else
        cpu::scale_saved_gradient<T>(grad.data<float>(), grad.numel(), static_cast<float>(dy.item()), dx.data<T>());
    });
    tape.accumulate(x, std::move(dx));
  }, front_end);
}

}  // namespace

Tensor sigmoid_focal_loss(Context& ctx, const Tensor& logits_in, const Tensor& targets_in, const Tensor& weights_in,
                          float alpha, float gamma) {
  check_operands("sigmoid_focal_loss", logits_in, targets_in, weights_in);
  TRAINER_CHECK(std::isfinite(gamma) && gamma >= 0.f, "sigmoid_focal_loss: gamma ", gamma,
                " must be finite and >= 0");
  TRAINER_CHECK(std::isfinite(alpha) && alpha <= 1.f, "sigmoid_focal_loss: alpha ", alpha,
                " must be in [0, 1] (or negative for no alpha factor)");
  const Tensor logits = logits_in.contiguous(), targets = targets_in.contiguous(),
               weights = weights_in.contiguous();
  const int64_t rows = logits.dim(0) * logits.dim(1), k = logits.dim(2);
  const bool recording = ctx.recording(logits);
  Tensor grad = recording ? Tensor::empty(logits.shape(), DType::F32, logits.device()) : Tensor();
  Tensor y = Tensor::empty({}, DType::F32, logits.device());
  ops_detail::dispatch("sigmoid_focal_loss", logits, ctx.stream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    float* g = recording ? grad.data<float>() : nullptr;
    if constexpr (decltype(backend)::is_cuda)
      cuda::sigmoid_focal_loss_forward<T>(logits.data<T>(), targets.data<float>(), weights.data<float>(), rows, k,
                                          alpha, gamma, g, y.data<float>(), backend.stream);
    else
      *y.data<float>() = static_cast<float>(cpu::sigmoid_focal_loss_forward<T>(
          logits.data<T>(), targets.data<float>(), weights.data<float>(), rows, k, alpha, gamma, g));
  });
  if (recording) {
    ctx.tape->track(y);
    record_saved_gradient(ctx, logits, y, std::move(grad), "sigmoid_focal_loss", "sigmoid_focal_loss backward");
  }
  if (ctx.recorder) ctx.recorder->refuse("sigmoid_focal_loss");
  return y;
}

Tensor smooth_l1_loss(Context& ctx, const Tensor& pred_in, const Tensor& targets_in, const Tensor& weights_in,
                      float delta) {
  check_operands("smooth_l1_loss", pred_in, targets_in, weights_in);
  TRAINER_CHECK(std::isfinite(delta) && delta > 0.f, "smooth_l1_loss: delta ", delta, " must be finite and > 0");
  const Tensor pred = pred_in.contiguous(), targets = targets_in.contiguous(), weights = weights_in.contiguous();
  const int64_t rows = pred.dim(0) * pred.dim(1), code = pred.dim(2);
  const bool recording = ctx.recording(pred);
  Tensor grad = recording ? Tensor::empty(pred.shape(), DType::F32, pred.device()) : Tensor();
  Tensor y = Tensor::empty({}, DType::F32, pred.device());
  ops_detail::dispatch("smooth_l1_loss", pred, ctx.stream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    float* g = recording ? grad.data<float>() : nullptr;
    if constexpr (decltype(backend)::is_cuda)
      cuda::smooth_l1_loss_forward<T>(pred.data<T>(), targets.data<float>(), weights.data<float>(), rows, code, delta,
                                      g, y.data<float>(), backend.stream);
    else
      *y.data<float>() = static_cast<float>(cpu::smooth_l1_loss_forward<T>(
          pred.data<T>(), targets.data<float>(), weights.data<float>(), rows, code, delta, g));
  });
  if (recording) {
    ctx.tape->track(y);
    record_saved_gradient(ctx, pred, y, std::move(grad), "smooth_l1_loss", "smooth_l1_loss backward");
  }
  if (ctx.recorder) ctx.recorder->refuse("smooth_l1_loss");
  return y;
}

}  // namespace trainer::ops
