#include "trainer/kernels/cpu/fusion.h"

#include <algorithm>

#include "trainer/core/error.h"
#include "trainer/core/half.h"
#include "trainer/core/parallel.h"
#include "trainer/kernels/cpu/pointwise.h"

namespace trainer::cpu {
namespace {

void check(const FusionShape& s) {
  TRAINER_CHECK(s.inputs >= 1 && s.inputs <= FusionShape::kMaxInputs, "fusion: ", s.inputs, " inputs (1..",
                FusionShape::kMaxInputs, " supported)");
}

}  // namespace

void fusion_coefficients(const FusionShape& s, const float* w, float* c, float* sum) {
  check(s);
  float total = s.epsilon;
  for (int i = 0; i < s.inputs; ++i) total += std::max(w[i], 0.f);
  for (int i = 0; i < s.inputs; ++i) c[i] = std::max(w[i], 0.f) / total;
  *sum = total;
}

template <class T>
void fusion_forward(const FusionShape& s, const T* const* x, const float* w, T* y) {
  float c[FusionShape::kMaxInputs], total;
  fusion_coefficients(s, w, c, &total);
  const T* x0 = x[0];
  const T* x1 = s.inputs > 1 ? x[1] : nullptr;
  const T* x2 = s.inputs > 2 ? x[2] : nullptr;
  const T* x3 = s.inputs > 3 ? x[3] : nullptr;
  const float c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
  // One loop per input count so each body is a fixed multiply-add chain GCC vectorises.
  switch (s.inputs) {
    case 1: pointwise_for(s.size, [=](int64_t i) { store_f32(y, i, c0 * load_f32(x0, i)); }); return;
    case 2:
      pointwise_for(s.size, [=](int64_t i) { store_f32(y, i, c0 * load_f32(x0, i) + c1 * load_f32(x1, i)); });
      return;
    case 3:
      pointwise_for(s.size, [=](int64_t i) {
        store_f32(y, i, c0 * load_f32(x0, i) + c1 * load_f32(x1, i) + c2 * load_f32(x2, i));
      });
      return;
    case 4:
      pointwise_for(s.size, [=](int64_t i) {
        store_f32(y, i, c0 * load_f32(x0, i) + c1 * load_f32(x1, i) + c2 * load_f32(x2, i) + c3 * load_f32(x3, i));
      });
      return;
  }
}

template <class T>
void fusion_backward_inputs(const FusionShape& s, const T* dy, const float* w, T* const* dx) {
  float c[FusionShape::kMaxInputs], total;
  fusion_coefficients(s, w, c, &total);
  for (int k = 0; k < s.inputs; ++k) {
    T* out = dx[k];
    const float ck = c[k];
    pointwise_for(s.size, [=](int64_t i) { store_f32(out, i, ck * load_f32(dy, i)); });
  }
}

template <class T>
void fusion_backward_weights(const FusionShape& s, const T* dy, const T* const* x, const float* w, float* dw) {
  float c[FusionShape::kMaxInputs], total;
  fusion_coefficients(s, w, c, &total);
  double dot[FusionShape::kMaxInputs] = {};
  for (int k = 0; k < s.inputs; ++k) {
    const T* xk = x[k];
    dot[k] = deterministic_sum(s.size, kPointwiseGrain,
                               [=](int64_t i) { return static_cast<double>(load_f32(dy, i)) * load_f32(xk, i); });
  }
  double dy_dot_y = 0;
  for (int k = 0; k < s.inputs; ++k) dy_dot_y += static_cast<double>(c[k]) * dot[k];
  for (int k = 0; k < s.inputs; ++k)
    dw[k] = w[k] > 0.f ? static_cast<float>((dot[k] - dy_dot_y) / static_cast<double>(total)) : 0.f;
}

#define TRAINER_FUSION_INSTANTIATE(T)                                                                \
  template void fusion_forward<T>(const FusionShape&, const T* const*, const float*, T*);            \
  template void fusion_backward_inputs<T>(const FusionShape&, const T*, const float*, T* const*);    \
  template void fusion_backward_weights<T>(const FusionShape&, const T*, const T* const*, const float*, float*);
TRAINER_FUSION_INSTANTIATE(float)
TRAINER_FUSION_INSTANTIATE(bfloat16)
#undef TRAINER_FUSION_INSTANTIATE

}  // namespace trainer::cpu
