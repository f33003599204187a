#include "trainer/ops/mixup.h"

#include "dispatch.h"
#include "trainer/kernels/cpu/mixup.h"
#include "trainer/kernels/cuda/mixup.h"
#include "trainer/ops/graph_recorder.h"

namespace trainer::ops {

MixedBatch mixup(Context& ctx, const Tensor& images_in, const Tensor& labels_in, const Tensor& lambdas_in,
                 int64_t num_classes, float label_smoothing) {
  TRAINER_CHECK(images_in.rank() >= 1, "mixup: images ", images_in.describe(), " have no sample axis");
  const int64_t n = images_in.dim(0);
  TRAINER_CHECK(labels_in.dtype() == DType::I32 && labels_in.rank() == 1 && labels_in.dim(0) == n,
                "mixup: labels ", labels_in.describe(), " for images ", images_in.describe(), " (expected i32[", n,
                "])");
  TRAINER_CHECK(lambdas_in.dtype() == DType::F32 && lambdas_in.rank() == 1 && lambdas_in.dim(0) == n,
                "mixup: lambdas ", lambdas_in.describe(), " for images ", images_in.describe(), " (expected f32[", n,
                "])");
  for (const Tensor* t : {&labels_in, &lambdas_in})
    TRAINER_CHECK(t->device() == images_in.device(), "mixup: ", t->describe(), " is not on the images' device (",
                  images_in.describe(), ")");
  TRAINER_CHECK(num_classes >= 1, "mixup: ", num_classes, " classes");
  TRAINER_CHECK(label_smoothing >= 0.f && label_smoothing < 1.f, "mixup: label smoothing ", label_smoothing,
                " outside [0, 1)");
  TRAINER_CHECK(!images_in.requires_grad() && !lambdas_in.requires_grad(),
                "mixup: has no gradient, but its inputs are tracked (", images_in.describe(), ")");
  if (ctx.recorder) ctx.recorder->refuse("mixup");
  const Tensor images = images_in.contiguous(), labels = labels_in.contiguous(), lambdas = lambdas_in.contiguous();
  const MixupShape shape{n, n ? images.numel() / n : 0, num_classes, label_smoothing};
  MixedBatch out{Tensor::empty(images.shape(), images.dtype(), images.device()),
                 Tensor::empty({n, num_classes}, DType::F32, images.device())};
  ops_detail::dispatch("mixup", images, ctx.stream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    TRAINER_RUN_KERNEL(backend, mixup_blend<T>, shape, images.data<T>(), labels.data<int32_t>(),
                       lambdas.data<float>(), out.images.data<T>(), out.targets.data<float>());
  });
  return out;
}

}  // namespace trainer::ops
