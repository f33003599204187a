#include "trainer/kernels/cpu/mixup.h"

#include <algorithm>
#include <cmath>

#include "trainer/core/error.h"
#include "trainer/core/half.h"
#include "trainer/core/parallel.h"
#include "trainer/kernels/cpu/pointwise.h"

namespace trainer::cpu {

template <class T>
void mixup_blend(const MixupShape& s, const T* images, const int32_t* labels, const float* lambdas, T* mixed,
                 float* targets) {
  const int64_t n = s.batch, per = s.sample_size, k = s.classes;
  for (int64_t i = 0; i < n; ++i)
    TRAINER_CHECK(labels[i] >= 0 && labels[i] < k, "mixup: label ", labels[i], " of sample ", i, " is outside [0, ",
                  k, ")");
  // Whole samples per thread: at ImageNet sizes each one is a long vectorised run.
  parallel_for(n, std::max<int64_t>(1, kPointwiseGrain / std::max<int64_t>(per, 1)), [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float lam = lambdas[i], rest = 1.f - lambdas[i];
      const T* x = images + i * per;
      const T* partner = images + (n - 1 - i) * per;
      T* out = mixed + i * per;
#pragma omp simd
      for (int64_t e = 0; e < per; ++e) store_f32(out, e, std::fma(lam, load_f32(x, e), rest * load_f32(partner, e)));
    }
  });
  const float off = s.smoothing / static_cast<float>(k), on = 1.f - s.smoothing;
  for (int64_t i = 0; i < n; ++i) {
    float* row = targets + i * k;
    for (int64_t c = 0; c < k; ++c) row[c] = off;
    row[labels[i]] = std::fma(lambdas[i], on, row[labels[i]]);
    row[labels[n - 1 - i]] = std::fma(1.f - lambdas[i], on, row[labels[n - 1 - i]]);
  }
}

template void mixup_blend<float>(const MixupShape&, const float*, const int32_t*, const float*, float*, float*);
template void mixup_blend<bfloat16>(const MixupShape&, const bfloat16*, const int32_t*, const float*, bfloat16*,
                                    float*);

}  // namespace trainer::cpu
