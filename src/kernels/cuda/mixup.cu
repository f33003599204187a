// Mixup's blend. Design and costs: include/trainer/kernels/cuda/mixup.h.
#include "trainer/kernels/cuda/mixup.h"

#include "elementwise.cuh"
#include "trainer/core/error.h"

namespace trainer::cuda {
namespace {

template <class D>
struct BlendImages {
  int64_t batch, per;
  const D* images;
  const float* lambdas;
  D* mixed;
  __device__ void operator()(int64_t idx) const {
    const int64_t i = idx / per, e = idx - i * per;
    const float lam = lambdas[i];
    const float partner = to_float(images[(batch - 1 - i) * per + e]);
    mixed[idx] = from_float<D>(fmaf(lam, to_float(images[idx]), (1.f - lam) * partner));
  }
};

struct BlendTargets {
  int64_t batch, classes;
  float off, on;
  const int32_t* labels;
  const float* lambdas;
  float* targets;
  __device__ void operator()(int64_t idx) const {
    const int64_t i = idx / classes, c = idx - i * classes;
    const int32_t mine = labels[i], partner = labels[batch - 1 - i];
    if (mine < 0 || mine >= classes || partner < 0 || partner >= classes) {
      targets[idx] = NAN;  // see the header
      return;
    }
    const float lam = lambdas[i];
    float t = off;
    if (c == mine) t = fmaf(lam, on, t);
    if (c == partner) t = fmaf(1.f - lam, on, t);
    targets[idx] = t;
  }
};

}  // namespace

template <class T>
void mixup_blend(const MixupShape& s, const T* images, const int32_t* labels, const float* lambdas, T* mixed,
                 float* targets, Stream stream) {
  TRAINER_CHECK(s.batch >= 0 && s.sample_size >= 0 && s.classes >= 1, "mixup: batch ", s.batch, ", sample size ",
                s.sample_size, ", classes ", s.classes);
  using D = device_t<T>;
  for_each_index(s.batch * s.sample_size,
                 BlendImages<D>{s.batch, s.sample_size, device_ptr(images), lambdas, device_ptr(mixed)}, stream);
  for_each_index(s.batch * s.classes,
                 BlendTargets{s.batch, s.classes, s.smoothing / static_cast<float>(s.classes), 1.f - s.smoothing, labels,
                              lambdas, targets},
                 stream);
}

#define TRAINER_INSTANTIATE(T)                                                                                  \
  template void mixup_blend<T>(const MixupShape&, const T*, const int32_t*, const float*, T*, float*, Stream);
TRAINER_INSTANTIATE(float)
TRAINER_INSTANTIATE(float16)
TRAINER_INSTANTIATE(bfloat16)
#undef TRAINER_INSTANTIATE

}  // namespace trainer::cuda
