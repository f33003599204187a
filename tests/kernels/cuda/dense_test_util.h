// Helpers for the dense-op CUDA tests (pooling, resample, elementwise, softmax cross-entropy,
// reductions, optimizer kernels): the CPU reference for every element type, bitwise and
// per-element-tolerance comparisons. Builds on device_test_util.h.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <type_traits>
#include <vector>

#include "device_test_util.h"
#include "trainer/core/half.h"

namespace trainer::cuda::testing {

// The CPU backend has float and bfloat16 kernels but no float16 ones: f16 is checked against
// the f32 CPU kernel run on the same (f16) values, its outputs rounded to f16 once, which is
// what the CUDA kernels compute (float arithmetic, one rounding at the store).
template <class T>
using CpuType = std::conditional_t<std::is_same_v<T, float16>, float, T>;

template <class T>
std::vector<CpuType<T>> to_cpu(const std::vector<T>& v) {
  if constexpr (std::is_same_v<T, float16>) return to_floats(v);
  else return v;
}
template <class T>
std::vector<T> from_cpu(const std::vector<CpuType<T>>& v) {
  if constexpr (std::is_same_v<T, float16>) return from_floats<float16>(v);
  else return v;
}

// Unit roundoff of f32 (half an ulp at 1.0).
constexpr double kF32Roundoff = 1.0 / (1 << 24);

// Element by element equality of the stored values (NaN equals NaN; +0 and -0 are equal).
template <class T>
::testing::AssertionResult same_values(const std::vector<T>& actual, const std::vector<T>& expected) {
  return all_close(to_floats(actual), to_floats(expected), 0.0, 0.0);
}
inline ::testing::AssertionResult same_values(const std::vector<int32_t>& actual,
                                              const std::vector<int32_t>& expected) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure() << "sizes differ: " << actual.size() << " vs " << expected.size();
  for (size_t i = 0; i < actual.size(); ++i)
    if (actual[i] != expected[i])
      return ::testing::AssertionFailure() << "first difference at [" << i << "]: " << actual[i] << " vs "
                                           << expected[i];
  return ::testing::AssertionSuccess();
}

// |actual[i] - expected[i]| <= atol[i] + rtol * |expected[i]| for every element.
inline ::testing::AssertionResult close_each(const std::vector<float>& actual, const std::vector<float>& expected,
                                             const std::vector<double>& atol, double rtol) {
  if (actual.size() != expected.size() || atol.size() != expected.size())
    return ::testing::AssertionFailure() << "sizes differ: " << actual.size() << " vs " << expected.size();
  size_t bad = 0, worst = 0;
  double worst_excess = -1;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], e = expected[i], limit = atol[i] + rtol * std::fabs(e);
    if (std::isnan(e) ? std::isnan(a) : std::fabs(a - e) <= limit) continue;
    ++bad;
    const double excess = std::isnan(a) ? INFINITY : std::fabs(a - e) - limit;
    if (excess > worst_excess) worst_excess = excess, worst = i;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << actual.size() << " elements differ; worst at [" << worst
                                       << "]: " << actual[worst] << " vs " << expected[worst] << " (atol "
                                       << atol[worst] << ", rtol " << rtol << ")";
}

// The bits of a float (for "the same bits on every run").
inline uint32_t bits_of(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  return u;
}
inline uint64_t bits_of(double v) {
  uint64_t u;
  std::memcpy(&u, &v, 8);
  return u;
}

}  // namespace trainer::cuda::testing
