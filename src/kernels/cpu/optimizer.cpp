#include "trainer/kernels/cpu/optimizer.h"

#include <cmath>

#include "trainer/core/error.h"
#include "trainer/core/parallel.h"

namespace trainer::cpu {
namespace {
constexpr int64_t kGrain = 1 << 15;
}

void momentum_sgd_step(float* w, const float* grad, float* accum, const SgdSegment* segments, int num_segments,
                       int64_t count, float lr, float momentum, bool nesterov) {
  for (int k = 0; k < num_segments; ++k) {
    const SgdSegment& s = segments[k];
    TRAINER_CHECK(s.offset >= 0 && s.size >= 0 && s.offset + s.size <= count, "momentum_sgd_step: segment [",
                  s.offset, ", ", s.offset + s.size, ") outside the buffers of ", count);
    const float wd = s.weight_decay;
    const int64_t end = s.offset + s.size;
#pragma omp parallel for simd schedule(static) if (s.size >= kGrain)
    for (int64_t i = s.offset; i < end; ++i) {
      const float g = grad[i] + wd * w[i];
      const float a = momentum * accum[i] + g;
      accum[i] = a;
      w[i] -= lr * (nesterov ? g + momentum * a : a);
    }
  }
}

void ema_update(float* ema, const float* w, int64_t n, float decay) {
  TRAINER_CHECK(n >= 0, "ema_update: negative size ", n);
  const float keep = decay, take = 1.f - decay;
#pragma omp parallel for simd schedule(static) if (n >= kGrain)
  for (int64_t i = 0; i < n; ++i) ema[i] = keep * ema[i] + take * w[i];
}

void unscale_and_check_finite(float* grads, int64_t n, float inv_scale, int32_t* all_finite, double* squared_norm) {
  int bad = 0;
  const bool scale = inv_scale != 1.f;
#pragma omp parallel for reduction(| : bad) schedule(static) if (n >= kGrain)
  for (int64_t i = 0; i < n; ++i) {
    if (scale) grads[i] *= inv_scale;
    bad |= !std::isfinite(grads[i]);
  }
  *all_finite = !bad;
  if (squared_norm) *squared_norm = cpu::squared_norm(grads, n);
}

double squared_norm(const float* x, int64_t n) {
  return deterministic_sum(n, kGrain, [x](int64_t i) { return double(x[i]) * x[i]; });
}

}  // namespace trainer::cpu
