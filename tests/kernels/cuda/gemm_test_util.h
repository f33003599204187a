// Helpers for the tests of our GEMM-based kernels (conv2d_native_test.cpp, matmul_native_test.cpp):
// the four compute modes, and per-element tolerances derived from each output's reduction length
// and magnitude. Builds on device_test_util.h / gpu_test_util.h (plain host code: the same tests
// run against the emulator and against the nvcc build on a GPU).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "gpu_test_util.h"
#include "trainer/core/dtype.h"
#include "trainer/kernels/cuda/gemm_options.h"

namespace trainer::cuda::testing {

// f32 on FMAs, f32 as TF32 on tensor cores, f16 and bf16 on tensor cores.
struct Mode {
  const char* name;
  DType dtype;
  bool tf32;
  GemmOptions options() const { return GemmOptions{.allow_tf32 = tf32}; }
};
inline const Mode kModes[] = {{"f32", DType::F32, false}, {"tf32", DType::F32, true}, {"f16", DType::F16, false},
                              {"bf16", DType::BF16, false}};
inline std::string mode_name(const ::testing::TestParamInfo<Mode>& info) { return info.param.name; }
inline void PrintTo(const Mode& mode, std::ostream* os) { *os << mode.name; }

constexpr double kU32 = 1.0 / (1 << 24);  // f32 unit roundoff

// Tolerance of one output with a reduction of `terms` products whose absolute values sum to
// `magnitude` (from the same computation on |operands|), compared with the CPU backend's result
// `expected` (already rounded to the output type):
//  - f32 sums: both backends add the same `terms` exact or f32-rounded products in different
//    orders; recursive summation errs by at most terms * u * magnitude each (u = 2^-24), so the
//    two differ by at most 2 * terms * u * magnitude;
//  - tf32: both operands are rounded to 10 mantissa bits (relative error <= 2^-11 each), so each
//    product is off by <= 2^-10 of itself: + 2^-10 * magnitude (the CPU keeps f32 products);
//  - a 16-bit output is one rounding of the f32 result on each side: + eps * |expected| (one unit
//    in the last place: half an ulp each), + the smallest f16 subnormal for results near zero;
//  - f32 output: + 16 u * |expected| for the activation functions' own rounding (exp in swish and
//    sigmoid), and the bias add;
//  - x 1.1: swish's slope reaches 1.0998, so the activation can stretch the sum's error.
// An indexing mistake (a wrong tap, a shifted window, a lost tile) changes a result by at least
// one whole term, about magnitude / terms, which these bounds stay below for the sizes tested
// (worst case tf32: 2^-10 against 1 / terms, terms <= 600; 16-bit: eps |y| is about eps * magnitude /
// sqrt(terms) for random operands).
inline double tolerance(const Mode& mode, DType out_dtype, int64_t terms, double magnitude, double expected) {
  double sum = 2.0 * static_cast<double>(terms) * kU32 * magnitude;
  if (mode.tf32) sum += std::ldexp(1.0, -10) * magnitude;
  double out = 16 * kU32 * std::fabs(expected);
  if (out_dtype == DType::BF16) out = std::ldexp(1.0, -7) * std::fabs(expected) * 1.01;
  if (out_dtype == DType::F16) out = std::ldexp(1.0, -10) * std::fabs(expected) * 1.01 + std::ldexp(1.0, -24);
  return 1.1 * sum + out + 1e-30;
}

// |actual[i] - expected[i]| <= tol[i] for all i; reports how many differ and the worst one.
inline ::testing::AssertionResult within(const std::vector<float>& actual, const std::vector<float>& expected,
                                         const std::vector<double>& tol) {
  if (actual.size() != expected.size() || tol.size() != expected.size())
    return ::testing::AssertionFailure() << "sizes differ: " << actual.size() << " vs " << expected.size();
  size_t bad = 0, worst = 0;
  double worst_ratio = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double diff = std::fabs(double(actual[i]) - expected[i]);
    if (diff <= tol[i]) continue;  // NaN fails here
    ++bad;
    const double ratio = std::isnan(diff) ? INFINITY : diff / tol[i];
    if (ratio > worst_ratio || bad == 1) worst_ratio = ratio, worst = i;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << actual.size() << " elements differ; worst at [" << worst
                                       << "]: " << actual[worst] << " vs " << expected[worst] << " (tolerance "
                                       << tol[worst] << ")";
}

inline std::vector<float> abs_of(std::vector<float> v) {
  for (float& x : v) x = std::fabs(x);
  return v;
}

// A device array in `dtype` whose every byte is 0xff (NaN in every float type), so an output
// element a kernel forgets to write fails the comparison.
class PoisonedDeviceArray : public TypedDeviceArray {
 public:
  PoisonedDeviceArray(DType dtype, size_t n) : TypedDeviceArray(dtype, n) {
    if (n) TRAINER_CUDA_CHECK(cudaMemset(get(), 0xff, n * dtype_size(dtype)));
  }
};

}  // namespace trainer::cuda::testing
