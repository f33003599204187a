// The emulator's nvcuda::wmma (cuda_compat.h): fragments load, store and fill in every layout,
// mma_sync computes A*B + C from operands rounded to the fragment type with f32 sums (against a
// double reference), tf32 conversion and truncation behave as on tensor cores, and kernels that
// break the API's rules (an assumed element layout, misaligned pointers, half a warp) are caught.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "cuda_compat.h"
#include "device_test_util.h"
#include "wmma_test_kernels.h"

namespace trainer::cuda {
namespace {

using testing::DeviceArray;
using wmma_test::Layout;
namespace kernels = wmma_test;

constexpr double kF32Roundoff = 1.0 / (1 << 24);

// Element (r, c) of a rows x cols matrix stored with leading dimension ld.
size_t at(Layout l, int r, int c, unsigned ld) { return l == Layout::Row ? r * ld + c : c * ld + r; }

// d = a * b + c in double. a: m x k, b: k x n, c: m x n, all as logical row-major floats.
std::vector<double> reference(const std::vector<float>& a, const std::vector<float>& b, const std::vector<float>& c,
                              int m, int n, int k, std::vector<double>* magnitude) {
  std::vector<double> d(m * n);
  magnitude->assign(m * n, 0);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double s = c[i * n + j], mag = std::fabs(c[i * n + j]);
      for (int t = 0; t < k; ++t) {
        s += double(a[i * k + t]) * b[t * n + j];
        mag += std::fabs(double(a[i * k + t]) * b[t * n + j]);
      }
      d[i * n + j] = s;
      (*magnitude)[i * n + j] = mag;
    }
  return d;
}

// The products are exact in f32 and the K + 1 terms are summed in f32: each result is within
// (K + 1) * u * sum |terms| of the exact value (u = 2^-24), far below any indexing mistake.
void expect_close(const std::vector<float>& actual, const std::vector<double>& expected,
                  const std::vector<double>& magnitude, int k) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i)
    ASSERT_NEAR(actual[i], expected[i], (k + 1) * kF32Roundoff * magnitude[i] + 1e-30) << "element " << i;
}

template <class T>
class WmmaEmulator : public ::testing::Test {};
using HalfTypes = ::testing::Types<__half, __nv_bfloat16>;
TYPED_TEST_SUITE(WmmaEmulator, HalfTypes);

template <class T>
T to_device_type(float v) {
  if constexpr (std::is_same_v<T, __half>) return __float2half_rn(v);
  else return __float2bfloat16_rn(v);
}
template <class T>
float from_device_type(T v) {
  if constexpr (std::is_same_v<T, __half>) return __half2float(v);
  else return __bfloat162float(v);
}

