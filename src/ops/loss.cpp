#include "trainer/ops/loss.h"

#include "dispatch.h"
#include "trainer/kernels/cpu/softmax_cross_entropy.h"
#include "trainer/kernels/cuda/softmax_cross_entropy.h"
#include "trainer/ops/graph_recorder.h"

namespace trainer::ops {
namespace {

Tensor cross_entropy(Context& ctx, const Tensor& logits_in, const Tensor& labels, const Tensor& soft,
                     float smoothing) {
  ops_detail::check_rank("softmax_cross_entropy", logits_in, 2, "[batch, classes]");
  const Tensor logits = logits_in.contiguous();
  const int64_t n = logits.dim(0), k = logits.dim(1);
  if (labels.defined())
    TRAINER_CHECK(labels.dtype() == DType::I32 && labels.rank() == 1 && labels.dim(0) == n,
                  "softmax_cross_entropy: labels ", labels.describe(), " for logits ", logits.describe(),
                  " (expected i32[", n, "])");
  if (soft.defined())
    TRAINER_CHECK(soft.dtype() == DType::F32 && soft.shape() == logits.shape(), "softmax_cross_entropy: targets ",
                  soft.describe(), " for logits ", logits.describe());
  TRAINER_CHECK(smoothing >= 0.f && smoothing < 1.f, "softmax_cross_entropy: label smoothing ", smoothing,
                " outside [0, 1)");
  const Tensor lab = labels.defined() ? labels.contiguous() : Tensor();
  const Tensor tgt = soft.defined() ? soft.contiguous() : Tensor();
  for (const Tensor* t : {&lab, &tgt})
    TRAINER_CHECK(!t->defined() || t->device() == logits.device(), "softmax_cross_entropy: targets ", t->describe(),
                  " are not on the logits' device (", logits.describe(), ")");
  const Device device = logits.device();
  Tensor probs = Tensor::empty({n, k}, DType::F32, device);
  Tensor y = Tensor::empty({}, DType::F32, device);
  ops_detail::dispatch("softmax_cross_entropy", logits, ctx.stream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    const int32_t* label_data = lab.defined() ? lab.data<int32_t>() : nullptr;
    const float* target_data = tgt.defined() ? tgt.data<float>() : nullptr;
    if constexpr (decltype(backend)::is_cuda) {
      cuda::softmax_cross_entropy_forward<T>(logits.data<T>(), n, k, label_data, target_data, smoothing,
                                             probs.data<float>(), y.data<float>(), backend.stream);
    } else {
      *y.data<float>() = static_cast<float>(cpu::softmax_cross_entropy_forward<T>(
          logits.data<T>(), n, k, label_data, target_data, smoothing, probs.data<float>()));
    }
  });
  if (ctx.recording(logits)) {
    ctx.tape->track(y);
    ctx.tape->record({logits}, [x = GradRef(logits), dtype = logits.dtype(), y = GradRef(y), probs, lab, tgt, smoothing, n,
                      k, stream = ctx.stream](Tape& tape) {
      Tensor dy = tape.take_grad(y);
      if (!dy.defined()) return;
      Tensor dx = Tensor::empty({n, k}, dtype, probs.device());
      const float scale = static_cast<float>(dy.item() / static_cast<double>(n));
      ops_detail::dispatch("softmax_cross_entropy backward", dx, stream, [&](auto tag, auto backend) {
        using T = decltype(tag);
        TRAINER_RUN_KERNEL(backend, softmax_cross_entropy_backward<T>, probs.data<float>(), n, k,
                           lab.defined() ? lab.data<int32_t>() : nullptr, tgt.defined() ? tgt.data<float>() : nullptr,
                           smoothing, scale, dx.data<T>());
      });
      tape.accumulate(x, std::move(dx));
    });
  }
  if (ctx.recorder) ctx.recorder->refuse("softmax_cross_entropy");
  return y;
}

}  // namespace

Tensor softmax_cross_entropy(Context& ctx, const Tensor& logits, const Tensor& labels, float label_smoothing) {
  TRAINER_CHECK(labels.defined(), "softmax_cross_entropy: labels are undefined");
  return cross_entropy(ctx, logits, labels, Tensor(), label_smoothing);
}

Tensor softmax_cross_entropy_soft(Context& ctx, const Tensor& logits, const Tensor& targets) {
  TRAINER_CHECK(targets.defined(), "softmax_cross_entropy_soft: targets are undefined");
  return cross_entropy(ctx, logits, Tensor(), targets, 0.f);
}

}  // namespace trainer::ops
