// CUDA nearest 2x upsampling and its gradient against the CPU backend in f32, f16 and bf16.
// Forward copies values and backward adds the four values of each 2x2 block in the CPU's order,
// so both match bit for bit. Channel counts with and without 16-byte vectors (64 and 24 take
// them for f32, 64 for 16-bit; 3 and 5 do not); widths whose rows fill a thread block partially
// or several times.
#include "trainer/kernels/cuda/resample.h"

#include <gtest/gtest.h>

#include <string>

#include "dense_test_util.h"
#include "trainer/core/error.h"
#include "trainer/kernels/cpu/resample.h"

namespace trainer::cuda {
namespace {

using testing::CpuType;
using testing::DeviceArray;
using testing::from_cpu;
using testing::same_values;
using testing::to_cpu;

struct Shape {
  int64_t n, h, w, c;
};
constexpr Shape kShapes[] = {{2, 5, 7, 64}, {1, 3, 4, 3}, {3, 4, 5, 24}, {1, 2, 70, 8}, {2, 1, 1, 5}};

std::string label(const std::string& dtype, Shape s) {
  return dtype + " [" + std::to_string(s.n) + ", " + std::to_string(s.h) + ", " + std::to_string(s.w) + ", " +
         std::to_string(s.c) + "]";
}

template <class T>
class CudaResample : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, float16, bfloat16>;
TYPED_TEST_SUITE(CudaResample, FloatTypes);

TYPED_TEST(CudaResample, ForwardMatchesCpuBitForBit) {
  using T = TypeParam;
  for (const Shape s : kShapes) {
    SCOPED_TRACE(label(testing::dtype_label<T>(), s));
    const int64_t in = s.n * s.h * s.w * s.c, out = 4 * in;
    const std::vector<T> x = testing::random_values<T>(in, 0.f, 1.f, 31);
    DeviceArray<T> d_x(x), d_y(out);
    upsample_nearest2x_forward<T>(d_x.get(), s.n, s.h, s.w, s.c, d_y.get(), nullptr);
    std::vector<CpuType<T>> y(out);
    cpu::upsample_nearest2x_forward<CpuType<T>>(to_cpu(x).data(), s.n, s.h, s.w, s.c, y.data());
    EXPECT_TRUE(same_values(d_y.download(), from_cpu<T>(y)));
  }
}

TYPED_TEST(CudaResample, BackwardMatchesCpuBitForBit) {
  using T = TypeParam;
  for (const Shape s : kShapes) {
    SCOPED_TRACE(label(testing::dtype_label<T>(), s));
    const int64_t in = s.n * s.h * s.w * s.c, out = 4 * in;
    const std::vector<T> dy = testing::random_values<T>(out, 0.f, 1.f, 32);
    DeviceArray<T> d_dy(dy), d_dx(in);
    upsample_nearest2x_backward<T>(d_dy.get(), s.n, s.h, s.w, s.c, d_dx.get(), nullptr);
    std::vector<CpuType<T>> dx(in);
    cpu::upsample_nearest2x_backward<CpuType<T>>(to_cpu(dy).data(), s.n, s.h, s.w, s.c, dx.data());
    EXPECT_TRUE(same_values(d_dx.download(), from_cpu<T>(dx)));
  }
}

TEST(CudaResample, EmptyBatchIsANoOpAndBadShapesThrow) {
  EXPECT_NO_THROW(upsample_nearest2x_forward<float>(nullptr, 0, 4, 4, 8, nullptr, nullptr));
  EXPECT_THROW(upsample_nearest2x_forward<float>(nullptr, 1, 0, 4, 8, nullptr, nullptr), Error);
}

}  // namespace
}  // namespace trainer::cuda
