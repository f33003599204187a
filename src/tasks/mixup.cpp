#include "trainer/tasks/mixup.h"

#include "trainer/core/random.h"
#include "trainer/ops/tensor_math.h"

namespace trainer::tasks {

Tensor mixup(Tensor& images, const Tensor& labels, int64_t k, float smoothing, float alpha, uint64_t seed,
             int64_t step) {
  const int64_t n = images.dim(0), per = images.numel() / n;
  Tensor x = math::cast(images, DType::F32).contiguous();
  Tensor mixed = Tensor::empty(x.shape(), DType::F32);
  Tensor targets = Tensor::zeros({n, k}, DType::F32);
  const float* src = x.data<float>();
  float* dst = mixed.data<float>();
  float* t = targets.data<float>();
  const int32_t* y = labels.data<int32_t>();
  Philox rng(seed, mix_stream({0x6d69787570ull /* "mixup" */, static_cast<uint64_t>(step)}));
  for (int64_t i = 0; i < n; ++i) {
    const float lam = static_cast<float>(rng.beta(alpha, alpha));
    const int64_t j = n - 1 - i;
    for (int64_t e = 0; e < per; ++e) dst[i * per + e] = lam * src[i * per + e] + (1 - lam) * src[j * per + e];
    const float off = smoothing / static_cast<float>(k), on = 1.f - smoothing;
    for (int64_t c = 0; c < k; ++c) t[i * k + c] = off;
    t[i * k + y[i]] += lam * on;
    t[i * k + y[j]] += (1 - lam) * on;
  }
  images = math::cast(mixed, images.dtype());
  return targets;
}

}  // namespace trainer::tasks
