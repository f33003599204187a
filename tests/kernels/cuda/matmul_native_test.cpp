// Our matmul (matmul_native.h: the GEMM of the convolutions on SIMT f32, TF32, f16 and bf16 tensor
// cores) against the CPU backend (oneDNN) in all four transpose cases, with bias, accumulation and
// every output type, on sizes with partial tiles, odd extents (scalar loads), wide N and long K
// (split-K). Outputs that are not accumulated into start as NaN. Tolerances: gemm_test_util.h.
#include "trainer/kernels/cuda/matmul_native.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "gemm_test_util.h"
#include "trainer/core/error.h"
#include "trainer/kernels/cpu/matmul.h"

namespace trainer::cuda {
namespace {

using testing::Mode;

enum class Out { Same, F32, Other };  // c's dtype: the input's, f32, or the other 16-bit type

struct Case {
  const char* name;
  int64_t m, n, k;
  bool trans_a, trans_b, bias, accumulate;
  Out out;
};

const Case kCases[] = {
    {"vec", 64, 48, 40, false, false, true, false, Out::Same},
    {"odd", 37, 29, 53, false, false, true, false, Out::Same},
    {"odd_trans_a", 37, 29, 53, true, false, false, true, Out::F32},
    {"odd_trans_b", 37, 29, 53, false, true, true, true, Out::Same},
    {"odd_trans_ab", 37, 29, 53, true, true, false, false, Out::Other},
    {"trans_a_vec", 40, 56, 32, true, false, true, false, Out::Same},
    {"trans_b_vec", 48, 40, 64, false, true, false, false, Out::F32},
    {"trans_ab_vec_accumulate", 24, 72, 48, true, true, true, true, Out::Other},
    {"partial_tiles_wide", 130, 136, 24, false, false, true, true, Out::Same},
    {"split_k", 20, 24, 1200, false, true, true, true, Out::F32},
    {"split_k_trans_a_odd_wide", 9, 70, 999, true, false, true, false, Out::Same},
    {"classifier_like", 16, 200, 128, false, true, true, false, Out::Same},
    {"one", 1, 1, 1, false, false, true, true, Out::Same},
};

DType out_dtype(const Mode& mode, Out out) {
  switch (out) {
    case Out::F32: return DType::F32;
    case Out::Other: return mode.dtype == DType::F16 ? DType::BF16 : DType::F16;
    default: return mode.dtype;
  }
}

std::string describe(const Case& c, DType out) {
  return std::string(c.name) + ": " + std::to_string(c.m) + "x" + std::to_string(c.n) + "x" + std::to_string(c.k) +
         (c.trans_a ? " trans_a" : "") + (c.trans_b ? " trans_b" : "") + (c.bias ? " bias" : "") +
         (c.accumulate ? " accumulate" : "") + " -> " + std::string(dtype_name(out));
}

// The CPU backend's c = op(a) op(b) (+ bias) (+ c) in f32 output (bf16 inputs stay bf16).
std::vector<float> cpu_matmul(const Case& c, DType in, const std::vector<float>& a, const std::vector<float>& b,
                              const float* bias, std::vector<float> c_old) {
  const MatmulShape s{c.m, c.n, c.k, c.trans_a, c.trans_b};
  const auto ha = testing::host_bytes(in, a), hb = testing::host_bytes(in, b);
  if (!c.accumulate) c_old.assign(c.m * c.n, 0.f);
  cpu::matmul(s, in, ha.data(), hb.data(), bias, DType::F32, c_old.data(), c.accumulate);
  return c_old;
}

class CudaMatmulNative : public ::testing::TestWithParam<Mode> {};

TEST_P(CudaMatmulNative, MatchesCpu) {
  const Mode mode = GetParam();
  for (const Case& c : kCases) {
    const DType out = out_dtype(mode, c.out);
    SCOPED_TRACE(describe(c, out));
    const auto a = testing::values_in(mode.dtype, c.m * c.k, 1.f, 1), b = testing::values_in(mode.dtype, c.k * c.n, 1.f, 2);
    const auto bias = testing::random_values<float>(c.n, 0.f, 1.f, 3);
    const auto c_old = testing::values_in(out, c.m * c.n, 2.f, 4);
    const float* host_bias = c.bias ? bias.data() : nullptr;
    const std::vector<float> expected =
        testing::rounded_to(out, cpu_matmul(c, testing::cpu_dtype_for(mode.dtype), a, b, host_bias, c_old));
    const std::vector<float> magnitude =
        cpu_matmul(c, DType::F32, testing::abs_of(a), testing::abs_of(b), nullptr, testing::abs_of(c_old));
    const int64_t terms = c.k + (c.bias ? 1 : 0) + (c.accumulate ? 1 : 0);
    std::vector<double> tol;
    for (int64_t i = 0; i < c.m * c.n; ++i) {
      const double mag = magnitude[i] + (c.bias ? std::fabs(bias[i % c.n]) : 0.f);
      tol.push_back(testing::tolerance(mode, out, terms, mag, expected[i]));
    }

    testing::TypedDeviceArray d_a(mode.dtype, a), d_b(mode.dtype, b);
    testing::DeviceArray<float> d_bias(bias);
    testing::TypedDeviceArray d_c(out, c.accumulate ? c_old : std::vector<float>(c.m * c.n, NAN));
    matmul(MatmulShape{c.m, c.n, c.k, c.trans_a, c.trans_b}, mode.dtype, d_a.get(), d_b.get(),
           c.bias ? d_bias.get() : nullptr, out, d_c.get(), c.accumulate, nullptr, mode.options());
    EXPECT_TRUE(testing::within(d_c.download(), expected, tol));
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, CudaMatmulNative, ::testing::ValuesIn(testing::kModes), testing::mode_name);

TEST(CudaMatmulNativeErrors, BadShapesAndDtypesAreErrorsThatSayWhy) {
  try {
    matmul(MatmulShape{0, 4, 4}, DType::F32, nullptr, nullptr, nullptr, DType::F32, nullptr, false, nullptr);
    FAIL() << "empty shape accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty shape"), std::string::npos) << e.what();
  }
  try {
    matmul(MatmulShape{4, 4, 4}, DType::F32, nullptr, nullptr, nullptr, DType::I32, nullptr, false, nullptr);
    FAIL() << "i32 output accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported output dtype i32"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace trainer::cuda
