// CUDA concat / slice / slice backward against plain host copies (the CPU backend does these
// as strided tensor copies, core/tensor.cpp; the reference here is the same index arithmetic).
// Copies are exact, so results are compared byte for byte. Cases take each copy unit: 16-byte
// (f32 channel blocks of 4), 8, 4, 2 and 1 byte, more pieces than one launch carries (> 8),
// empty pieces, and rows narrower and wider than a thread block.
#include "trainer/kernels/cuda/concat.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>

#include "dense_test_util.h"
#include "trainer/core/error.h"

namespace trainer::cuda {
namespace {

using testing::DeviceArray;

std::vector<uint8_t> pattern(size_t bytes, uint32_t seed) {
  std::vector<uint8_t> v(bytes);
  for (size_t i = 0; i < bytes; ++i) v[i] = static_cast<uint8_t>((i * 131 + seed * 17 + i / 7) & 0xff);
  return v;
}

struct ConcatCase {
  std::string name;
  std::vector<int64_t> extents;
  int64_t outer, inner;
  size_t elem;
};

TEST(CudaConcat, MatchesHostCopies) {
  const std::vector<ConcatCase> cases = {
      {"f32 channel blocks of 4 (16-byte units)", {2, 5, 1}, 7, 4, 4},
      {"f32 rows of 2 (8-byte units)", {1, 3}, 5, 2, 4},
      {"f32 inner 1 (4-byte units)", {3, 2, 0, 4}, 6, 1, 4},
      {"bf16 odd inner (2-byte units)", {2, 1, 3}, 4, 3, 2},
      {"bytes (1-byte units)", {5, 2, 7}, 3, 1, 1},
      {"ten pieces: two launches", {1, 2, 3, 1, 2, 3, 1, 2, 3, 1}, 9, 8, 2},
      {"wide rows: several blocks per row", {300, 500}, 2, 4, 4},
      {"one row", {4, 4}, 1, 16, 4},
  };
  for (const ConcatCase& c : cases) {
    SCOPED_TRACE(c.name);
    const int64_t total = std::accumulate(c.extents.begin(), c.extents.end(), int64_t{0});
    const int64_t row_bytes = total * c.inner * static_cast<int64_t>(c.elem);
    std::vector<std::vector<uint8_t>> host;
    std::vector<std::unique_ptr<DeviceArray<uint8_t>>> dev;
    std::vector<const void*> ptrs;
    std::vector<uint8_t> expected(c.outer * row_bytes);
    int64_t offset = 0;
    for (size_t i = 0; i < c.extents.size(); ++i) {
      const int64_t piece = c.extents[i] * c.inner * static_cast<int64_t>(c.elem);
      host.push_back(pattern(std::max<int64_t>(c.outer * piece, 1), static_cast<uint32_t>(i)));
      dev.push_back(std::make_unique<DeviceArray<uint8_t>>(host.back()));
      ptrs.push_back(dev.back()->get());
      for (int64_t r = 0; r < c.outer; ++r)
        std::memcpy(&expected[r * row_bytes + offset], &host.back()[r * piece], piece);
      offset += piece;
    }
    DeviceArray<uint8_t> d_y(expected.size());
    concat(ptrs.data(), c.extents.data(), static_cast<int>(ptrs.size()), c.outer, c.inner, c.elem, d_y.get(), nullptr);
    EXPECT_EQ(d_y.download(), expected);
  }
}

struct SliceCase {
  std::string name;
  int64_t outer, extent, inner, begin, end;
  size_t elem;
};
const SliceCase kSliceCases[] = {
    {"f32 NHWC channels [3, 9) of 12", 5, 12, 1, 3, 9, 4},
    {"f32 middle axis, inner 4", 6, 11, 4, 2, 10, 4},
    {"bf16 odd inner", 3, 7, 3, 1, 6, 2},
    {"whole axis", 4, 5, 8, 0, 5, 4},
    {"empty slice", 4, 5, 8, 2, 2, 4},
    {"wide rows", 2, 2000, 2, 100, 1900, 4},
};

TEST(CudaConcat, SliceMatchesHostCopies) {
  for (const SliceCase& c : kSliceCases) {
    SCOPED_TRACE(c.name);
    const int64_t e = static_cast<int64_t>(c.elem), in_row = c.extent * c.inner * e,
                  out_row = (c.end - c.begin) * c.inner * e;
    const std::vector<uint8_t> x = pattern(c.outer * in_row, 3);
    std::vector<uint8_t> expected(std::max<int64_t>(c.outer * out_row, 1), 0xab);
    for (int64_t r = 0; r < c.outer; ++r)
      std::memcpy(&expected[r * out_row], &x[r * in_row + c.begin * c.inner * e], out_row);
    DeviceArray<uint8_t> d_x(x), d_y(expected.size());
    d_y.upload(std::vector<uint8_t>(expected.size(), 0xab));
    slice(d_x.get(), c.outer, c.extent, c.inner, c.begin, c.end, c.elem, d_y.get(), nullptr);
    EXPECT_EQ(d_y.download(), expected);
  }
}

TEST(CudaConcat, SliceBackwardWritesZerosAroundTheGradient) {
  for (const SliceCase& c : kSliceCases) {
    SCOPED_TRACE(c.name);
    const int64_t e = static_cast<int64_t>(c.elem), in_row = c.extent * c.inner * e,
                  out_row = (c.end - c.begin) * c.inner * e;
    const std::vector<uint8_t> dy = pattern(std::max<int64_t>(c.outer * out_row, 1), 4);
    std::vector<uint8_t> expected(c.outer * in_row, 0);
    for (int64_t r = 0; r < c.outer; ++r)
      std::memcpy(&expected[r * in_row + c.begin * c.inner * e], &dy[r * out_row], out_row);
    DeviceArray<uint8_t> d_dy(dy), d_dx(expected.size());
    d_dx.upload(std::vector<uint8_t>(expected.size(), 0xff));  // garbage the kernel must overwrite
    slice_backward(d_dy.get(), c.outer, c.extent, c.inner, c.begin, c.end, c.elem, d_dx.get(), nullptr);
    EXPECT_EQ(d_dx.download(), expected);
  }
}

TEST(CudaConcat, RejectsRangesOutsideTheAxis) {
  EXPECT_THROW(slice(nullptr, 1, 4, 1, 2, 5, 4, nullptr, nullptr), Error);
  EXPECT_THROW(slice_backward(nullptr, 1, 4, 1, 3, 2, 4, nullptr, nullptr), Error);
}

}  // namespace
}  // namespace trainer::cuda
