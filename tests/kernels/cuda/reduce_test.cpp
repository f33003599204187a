// CUDA full reductions against the CPU backend (cpu::sum, cpu::all_finite) and an independent
// double-precision squared norm (math::squared_norm's formula; it lives in ops, which these
// tests do not link), in f32, f16 and bf16, over sizes from empty to several blocks with a
// tail that is not a whole vector, aligned and not. Also: results are the same bits run to run.
#include "trainer/kernels/cuda/reduce.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "dense_test_util.h"
#include "trainer/core/error.h"
#include "trainer/kernels/cpu/elementwise.h"

namespace trainer::cuda {
namespace {

using testing::CpuType;
using testing::DeviceArray;
using testing::to_cpu;

// 0, a partial vector, one block, several blocks with a tail (100003 = 12500 vectors of 8 + 3).
constexpr int64_t kSizes[] = {0, 1, 7, 1000, 100003};

template <class T>
class CudaReduce : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, float16, bfloat16>;
TYPED_TEST_SUITE(CudaReduce, FloatTypes);

struct Result {
  double d;
  float f;
};

template <class T>
Result gpu_sum(const std::vector<T>& x, int64_t offset, double scale) {
  DeviceArray<T> d_x(std::max<size_t>(x.size(), 1));
  if (!x.empty()) d_x.upload(x);
  DeviceArray<double> d_out64(1);
  DeviceArray<float> d_out32(1);
  sum<T>(d_x.get() + offset, static_cast<int64_t>(x.size()) - offset, scale, d_out64.get(), d_out32.get(), nullptr);
  return {d_out64.download()[0], d_out32.download()[0]};
}

// Both sum the same floats in double, in different orders: each is within n * 2^-53 * sum|x|
// of the exact sum.
double sum_tolerance(const std::vector<double>& terms) {
  double abs_sum = 0;
  for (double t : terms) abs_sum += std::fabs(t);
  return 2.0 * static_cast<double>(terms.size() + 1) * std::ldexp(1.0, -53) * abs_sum;
}

TYPED_TEST(CudaReduce, SumAndMeanMatchCpu) {
  using T = TypeParam;
  for (const int64_t n : kSizes)
    for (const int64_t offset : {int64_t{0}, int64_t{1}}) {  // offset 1: no 16-byte vectors
      if (offset > n) continue;
      SCOPED_TRACE(testing::dtype_label<T>() + " n=" + std::to_string(n) + " offset " + std::to_string(offset));
      const std::vector<T> x = testing::random_values<T>(n, 0.3f, 2.f, 61);
      const std::vector<CpuType<T>> xc = to_cpu(x);
      const double want = cpu::sum<CpuType<T>>(xc.data() + offset, n - offset);
      std::vector<double> terms;
      for (int64_t i = offset; i < n; ++i) terms.push_back(double(float(x[i])));
      const double tol = sum_tolerance(terms);
      const Result s = gpu_sum(x, offset, 1.0);
      EXPECT_NEAR(s.d, want, tol);
      EXPECT_EQ(s.f, static_cast<float>(s.d));
      if (n - offset > 0) {
        const double inv = 1.0 / static_cast<double>(n - offset);
        const Result m = gpu_sum(x, offset, inv);
        EXPECT_NEAR(m.d, want * inv, tol * inv + 1e-300);
      }
    }
}

// Tensor::full(shape, dy.item() * factor, dtype): double product, rounded to float, then to T.
TYPED_TEST(CudaReduce, SumBackwardFillsLikeTensorFull) {
  using T = TypeParam;
  for (const int64_t n : {int64_t{1}, int64_t{7}, int64_t{100003}})
    for (const int64_t offset : {int64_t{0}, int64_t{1}}) {
      SCOPED_TRACE(testing::dtype_label<T>() + " n=" + std::to_string(n) + " offset " + std::to_string(offset));
      const float dy = 0.37f;
      const double factor = 1.0 / 3.0;
      DeviceArray<float> d_dy(std::vector<float>{dy});
      DeviceArray<T> d_dx(n + offset);
      sum_backward<T>(d_dy.get(), factor, d_dx.get() + offset, n, nullptr);
      const std::vector<T> got = d_dx.download();
      const std::vector<T> want(n, T(static_cast<float>(double(dy) * factor)));
      EXPECT_TRUE(testing::same_values(std::vector<T>(got.begin() + offset, got.end()), want));
    }
}

TEST(CudaReduce, SquaredNormMatchesADoubleReference) {
  for (const int64_t n : kSizes)
    for (const int64_t offset : {int64_t{0}, int64_t{1}}) {
      if (offset > n) continue;
      SCOPED_TRACE("n=" + std::to_string(n) + " offset " + std::to_string(offset));
      const std::vector<float> x = testing::random_values<float>(std::max<int64_t>(n, 1), 0.f, 0.01f, 62);
      std::vector<double> terms;
      double want = 0;
      for (int64_t i = offset; i < n; ++i) {
        terms.push_back(double(x[i]) * x[i]);
        want += terms.back();
      }
      DeviceArray<float> d_x(x);
      DeviceArray<double> d_out64(1);
      DeviceArray<float> d_out32(1);
      squared_norm(d_x.get() + offset, n - offset, d_out64.get(), d_out32.get(), nullptr);
      const double got = d_out64.download()[0];
      EXPECT_NEAR(got, want, sum_tolerance(terms));
      EXPECT_EQ(d_out32.download()[0], static_cast<float>(got));
    }
}

TEST(CudaReduce, AllFiniteMatchesCpu) {
  const int64_t n = 100003;
  const std::vector<float> base = testing::random_values<float>(n, 0.f, 1e30f, 63);
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  struct Poison {
    int64_t where;
    float value;
  };
  // None; first element; inside the last full vector; in the scalar tail; NaN mid-buffer.
  const std::vector<std::vector<Poison>> cases = {{}, {{0, inf}}, {{n - 4, -inf}}, {{n - 1, nan}}, {{51234, nan}},
                                                 {{5, inf}, {90000, nan}}};
  for (const auto& poison : cases) {
    std::vector<float> x = base;
    for (const Poison& p : poison) x[p.where] = p.value;
    DeviceArray<float> d_x(x);
    DeviceArray<int32_t> d_ok(1);
    all_finite(d_x.get(), n, d_ok.get(), nullptr);
    EXPECT_EQ(d_ok.download()[0], cpu::all_finite(x.data(), n) ? 1 : 0) << poison.size() << " poisoned";
    all_finite(d_x.get() + 1, n - 1, d_ok.get(), nullptr);  // misaligned: scalar loads
    EXPECT_EQ(d_ok.download()[0], cpu::all_finite(x.data() + 1, n - 1) ? 1 : 0);
  }
  DeviceArray<int32_t> d_ok(1);
  all_finite(nullptr, 0, d_ok.get(), nullptr);
  EXPECT_EQ(d_ok.download()[0], 1);
}

// A fixed tree: repeated runs give the same bits (and ctest runs this in both thread orders).
TEST(CudaReduce, SumsAreReproducible) {
  const std::vector<float> x = testing::random_values<float>(300001, 1.f, 100.f, 64);
  const Result first = gpu_sum(x, 0, 1.0);
  for (int run = 0; run < 3; ++run) EXPECT_EQ(testing::bits_of(gpu_sum(x, 0, 1.0).d), testing::bits_of(first.d));
}

TEST(CudaReduce, RejectsNegativeSizes) {
  EXPECT_THROW(sum<float>(nullptr, -1, 1.0, nullptr, nullptr, nullptr), Error);
  EXPECT_THROW(squared_norm(nullptr, -1, nullptr, nullptr, nullptr), Error);
}

}  // namespace
}  // namespace trainer::cuda