TYPED_TEST(WmmaEmulator, MmaMatchesADoubleReferenceInEveryLayout) {
  using T = TypeParam;
  constexpr unsigned kLd = 24;  // a leading dimension wider than the tile: 48 bytes for 16-bit, 96 for f32
  const std::vector<float> av = testing::random_values<float>(16 * 16, 0.f, 1.f, 1),
                           bv = testing::random_values<float>(16 * 16, 0.f, 1.f, 2),
                           cv = testing::random_values<float>(16 * 16, 0.f, 4.f, 3);
  std::vector<float> a(256), b(256);  // as rounded to T
  for (int i = 0; i < 256; ++i) {
    a[i] = from_device_type(to_device_type<T>(av[i]));
    b[i] = from_device_type(to_device_type<T>(bv[i]));
  }
  std::vector<double> magnitude;
  const std::vector<double> expected = reference(a, b, cv, 16, 16, 16, &magnitude);
  for (Layout la : {Layout::Row, Layout::Col})
    for (Layout lb : {Layout::Row, Layout::Col})
      for (Layout lc : {Layout::Row, Layout::Col})
        for (Layout ld : {Layout::Row, Layout::Col}) {
          SCOPED_TRACE(::testing::Message() << "A " << (la == Layout::Row ? "row" : "col") << ", B "
                                            << (lb == Layout::Row ? "row" : "col") << ", C "
                                            << (lc == Layout::Row ? "row" : "col") << ", D "
                                            << (ld == Layout::Row ? "row" : "col"));
          std::vector<T> ha(16 * kLd, to_device_type<T>(NAN)), hb(16 * kLd, to_device_type<T>(NAN));
          std::vector<float> hc(16 * kLd, NAN);
          for (int r = 0; r < 16; ++r)
            for (int c = 0; c < 16; ++c) {
              ha[at(la, r, c, kLd)] = to_device_type<T>(a[r * 16 + c]);
              hb[at(lb, r, c, kLd)] = to_device_type<T>(b[r * 16 + c]);
              hc[at(lc, r, c, kLd)] = cv[r * 16 + c];
            }
          DeviceArray<T> da(ha), db(hb);
          DeviceArray<float> dc(hc), dd(std::vector<float>(16 * kLd, NAN));
          ASSERT_EQ(kernels::mma_16x16x16<T>(da.get(), la, kLd, db.get(), lb, kLd, dc.get(), lc, dd.get(), ld, kLd),
                    cudaSuccess);
          const std::vector<float> hd = dd.download();
          std::vector<float> d(256);
          for (int r = 0; r < 16; ++r)
            for (int c = 0; c < 16; ++c) d[r * 16 + c] = hd[at(ld, r, c, kLd)];
          expect_close(d, expected, magnitude, 16);
          // The store touched the tile only: the padding past each row (column) is still NaN.
          std::vector<bool> in_tile(16 * kLd, false);
          for (int r = 0; r < 16; ++r)
            for (int c = 0; c < 16; ++c) in_tile[at(ld, r, c, kLd)] = true;
          for (size_t i = 0; i < in_tile.size(); ++i) {
            if (!in_tile[i]) {
              EXPECT_TRUE(std::isnan(hd[i])) << "index " << i;
            }
          }
        }
}

// The fragment holds T: an f32 value that is not exact in T is rounded on the way in (by the
// host here), and the result is the product of the rounded values — not of the f32 originals.
TYPED_TEST(WmmaEmulator, OperandsAreOfTheFragmentType) {
  using T = TypeParam;
  std::vector<T> a(256, to_device_type<T>(0.f)), b(256, to_device_type<T>(0.f));
  const float third = 1.f / 3.f;
  a[0] = to_device_type<T>(third);  // A[0][0]
  b[0] = to_device_type<T>(3.f);    // B[0][0]
  DeviceArray<T> da(a), db(b);
  DeviceArray<float> dc(std::vector<float>(256, 0.f)), dd(256);
  ASSERT_EQ(kernels::mma_16x16x16<T>(da.get(), Layout::Row, 16, db.get(), Layout::Row, 16, dc.get(), Layout::Row,
                                     dd.get(), Layout::Row, 16),
            cudaSuccess);
  const float rounded = from_device_type(to_device_type<T>(third));
  EXPECT_NE(rounded, third);
  EXPECT_EQ(dd.download()[0], rounded * 3.f);
}

TEST(WmmaEmulator, Tf32ConversionRoundsToNearestTiesAway) {
  namespace w = nvcuda::wmma;
  auto f = [](uint32_t bits) {
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  };
  const float one = 1.f, ulp = std::ldexp(1.f, -10);  // tf32 keeps 10 mantissa bits
  EXPECT_EQ(w::__float_to_tf32(one), one);
  EXPECT_EQ(w::__float_to_tf32(f(0x3f800fffu)), one);             // just below half an ulp: down
  EXPECT_EQ(w::__float_to_tf32(f(0x3f801000u)), one + ulp);       // exactly half: away from zero
  EXPECT_EQ(w::__float_to_tf32(-f(0x3f801000u)), -(one + ulp));   // ... for negatives too
  EXPECT_EQ(w::__float_to_tf32(f(0x3f802fffu)), one + ulp);       // 1 + 1.5 ulp - tiny: nearest
  EXPECT_EQ(w::__float_to_tf32(f(0x3f803000u)), one + 2 * ulp);   // a tie above an odd value
  EXPECT_EQ(w::__float_to_tf32(FLT_MAX), INFINITY);               // rounds past the largest tf32
  EXPECT_EQ(w::__float_to_tf32(-INFINITY), -INFINITY);
  EXPECT_TRUE(std::isnan(w::__float_to_tf32(NAN)));
  EXPECT_EQ(w::__float_to_tf32(f(0x00000fffu)), 0.f);             // subnormals round like the rest
}

