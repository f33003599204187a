// CUDA max / average / global average pooling against the CPU backend, forward and backward,
// in f32, f16 and bf16, on shapes that take every path: symmetric and TF 'SAME' (asymmetric)
// padding, windows larger than the stride (overlapping: the backward gathers add several
// windows) and equal to it, non-square windows and strides, channel counts that allow 16-byte
// vectors (16, 24, 32, 40 for f32; 16, 24, 32, 40 for 16-bit) and that do not (3, 5), rows of
// positions that fill one thread block partially or several.
//
// Exactness: max pooling selects values (forward is a copy; ties keep the first position, as on
// the CPU), and its backward gathers in the CPU's window order, so both match bit for bit.
// Average forward adds in the CPU's order and multiplies once: bit for bit too. Average
// backward adds g * (1/count) per window: FMA contraction may differ between the backends, so
// it gets 2 f32 ulps (plus one ulp of T for the final rounding of 16-bit results).
#include "trainer/kernels/cuda/pooling.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "dense_test_util.h"
#include "trainer/core/error.h"
#include "trainer/kernels/cpu/pooling.h"

namespace trainer::cuda {
namespace {

using testing::CpuType;
using testing::DeviceArray;
using testing::from_cpu;
using testing::same_values;
using testing::to_cpu;
using testing::to_floats;

Pool2dShape make(int64_t n, int64_t h, int64_t w, int64_t c, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                 int64_t pt, int64_t pb, int64_t pl, int64_t pr) {
  Pool2dShape s;
  s.batch = n, s.in_h = h, s.in_w = w, s.channels = c;
  s.kernel_h = kh, s.kernel_w = kw, s.stride_h = sh, s.stride_w = sw;
  s.pad_top = pt, s.pad_bottom = pb, s.pad_left = pl, s.pad_right = pr;
  return s;
}

struct Case {
  const char* name;
  Pool2dShape s;
};
const Case kCases[] = {
    {"stem 3x3/2 pad 1", make(2, 13, 13, 16, 3, 3, 2, 2, 1, 1, 1, 1)},
    {"TF SAME 3x3/2 (pad 0 top/left, 1 bottom/right), C=5", make(2, 12, 12, 5, 3, 3, 2, 2, 0, 1, 0, 1)},
    {"2x2/2 valid, odd extent", make(1, 7, 9, 24, 2, 2, 2, 2, 0, 0, 0, 0)},
    {"3x3/1 pad 1, C=3", make(2, 6, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1)},
    {"5x3 window, stride 2x1, pads 2/1/1/0", make(3, 10, 6, 40, 5, 3, 2, 1, 2, 1, 1, 0)},
    {"wide rows: several thread blocks per row", make(1, 3, 80, 32, 2, 2, 2, 2, 0, 0, 0, 0)},
};

int64_t in_size(const Pool2dShape& s) { return s.batch * s.in_h * s.in_w * s.channels; }
int64_t out_size(const Pool2dShape& s) { return s.batch * s.out_h() * s.out_w() * s.channels; }

template <class T>
std::string label(const Case& c) {
  return testing::dtype_label<T>() + " " + c.name;
}

// Integers 0..3: most windows hold ties, which the CPU resolves to the first position.
template <class T>
std::vector<T> tied_values(size_t n, uint32_t seed) {
  std::vector<T> v = testing::random_values<T>(n, 0.f, 1.f, seed);
  for (auto& x : v) x = T(std::floor(std::fabs(float(x)) * 2.f) > 3.f ? 3.f : std::floor(std::fabs(float(x)) * 2.f));
  return v;
}

template <class T>
void cpu_max_forward(const Pool2dShape& s, const std::vector<T>& x, std::vector<T>& y, std::vector<int32_t>& argmax) {
  std::vector<CpuType<T>> yc(out_size(s));
  argmax.assign(out_size(s), 0);
  cpu::max_pool2d_forward<CpuType<T>>(s, to_cpu(x).data(), yc.data(), argmax.data());
  y = from_cpu<T>(yc);
}

template <class T>
class CudaPooling : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, float16, bfloat16>;
TYPED_TEST_SUITE(CudaPooling, FloatTypes);

template <class T>
void check_max_forward(const Case& c, const std::vector<T>& x) {
  SCOPED_TRACE(label<T>(c));
  DeviceArray<T> d_x(x), d_y(out_size(c.s));
  DeviceArray<int32_t> d_argmax(out_size(c.s));
  max_pool2d_forward<T>(c.s, d_x.get(), d_y.get(), d_argmax.get(), nullptr);
  std::vector<T> y;
  std::vector<int32_t> argmax;
  cpu_max_forward(c.s, x, y, argmax);
  EXPECT_TRUE(same_values(d_y.download(), y));
  EXPECT_TRUE(same_values(d_argmax.download(), argmax));
}

TYPED_TEST(CudaPooling, MaxForwardMatchesCpuBitForBit) {
  using T = TypeParam;
  for (const Case& c : kCases) check_max_forward<T>(c, testing::random_values<T>(in_size(c.s), 0.5f, 2.f, 7));
}

TYPED_TEST(CudaPooling, MaxForwardBreaksTiesLikeTheCpu) {
  using T = TypeParam;
  for (const Case& c : kCases) check_max_forward<T>(c, tied_values<T>(in_size(c.s), 8));
}

TYPED_TEST(CudaPooling, MaxBackwardMatchesCpuBitForBit) {
  using T = TypeParam;
  for (const Case& c : kCases) {
    SCOPED_TRACE(label<T>(c));
    // Tied inputs: several windows pick the same input, so gathers add more than one term.
    const std::vector<T> x = tied_values<T>(in_size(c.s), 9);
    const std::vector<T> dy = testing::random_values<T>(out_size(c.s), 0.1f, 1.f, 10);
    std::vector<T> y;
    std::vector<int32_t> argmax;
    cpu_max_forward(c.s, x, y, argmax);
    DeviceArray<T> d_dy(dy), d_dx(in_size(c.s));
    DeviceArray<int32_t> d_argmax(argmax);
    max_pool2d_backward<T>(c.s, d_dy.get(), d_argmax.get(), d_dx.get(), nullptr);
    std::vector<CpuType<T>> dx(in_size(c.s));
    cpu::max_pool2d_backward<CpuType<T>>(c.s, to_cpu(dy).data(), argmax.data(), dx.data());
    EXPECT_TRUE(same_values(d_dx.download(), from_cpu<T>(dx)));
  }
}

TYPED_TEST(CudaPooling, AverageForwardMatchesCpuBitForBit) {
  using T = TypeParam;
  for (const Case& c : kCases)
    for (const bool include_pad : {false, true}) {
      SCOPED_TRACE(label<T>(c) + (include_pad ? " count_include_pad" : " real inputs only"));
      const std::vector<T> x = testing::random_values<T>(in_size(c.s), 0.5f, 2.f, 11);
      DeviceArray<T> d_x(x), d_y(out_size(c.s));
      avg_pool2d_forward<T>(c.s, include_pad, d_x.get(), d_y.get(), nullptr);
      std::vector<CpuType<T>> y(out_size(c.s));
      cpu::avg_pool2d_forward<CpuType<T>>(c.s, include_pad, to_cpu(x).data(), y.data());
      EXPECT_TRUE(same_values(d_y.download(), from_cpu<T>(y)));
    }
}

TYPED_TEST(CudaPooling, AverageBackwardMatchesCpu) {
  using T = TypeParam;
  // Up to 2 f32 ulps from where each backend fuses g * inv into the running sum, plus one ulp
  // of T when the result is rounded to 16 bits.
  const double rtol = 2 * testing::epsilon_of<float>() + (std::is_same_v<T, float> ? 0 : testing::epsilon_of<T>());
  for (const Case& c : kCases)
    for (const bool include_pad : {false, true}) {
      SCOPED_TRACE(label<T>(c) + (include_pad ? " count_include_pad" : " real inputs only"));
      const std::vector<T> dy = testing::random_values<T>(out_size(c.s), 0.1f, 1.f, 12);
      DeviceArray<T> d_dy(dy), d_dx(in_size(c.s));
      avg_pool2d_backward<T>(c.s, include_pad, d_dy.get(), d_dx.get(), nullptr);
      std::vector<CpuType<T>> dx(in_size(c.s));
      cpu::avg_pool2d_backward<CpuType<T>>(c.s, include_pad, to_cpu(dy).data(), dx.data());
      // atol: a sum of up to kh*kw terms of |g| <~ 5 may cancel to near zero.
      EXPECT_TRUE(testing::all_close(to_floats(d_dx.download()), to_floats(from_cpu<T>(dx)), 1e-6, rtol));
    }
}

struct GlobalShape {
  int64_t batch, spatial, channels;
};
// 49 x 64: vectors, one split; 7 x 5: scalar; 3136 x 16: the spatial sum split over blocks
// (merge pass); 1 x 2048: a single position, many channel tiles.
constexpr GlobalShape kGlobalShapes[] = {{2, 49, 64}, {3, 7, 5}, {1, 3136, 16}, {4, 1, 2048}};

TYPED_TEST(CudaPooling, GlobalAverageForwardMatchesCpu) {
  using T = TypeParam;
  for (const GlobalShape g : kGlobalShapes) {
    SCOPED_TRACE(testing::dtype_label<T>() + " [" + std::to_string(g.batch) + ", " + std::to_string(g.spatial) + ", " +
                 std::to_string(g.channels) + "]");
    const std::vector<T> x = testing::random_values<T>(g.batch * g.spatial * g.channels, 0.5f, 2.f, 13);
    DeviceArray<T> d_x(x), d_y(g.batch * g.channels);
    global_avg_pool_forward<T>(d_x.get(), g.batch, g.spatial, g.channels, d_y.get(), nullptr);
    std::vector<CpuType<T>> y(g.batch * g.channels);
    cpu::global_avg_pool_forward<CpuType<T>>(to_cpu(x).data(), g.batch, g.spatial, g.channels, y.data());
    // Different summation orders: each float sum of m terms is within (m - 1) * u * sum|x| of
    // the exact one, so the two means differ by at most 2 * m * u * max|x|; 16-bit results may
    // then round one ulp of T apart.
    double max_abs = 0;
    for (const T v : x) max_abs = std::max(max_abs, std::fabs(double(float(v))));
    const double atol = 2.0 * g.spatial * testing::kF32Roundoff * max_abs;
    const double rtol = std::is_same_v<T, float> ? 0 : testing::epsilon_of<T>();
    EXPECT_TRUE(testing::all_close(to_floats(d_y.download()), to_floats(from_cpu<T>(y)), atol, rtol));
  }
}

// Small integers sum exactly in any order: the means must then be the CPU's bit for bit.
TYPED_TEST(CudaPooling, GlobalAverageOfIntegersIsExact) {
  using T = TypeParam;
  for (const GlobalShape g : kGlobalShapes) {
    std::vector<T> x(g.batch * g.spatial * g.channels);
    for (size_t i = 0; i < x.size(); ++i) x[i] = T(static_cast<float>((i * 7 + i / 13) % 9) - 4.f);
    DeviceArray<T> d_x(x), d_y(g.batch * g.channels);
    global_avg_pool_forward<T>(d_x.get(), g.batch, g.spatial, g.channels, d_y.get(), nullptr);
    std::vector<CpuType<T>> y(g.batch * g.channels);
    cpu::global_avg_pool_forward<CpuType<T>>(to_cpu(x).data(), g.batch, g.spatial, g.channels, y.data());
    EXPECT_TRUE(same_values(d_y.download(), from_cpu<T>(y)));
  }
}

TYPED_TEST(CudaPooling, GlobalAverageBackwardMatchesCpuBitForBit) {
  using T = TypeParam;
  for (const GlobalShape g : kGlobalShapes) {
    const std::vector<T> dy = testing::random_values<T>(g.batch * g.channels, 0.f, 1.f, 14);
    DeviceArray<T> d_dy(dy), d_dx(g.batch * g.spatial * g.channels);
    global_avg_pool_backward<T>(d_dy.get(), g.batch, g.spatial, g.channels, d_dx.get(), nullptr);
    std::vector<CpuType<T>> dx(g.batch * g.spatial * g.channels);
    cpu::global_avg_pool_backward<CpuType<T>>(to_cpu(dy).data(), g.batch, g.spatial, g.channels, dx.data());
    EXPECT_TRUE(same_values(d_dx.download(), from_cpu<T>(dx)));
  }
}

// A buffer offset by one element cannot take 16-byte vectors: the scalar path must agree.
TEST(CudaPooling, MisalignedBuffersUseTheScalarPath) {
  const Pool2dShape s = make(2, 9, 9, 16, 3, 3, 2, 2, 1, 1, 1, 1);
  const std::vector<float> x = testing::random_values<float>(in_size(s) + 1, 0.f, 1.f, 15);
  DeviceArray<float> d_x(x), d_y(out_size(s) + 1);
  avg_pool2d_forward<float>(s, false, d_x.get() + 1, d_y.get() + 1, nullptr);
  std::vector<float> y(out_size(s));
  cpu::avg_pool2d_forward<float>(s, false, x.data() + 1, y.data());
  const std::vector<float> got = d_y.download();
  EXPECT_TRUE(same_values(std::vector<float>(got.begin() + 1, got.end()), y));
}

TEST(CudaPooling, RejectsWindowsLargerThanThePaddedInput) {
  EXPECT_THROW(max_pool2d_forward<float>(make(1, 2, 2, 4, 5, 5, 1, 1, 0, 0, 0, 0), nullptr, nullptr, nullptr, nullptr),
               Error);
  EXPECT_THROW(global_avg_pool_forward<float>(nullptr, 1, 0, 4, nullptr, nullptr), Error);
}

}  // namespace
}  // namespace trainer::cuda
