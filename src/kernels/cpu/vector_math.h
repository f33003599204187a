// Transcendental functions as branch-free float polynomials that `omp simd` loops turn into
// vector code (libm's expf is a scalar call per element): for the losses over every anchor x
// class (kernels/cpu/detection_losses.cpp) and the sigmoid-based activations (swish, sigmoid).
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace trainer::cpu {

// exp(x) for x <= 0, Cephes' expf polynomial (~1 ulp): x = n ln2 + r, |r| <= ln2 / 2,
// exp(x) = 2^n exp(r). Arguments below -87 give exp(-87) ~ 1.6e-38 instead of a denormal or
// 0, which changes no loss or gradient by more than 1e-37.
inline float exp_nonpositive(float x) {
  x = std::max(x, -87.f);
  // n = round(x / ln2) by adding and removing 1.5 * 2^23 (std::floor does not vectorise).
  const float n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;  // ln2 in two parts
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.f;
  const int32_t exponent = (static_cast<int32_t>(n) + 127) << 23;  // 2^n, n in [-126, 0]
  return p * std::bit_cast<float>(exponent);
}

// sigmoid(x) = 1 / (1 + exp(-x)) without overflow for either sign, from exp(-|x|) <= 1.
inline float sigmoid_stable(float x) {
  const float e = exp_nonpositive(-std::abs(x));
  const float inv = 1.f / (1.f + e);
  return x >= 0.f ? inv : e * inv;
}

}  // namespace trainer::cpu