// Tensor cores read only the top 10 mantissa bits of an f32 operand; kernels round first.
TEST(WmmaEmulator, Tf32MmaTruncatesUnconvertedOperandsAndUsesConvertedOnes) {
  float a_bits = 0, b_bits = 0;
  const uint32_t a_u = 0x3f803800u, b_u = 0x40400fffu;  // 1 + 1.75 ulp(tf32), 3 + just under half an ulp
  std::memcpy(&a_bits, &a_u, 4);
  std::memcpy(&b_bits, &b_u, 4);
  std::vector<float> a(16 * 8, 0.f), b(8 * 16, 0.f);
  a[0] = a_bits;
  b[0] = b_bits;
  DeviceArray<float> da(a), db(b), dc(std::vector<float>(256, 0.f)), dd(256);
  const float ulp = std::ldexp(1.f, -10);
  ASSERT_EQ(kernels::mma_tf32(da.get(), Layout::Row, db.get(), Layout::Row, dc.get(), dd.get(), false), cudaSuccess);
  EXPECT_EQ(dd.download()[0], (1.f + ulp) * 3.f) << "truncated operands";
  ASSERT_EQ(kernels::mma_tf32(da.get(), Layout::Row, db.get(), Layout::Row, dc.get(), dd.get(), true), cudaSuccess);
  EXPECT_EQ(dd.download()[0], (1.f + 2 * ulp) * 3.f) << "rounded operands";
}

TEST(WmmaEmulator, Tf32MmaMatchesADoubleReferenceInEveryLayout) {
  const std::vector<float> av = testing::random_values<float>(16 * 8, 0.f, 1.f, 4),
                           bv = testing::random_values<float>(8 * 16, 0.f, 1.f, 5),
                           cv = testing::random_values<float>(16 * 16, 0.f, 1.f, 6);
  std::vector<float> a(av.size()), b(bv.size());
  for (size_t i = 0; i < av.size(); ++i) a[i] = nvcuda::wmma::__float_to_tf32(av[i]);
  for (size_t i = 0; i < bv.size(); ++i) b[i] = nvcuda::wmma::__float_to_tf32(bv[i]);
  std::vector<double> magnitude;
  const std::vector<double> expected = reference(a, b, cv, 16, 16, 8, &magnitude);
  for (Layout la : {Layout::Row, Layout::Col})
    for (Layout lb : {Layout::Row, Layout::Col}) {
      std::vector<float> ha(128), hb(128);
      for (int r = 0; r < 16; ++r)
        for (int c = 0; c < 8; ++c) ha[at(la, r, c, la == Layout::Row ? 8 : 16)] = av[r * 8 + c];
      for (int r = 0; r < 8; ++r)
        for (int c = 0; c < 16; ++c) hb[at(lb, r, c, lb == Layout::Row ? 16 : 8)] = bv[r * 16 + c];
      DeviceArray<float> da(ha), db(hb), dc(cv), dd(256);
      ASSERT_EQ(kernels::mma_tf32(da.get(), la, db.get(), lb, dc.get(), dd.get(), true), cudaSuccess);
      expect_close(dd.download(), expected, magnitude, 8);
    }
}

