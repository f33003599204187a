#include "trainer/kernels/cpu/detection_losses.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "trainer/core/half.h"
#include "trainer/core/parallel.h"
#include "vector_math.h"
#include "trainer/kernels/cpu/pointwise.h"

namespace trainer::cpu {
namespace {

// Rows per chunk of the deterministic sums: a row is ~91 classes.
constexpr int64_t kFocalRowGrain = 64;
constexpr int64_t kBoxRowGrain = 4096;

// The focal loss runs on every anchor x class slot of a batch (32 x 12,804 x 91 = 37 million
// entries per step), so its transcendental functions are written out as branch-free
// polynomials that `omp simd` turns into vector code; libm's expf and log1pf are scalar calls.

// log(1 + e) for e in [0, 1] to ~1e-7 relative, also for tiny e where 1 + e rounds to 1:
// log1p(e) = 2 atanh(s), s = e / (2 + e) <= 1/3, by its odd series (the first omitted term
// is below 1e-8 of the sum).
inline float log1p_unit(float e) {
  const float s = e / (2.f + e), s2 = s * s;
  float p = 1.f / 15.f;
  p = p * s2 + 1.f / 13.f;
  p = p * s2 + 1.f / 11.f;
  p = p * s2 + 1.f / 9.f;
  p = p * s2 + 1.f / 7.f;
  p = p * s2 + 1.f / 5.f;
  p = p * s2 + 1.f / 3.f;
  p = p * s2 + 1.f;
  return 2.f * s * p;
}

// One entry of the focal loss: its value (without the row weight) and, through `grad`, its
// derivative with respect to the logit (without the row weight). Power is gamma's special
// case 2 (the config's: plain products), 0 (no modulating factor) or any other value.
enum class Power { Two, OneAndHalf, Zero, General };  // gamma 2 (RetinaNet), 1.5 (EfficientDet)

template <Power kPower>
inline float focal_entry(float x, float t, float alpha, bool use_alpha, float gamma, float& grad) {
  const float e = exp_nonpositive(-std::abs(x));
  const float sig_abs = 1.f / (1.f + e);  // sigmoid(|x|)
  const float sig_neg_abs = e * sig_abs;  // sigmoid(-|x|) = 1 - sigmoid(|x|), without cancelling
  const float p = x >= 0.f ? sig_abs : sig_neg_abs;
  const float one_minus_p = x >= 0.f ? sig_neg_abs : sig_abs;
  const float ce = std::max(x, 0.f) - x * t + log1p_unit(e);
  const float q = t * one_minus_p + (1.f - t) * p;  // 1 - p_t
  const float a = use_alpha ? t * alpha + (1.f - t) * (1.f - alpha) : 1.f;
  float power, derivative;  // q^gamma and gamma q^(gamma - 1)
  if constexpr (kPower == Power::Two) {
    power = q * q;
    derivative = 2.f * q;
  } else if constexpr (kPower == Power::OneAndHalf) {
    const float root = std::sqrt(q);  // vectorises, where std::pow is a scalar call
    power = q * root;
    derivative = 1.5f * root;
  } else if constexpr (kPower == Power::Zero) {
    power = 1.f;
    derivative = 0.f;
  } else {
    // q = 0 only where p (1 - p) is 0 too: the derivative's product is then 0 (q^(gamma - 1)
    // would be infinite for gamma < 1).
    const float pm1 = q > 0.f ? std::pow(q, gamma - 1.f) : 0.f;
    power = pm1 * q;
    derivative = gamma * pm1;
  }
  const float dq = (1.f - 2.f * t) * (p * one_minus_p);  // d(1 - p_t)/dx
  grad = a * (derivative * dq * ce + power * (p - t));
  return a * power * ce;
}

// One row (anchor) of k entries, weight w != 0. A function of its own, with everything in
// locals and restrict pointers, so that the vectoriser sees no aliasing.
template <Power kPower, class T>
double focal_row(const T* __restrict z, const float* __restrict t, float w, int64_t k, float alpha, bool use_alpha,
                 float gamma, float* __restrict g) {
  float row = 0;  // a lane accumulates ~k / 16 terms; the rows are summed in double
  if (g) {
#pragma omp simd reduction(+ : row)
    for (int64_t j = 0; j < k; ++j) {
      float dj;
      row += focal_entry<kPower>(float(z[j]), t[j], alpha, use_alpha, gamma, dj);
      g[j] = w * dj;
    }
  } else {
#pragma omp simd reduction(+ : row)
    for (int64_t j = 0; j < k; ++j) {
      float dj;
      row += focal_entry<kPower>(float(z[j]), t[j], alpha, use_alpha, gamma, dj);
    }
  }
  return static_cast<double>(row) * static_cast<double>(w);
}

template <Power kPower, class T>
double focal_sum(const T* logits, const float* targets, const float* weights, int64_t rows, int64_t k, float alpha,
                 float gamma, float* grad) {
  const bool use_alpha = alpha >= 0.f;
  return deterministic_sum(rows, kFocalRowGrain, [=](int64_t r) {
    const float w = weights[r];
    float* g = grad ? grad + r * k : nullptr;
    if (w == 0.f) {
      if (g) std::fill(g, g + k, 0.f);
      return 0.0;
    }
    return focal_row<kPower>(logits + r * k, targets + r * k, w, k, alpha, use_alpha, gamma, g);
  });
}

}  // namespace

template <class T>
double sigmoid_focal_loss_forward(const T* logits, const float* targets, const float* weights, int64_t rows,
                                  int64_t k, float alpha, float gamma, float* grad) {
  if (gamma == 2.f) return focal_sum<Power::Two>(logits, targets, weights, rows, k, alpha, gamma, grad);
  if (gamma == 1.5f) return focal_sum<Power::OneAndHalf>(logits, targets, weights, rows, k, alpha, gamma, grad);
  if (gamma == 0.f) return focal_sum<Power::Zero>(logits, targets, weights, rows, k, alpha, gamma, grad);
  return focal_sum<Power::General>(logits, targets, weights, rows, k, alpha, gamma, grad);
}

template <class T>
double smooth_l1_loss_forward(const T* pred, const float* targets, const float* weights, int64_t rows,
                              int64_t code, float delta, float* grad) {
  return deterministic_sum(rows, kBoxRowGrain, [&](int64_t r) {
    const float w = weights[r];
    double row = 0;
    for (int64_t j = 0; j < code; ++j) {
      const int64_t i = r * code + j;
      const float x = float(pred[i]);
      const float target = std::isnan(targets[i]) ? x : targets[i];
      const float err = x - target;
      const float abs_err = std::abs(err);
      const float quadratic = std::min(abs_err, delta);
      const float linear = abs_err - quadratic;
      row += static_cast<double>(0.5f * quadratic * quadratic + delta * linear);
      if (grad) grad[i] = w * std::clamp(err, -delta, delta);
    }
    return row * static_cast<double>(w);
  });
}

template <class T>
void scale_saved_gradient(const float* grad, int64_t n, float scale, T* dx) {
  pointwise_for(n, [=](int64_t i) { dx[i] = T(grad[i] * scale); });
}

#define TRAINER_INSTANTIATE(T)                                                                                  \
  template double sigmoid_focal_loss_forward<T>(const T*, const float*, const float*, int64_t, int64_t, float, \
                                                float, float*);                                               \
  template double smooth_l1_loss_forward<T>(const T*, const float*, const float*, int64_t, int64_t, float,     \
                                            float*);                                                          \
  template void scale_saved_gradient<T>(const float*, int64_t, float, T*);
TRAINER_INSTANTIATE(float)
TRAINER_INSTANTIATE(bfloat16)
#undef TRAINER_INSTANTIATE

}  // namespace trainer::cpu
