#include "trainer/tasks/mixup.h"

#include "trainer/core/device_upload.h"
#include "trainer/core/random.h"
#include "trainer/ops/mixup.h"

namespace trainer::tasks {

Tensor mixup(Context& ctx, Tensor& images, const Tensor& labels, int64_t k, float smoothing, float alpha,
             uint64_t seed, int64_t step) {
  TRAINER_CHECK(images.rank() >= 1, "mixup: images ", images.describe(), " have no sample axis");
  const int64_t n = images.dim(0);
  Tensor lambdas = Tensor::empty({n}, DType::F32);
  float* lam = lambdas.data<float>();
  Philox rng(seed, mix_stream({0x6d69787570ull /* "mixup" */, static_cast<uint64_t>(step)}));
  for (int64_t i = 0; i < n; ++i) lam[i] = static_cast<float>(rng.beta(alpha, alpha));
  ops::MixedBatch mixed = ops::mixup(ctx, images, labels, upload(lambdas, images.device()).ready(), k, smoothing);
  images = std::move(mixed.images);
  return std::move(mixed.targets);
}

}  // namespace trainer::tasks