TEST(WmmaEmulator, MultiWarpGemmWithChainedMmasAndShufflesBetweenThem) {
  const std::vector<float> av = testing::random_values<float>(64 * 48, 0.f, 1.f, 7),
                           bv = testing::random_values<float>(48 * 64, 0.f, 1.f, 8);
  std::vector<__half> a(av.size()), b(bv.size());
  std::vector<float> ar(av.size()), br(bv.size());
  for (size_t i = 0; i < av.size(); ++i) ar[i] = __half2float(a[i] = __float2half_rn(av[i]));
  for (size_t i = 0; i < bv.size(); ++i) br[i] = __half2float(b[i] = __float2half_rn(bv[i]));
  std::vector<double> magnitude;
  const std::vector<double> expected = reference(ar, br, std::vector<float>(64 * 64, 0.f), 64, 64, 48, &magnitude);
  constexpr unsigned kBlocks = 3;
  DeviceArray<__half> da(a), db(b);
  DeviceArray<float> dc(std::vector<float>(kBlocks * 64 * 64, NAN));
  ASSERT_EQ(kernels::gemm_64x64x48(da.get(), db.get(), dc.get(), kBlocks), cudaSuccess);
  const std::vector<float> c = dc.download();
  for (unsigned blk = 0; blk < kBlocks; ++blk) {
    SCOPED_TRACE("block " + std::to_string(blk));
    expect_close(std::vector<float>(c.begin() + blk * 4096, c.begin() + (blk + 1) * 4096), expected, magnitude, 48);
  }
}

TEST(WmmaEmulator, ElementwiseWorkOnFragmentsIsLayoutIndependent) {
  const std::vector<float> av = testing::random_values<float>(256, 0.f, 1.f, 9),
                           bv = testing::random_values<float>(256, 0.f, 1.f, 10);
  std::vector<__half> a(256), b(256);
  std::vector<float> a2(256), br(256);
  for (int i = 0; i < 256; ++i) {
    a[i] = __float2half_rn(av[i]);
    a2[i] = 2.f * __half2float(a[i]);  // exact: a power-of-two scale of an f16 value
    br[i] = __half2float(b[i] = __float2half_rn(bv[i]));
  }
  std::vector<double> magnitude;
  const std::vector<double> expected = reference(a2, br, std::vector<float>(256, 0.f), 16, 16, 16, &magnitude);
  DeviceArray<__half> da(a), db(b);
  DeviceArray<float> dd(256);
  ASSERT_EQ(kernels::scaled_mma(da.get(), db.get(), dd.get()), cudaSuccess);
  expect_close(dd.download(), expected, magnitude, 16);
}

// The same product written through an assumed element layout comes out permuted: the emulator
// makes layout-dependent kernels fail instead of passing by luck.
TEST(WmmaEmulator, AssumingAnElementLayoutGivesWrongAnswers) {
  const std::vector<float> av = testing::random_values<float>(256, 0.f, 1.f, 11),
                           bv = testing::random_values<float>(256, 0.f, 1.f, 12);
  std::vector<__half> a(256), b(256);
  std::vector<float> ar(256), br(256);
  for (int i = 0; i < 256; ++i) {
    ar[i] = __half2float(a[i] = __float2half_rn(av[i]));
    br[i] = __half2float(b[i] = __float2half_rn(bv[i]));
  }
  std::vector<double> magnitude;
  const std::vector<double> expected = reference(ar, br, std::vector<float>(256, 0.f), 16, 16, 16, &magnitude);
  DeviceArray<__half> da(a), db(b);
  DeviceArray<float> dd(std::vector<float>(256, 0.f));
  ASSERT_EQ(kernels::store_assuming_sm80_layout(da.get(), db.get(), dd.get()), cudaSuccess);
  const std::vector<float> d = dd.download();
  int wrong = 0;
  for (int i = 0; i < 256; ++i) wrong += std::fabs(d[i] - expected[i]) > 1e-3 * (magnitude[i] + 1);
  EXPECT_GT(wrong, 200) << "an assumed layout should scramble almost every element";
}

TEST(WmmaEmulatorDeathTest, MisalignedFragmentPointerAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(kernels::misaligned_load(), "load_matrix_sync: pointer not 256-bit aligned");
}

TEST(WmmaEmulatorDeathTest, MmaFromHalfAWarpAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(kernels::partial_warp_mma(), "mma_sync needs all 32 lanes");
}

}  // namespace
}  // namespace trainer::cuda
