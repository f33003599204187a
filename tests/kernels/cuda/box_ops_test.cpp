// The CUDA IoU matrix and box coder against the CPU backend (cpu/box_ops.h) on the same boxes:
// random boxes with flipped corners, zero-area boxes, duplicates and boxes sharing edges (IoU
// exactly 0, 1 or a threshold), on sizes that leave partial column blocks, partial row groups
// and single boxes, with 16-byte aligned and misaligned arrays (the vector and scalar paths).
#include "trainer/kernels/cuda/box_ops.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "device_test_util.h"

namespace trainer::cuda {
namespace {

using testing::all_close;
using testing::DeviceArray;

// n boxes: corners uniform in [-0.2, 1.2), sizes in [0, 0.6); every 7th given with flipped
// corners, every 11th of zero height, every 13th a copy of an earlier box, every 17th on a
// 1/8 grid (shared edges: IoUs of exactly 0, 0.5, 1).
std::vector<float> random_boxes(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> pos(-0.2f, 1.2f), size(0.f, 0.6f);
  std::uniform_int_distribution<int> grid(0, 8);
  std::vector<float> b(4 * n);
  for (int64_t i = 0; i < n; ++i) {
    float* p = &b[4 * i];
    p[0] = pos(rng);
    p[1] = pos(rng);
    p[2] = p[0] + size(rng);
    p[3] = p[1] + size(rng);
    if (i % 17 == 5) {
      p[0] = grid(rng) / 8.f;
      p[1] = grid(rng) / 8.f;
      p[2] = p[0] + (1 + grid(rng) % 4) / 8.f;
      p[3] = p[1] + (1 + grid(rng) % 4) / 8.f;
    }
    if (i % 7 == 3) {
      std::swap(p[0], p[2]);
      std::swap(p[1], p[3]);
    }
    if (i % 11 == 4) p[2] = p[0];
    if (i % 13 == 12) std::copy(&b[4 * (i / 2)], &b[4 * (i / 2)] + 4, p);
  }
  return b;
}

// A device copy starting `offset` floats into its allocation (offset 1: not 16-byte aligned).
struct OffsetArray {
  DeviceArray<float> data;
  int64_t offset;
  OffsetArray(const std::vector<float>& v, int64_t off) : data(v.size() + off), offset(off) {
    std::vector<float> padded(off, 0.f);
    padded.insert(padded.end(), v.begin(), v.end());
    data.upload(padded);
  }
  OffsetArray(size_t n, int64_t off) : data(n + off), offset(off) {}
  float* get() const { return data.get() + offset; }
  std::vector<float> download() const {
    const std::vector<float> v = data.download();
    return std::vector<float>(v.begin() + offset, v.end());
  }
};

// Bitwise equality, NaN included.
::testing::AssertionResult same_bits(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "sizes " << got.size() << " vs " << want.size();
  for (size_t i = 0; i < got.size(); ++i)
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0)
      return ::testing::AssertionFailure() << "element " << i << ": " << got[i] << " vs " << want[i];
  return ::testing::AssertionSuccess();
}

TEST(CudaBoxOps, IouMatrixIsTheCpusBitForBit) {
  struct Size {
    int64_t n, m;
  };
  // Columns: a partial 256-block, several; rows: one, a partial 32-row group, several groups.
  for (const Size s : {Size{1, 1}, Size{1, 300}, Size{37, 700}, Size{70, 255}, Size{100, 1000}})
    for (const int64_t offset : {0, 1}) {
      SCOPED_TRACE("n " + std::to_string(s.n) + " m " + std::to_string(s.m) + " offset " + std::to_string(offset));
      const std::vector<float> a = random_boxes(s.n, 3 + s.n), b = random_boxes(s.m, 4 + s.m);
      std::vector<float> want(s.n * s.m);
      cpu::iou_matrix(a.data(), s.n, b.data(), s.m, want.data());
      OffsetArray d_a(a, offset), d_b(b, offset), d_out(s.n * s.m, 0);
      iou_matrix(d_a.get(), s.n, d_b.get(), s.m, d_out.get(), nullptr);
      // Subtractions, products and one division, each rounded on its own on both backends
      // (no FMA contraction): the same floats, so thresholds decide the same way.
      EXPECT_TRUE(same_bits(d_out.download(), want));
    }
}

TEST(CudaBoxOps, EncodeAndDecodeMatchTheCpu) {
  for (const int64_t n : {int64_t{1}, int64_t{257}, int64_t{3001}})
    for (const cpu::BoxCoderScales s : {cpu::BoxCoderScales{}, cpu::BoxCoderScales{0, 0, 0, 0},
                                        cpu::BoxCoderScales{1, 2, 3, 4}})
      for (const int64_t offset : {0, 1}) {
        SCOPED_TRACE("n " + std::to_string(n) + " scales " + std::to_string(s.y) + " offset " + std::to_string(offset));
        const std::vector<float> boxes = random_boxes(n, 11), anchors = random_boxes(n, 12);
        std::vector<float> want_codes(4 * n), want_boxes(4 * n);
        cpu::encode_boxes(boxes.data(), anchors.data(), n, s, want_codes.data());
        cpu::decode_boxes(want_codes.data(), anchors.data(), n, s, want_boxes.data());
        OffsetArray d_boxes(boxes, offset), d_anchors(anchors, offset), d_codes(4 * n, offset),
            d_back(4 * n, offset);
        encode_boxes(d_boxes.get(), d_anchors.get(), n, s, d_codes.get(), nullptr);
        const std::vector<float> codes = d_codes.download();
        // ty, tx are exact (no transcendental); th, tw go through logf, which a GPU computes
        // within 1-2 ulp of the C library (the emulator calls the same libm: exact). Zero-size
        // boxes give codes of ~ -90: 4 ulp relative covers them.
        EXPECT_TRUE(all_close(codes, want_codes, 0, 5e-7));
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(codes[4 * i], want_codes[4 * i]) << i;
          ASSERT_EQ(codes[4 * i + 1], want_codes[4 * i + 1]) << i;
        }
        // Decoding the CPU's codes: expf within 2 ulp of h and w, which enter each corner as
        // +-h/2 next to coordinates of order 1: 1e-6 absolute.
        OffsetArray d_want_codes(want_codes, offset);
        decode_boxes(d_want_codes.get(), d_anchors.get(), n, s, d_back.get(), nullptr);
        EXPECT_TRUE(all_close(d_back.download(), want_boxes, 1e-6, 1e-6));
      }
}

TEST(CudaBoxOps, DecodeBatchSharesTheAnchors) {
  const int64_t images = 3, a = 301;
  const std::vector<float> anchors = random_boxes(a, 21);
  std::vector<float> codes = testing::random_values<float>(images * a * 4, 0.f, 1.f, 22);
  std::vector<float> want(images * a * 4);
  cpu::decode_boxes_batch(codes.data(), anchors.data(), images, a, cpu::BoxCoderScales{}, want.data());
  DeviceArray<float> d_codes(codes), d_anchors(anchors), d_boxes(images * a * 4);
  decode_boxes_batch(d_codes.get(), d_anchors.get(), images, a, cpu::BoxCoderScales{}, d_boxes.get(), nullptr);
  EXPECT_TRUE(all_close(d_boxes.download(), want, 1e-6, 1e-6));  // expf as above
}

}  // namespace
}  // namespace trainer::cuda
