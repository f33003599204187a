// CUDA binary elementwise ops with broadcasting, the broadcast operand's gradient and scale,
// against the CPU backend in f32, f16 and bf16. Shapes cover every broadcast the models use
// (same shape, per-channel vector [C] vs NHWC, squeeze-excite [N,1,1,C] vs [N,H,W,C]), inner
// sizes with and without 16-byte vectors, and reductions long enough to be split over blocks
// (the merge pass).
#include "trainer/kernels/cuda/elementwise.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "dense_test_util.h"
#include "trainer/core/error.h"
#include "trainer/kernels/cpu/elementwise.h"

namespace trainer::cuda {
namespace {

using testing::CpuType;
using testing::DeviceArray;
using testing::from_cpu;
using testing::same_values;
using testing::to_cpu;
using testing::to_floats;

std::string label(const std::string& dtype, const Broadcast& bc) {
  return dtype + " [" + std::to_string(bc.outer) + ", " + std::to_string(bc.mid) + ", " + std::to_string(bc.inner) +
         "]";
}

// flat with and without vectors; per-channel with and without; squeeze-excite; tiny; a
// broadcast along mid with several outer rows and an inner size past one block's lanes.
const Broadcast kBinaryShapes[] = {{1, 1, 4096}, {1, 1, 1003}, {1, 777, 24}, {1, 300, 5},
                                   {3, 49, 64},  {2, 5, 3},    {5, 3, 2056}};

// Per-channel over 20000 rows (split over 39 blocks, merge pass) and over 5000 with C = 3;
// squeeze-excite; mid = 1 (no sum); inner past one tile of lanes, without vectors.
const Broadcast kReduceShapes[] = {{1, 20000, 24}, {1, 5000, 3}, {4, 49, 64}, {2, 1, 7}, {3, 100, 130}};

template <class T>
class CudaElementwise : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, float16, bfloat16>;
TYPED_TEST_SUITE(CudaElementwise, FloatTypes);

template <class T>
std::vector<T> cpu_binary(BinaryOp op, const Broadcast& bc, const std::vector<T>& a, const std::vector<T>& b) {
  std::vector<CpuType<T>> y(bc.size());
  cpu::binary_forward<CpuType<T>>(op, bc, to_cpu(a).data(), to_cpu(b).data(), y.data());
  return from_cpu<T>(y);
}

// One float operation rounded once, as on the CPU: bit for bit.
TYPED_TEST(CudaElementwise, BinaryForwardMatchesCpuBitForBit) {
  using T = TypeParam;
  for (const Broadcast& bc : kBinaryShapes)
    for (const BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul}) {
      SCOPED_TRACE(label(testing::dtype_label<T>(), bc) + " op " + std::to_string(static_cast<int>(op)));
      const std::vector<T> a = testing::random_values<T>(bc.size(), 0.5f, 2.f, 41);
      const std::vector<T> b = testing::random_values<T>(bc.outer * bc.inner, -0.5f, 2.f, 42);
      DeviceArray<T> d_a(a), d_b(b), d_y(bc.size());
      binary_forward<T>(op, bc, d_a.get(), d_b.get(), d_y.get(), nullptr);
      EXPECT_TRUE(same_values(d_y.download(), cpu_binary(op, bc, a, b)));
    }
}

TEST(CudaElementwise, BinaryForwardOnMisalignedBuffersUsesTheScalarPath) {
  const Broadcast bc{2, 9, 16};
  const std::vector<float> a = testing::random_values<float>(bc.size() + 1, 0.f, 1.f, 43),
                           b = testing::random_values<float>(bc.outer * bc.inner + 1, 0.f, 1.f, 44);
  DeviceArray<float> d_a(a), d_b(b), d_y(bc.size() + 1);
  binary_forward<float>(BinaryOp::Mul, bc, d_a.get() + 1, d_b.get() + 1, d_y.get() + 1, nullptr);
  std::vector<float> y(bc.size());
  cpu::binary_forward<float>(BinaryOp::Mul, bc, a.data() + 1, b.data() + 1, y.data());
  const std::vector<float> got = d_y.download();
  EXPECT_TRUE(same_values(std::vector<float>(got.begin() + 1, got.end()), y));
}

template <class T>
std::vector<T> cpu_reduce(const Broadcast& bc, const std::vector<T>& dy, const std::vector<T>* a) {
  std::vector<CpuType<T>> db(bc.outer * bc.inner);
  const std::vector<CpuType<T>> dyc = to_cpu(dy), ac = a ? to_cpu(*a) : std::vector<CpuType<T>>();
  cpu::broadcast_reduce<CpuType<T>>(bc, dyc.data(), a ? ac.data() : nullptr, db.data());
  return from_cpu<T>(db);
}

template <class T>
std::vector<T> gpu_reduce(const Broadcast& bc, const std::vector<T>& dy, const std::vector<T>* a) {
  DeviceArray<T> d_dy(dy), d_a(a ? a->size() : 0), d_db(bc.outer * bc.inner);
  if (a) d_a.upload(*a);
  broadcast_reduce<T>(bc, d_dy.get(), a ? d_a.get() : nullptr, d_db.get(), nullptr);
  return d_db.download();
}

TYPED_TEST(CudaElementwise, BroadcastReduceMatchesCpu) {
  using T = TypeParam;
  for (const Broadcast& bc : kReduceShapes)
    for (const bool with_a : {false, true}) {
      SCOPED_TRACE(label(testing::dtype_label<T>(), bc) + (with_a ? " dy * a" : " dy"));
      const std::vector<T> dy = testing::random_values<T>(bc.size(), 0.1f, 1.f, 45);
      const std::vector<T> a = testing::random_values<T>(bc.size(), 0.f, 1.5f, 46);
      const std::vector<T> got = gpu_reduce(bc, dy, with_a ? &a : nullptr);
      const std::vector<T> want = cpu_reduce(bc, dy, with_a ? &a : nullptr);
      // The CPU sums in double; the GPU in float along chains of at most ~40 additions at these
      // shapes (<= 20 rows per thread, <= 8 tree levels over row lanes, <= 5 + 3 in the merge
      // pass), each off by at most u * sum|terms|: allow 64 u * sum|terms| per output, plus one
      // ulp of T for the final rounding.
      std::vector<double> atol(bc.outer * bc.inner, 0.0);
      for (int64_t o = 0; o < bc.outer; ++o)
        for (int64_t m = 0; m < bc.mid; ++m)
          for (int64_t i = 0; i < bc.inner; ++i) {
            const int64_t idx = (o * bc.mid + m) * bc.inner + i;
            atol[o * bc.inner + i] += std::fabs(double(float(dy[idx])) * (with_a ? double(float(a[idx])) : 1.0));
          }
      for (double& t : atol) t *= 64 * testing::kF32Roundoff;
      EXPECT_TRUE(testing::close_each(to_floats(got), to_floats(want), atol, testing::epsilon_of<T>()));
    }
}

// Small integers: every partial sum is exact in float whatever the order, so the GPU's
// reduction must equal the CPU's exactly; a dropped or doubled term cannot hide in a tolerance.
TYPED_TEST(CudaElementwise, BroadcastReduceOfIntegersIsExact) {
  using T = TypeParam;
  for (const Broadcast& bc : kReduceShapes)
    for (const bool with_a : {false, true}) {
      SCOPED_TRACE(label(testing::dtype_label<T>(), bc) + (with_a ? " dy * a" : " dy"));
      std::vector<T> dy(bc.size()), a(bc.size());
      for (int64_t i = 0; i < bc.size(); ++i) {
        dy[i] = T(static_cast<float>((i * 7 + i / 5) % 5 - 2));
        a[i] = T(static_cast<float>((i * 3 + i / 11) % 3 - 1));
      }
      EXPECT_TRUE(same_values(gpu_reduce(bc, dy, with_a ? &a : nullptr), cpu_reduce(bc, dy, with_a ? &a : nullptr)));
    }
}

TYPED_TEST(CudaElementwise, ScaleMatchesCpu) {
  using T = TypeParam;
  for (const int64_t n : {int64_t{1}, int64_t{7}, int64_t{4096}, int64_t{10003}}) {
    SCOPED_TRACE(testing::dtype_label<T>() + " n=" + std::to_string(n));
    const std::vector<T> x = testing::random_values<T>(n, 0.f, 2.f, 47);
    const std::vector<T> y0 = testing::random_values<T>(n, 1.f, 1.f, 48);
    const float alpha = -0.3f;
    DeviceArray<T> d_x(x), d_y(y0);
    scale<T>(d_x.get(), alpha, d_y.get(), n, false, nullptr);
    std::vector<CpuType<T>> y(n);
    cpu::scale<CpuType<T>>(to_cpu(x).data(), alpha, y.data(), n, false);
    EXPECT_TRUE(same_values(d_y.download(), from_cpu<T>(y)));  // one product, one rounding

    d_y.upload(y0);
    scale<T>(d_x.get(), alpha, d_y.get(), n, true, nullptr);
    std::vector<CpuType<T>> acc = to_cpu(y0);
    cpu::scale<CpuType<T>>(to_cpu(x).data(), alpha, acc.data(), n, true);
    // y + alpha * x: fused or not depending on the compiler, one f32 ulp of the terms (|y|,
    // |alpha x| < 8 here: 16 u); then one ulp of T for 16-bit storage.
    EXPECT_TRUE(testing::all_close(to_floats(d_y.download()), to_floats(from_cpu<T>(acc)), 16 * testing::kF32Roundoff,
                                   testing::epsilon_of<T>()));
  }
}

TEST(CudaElementwise, ScaleInPlace) {
  const std::vector<float> x = testing::random_values<float>(1001, 0.f, 1.f, 49);
  DeviceArray<float> d_x(x);
  scale<float>(d_x.get(), -1.f, d_x.get(), 1001, false, nullptr);
  std::vector<float> neg(x.size());
  for (size_t i = 0; i < x.size(); ++i) neg[i] = -x[i];
  EXPECT_TRUE(same_values(d_x.download(), neg));
}

TEST(CudaElementwise, RejectsNegativeSizes) {
  EXPECT_THROW(binary_forward<float>(BinaryOp::Add, Broadcast{1, -1, 4}, nullptr, nullptr, nullptr, nullptr), Error);
  EXPECT_THROW(scale<float>(nullptr, 1.f, nullptr, -1, false, nullptr), Error);
}

}  // namespace
}  // namespace trainer::cuda
