#include "trainer/kernels/cpu/concat.h"

#include <cstring>

namespace trainer::cpu {
namespace {
// Rows shorter than this are copied by one thread each in a single parallel loop.
constexpr int64_t kParallelBytes = 1 << 16;
}

void concat(const void* const* xs, const int64_t* extents, int count, int64_t outer, int64_t inner, size_t elem_size,
            void* y) {
  int64_t total = 0;
  for (int i = 0; i < count; ++i) total += extents[i];
  const size_t out_row = static_cast<size_t>(total * inner) * elem_size;
  size_t offset = 0;
  for (int i = 0; i < count; ++i) {
    const size_t row = static_cast<size_t>(extents[i] * inner) * elem_size;
    const auto* src = static_cast<const char*>(xs[i]);
    auto* dst = static_cast<char*>(y) + offset;
#pragma omp parallel for schedule(static) if (static_cast<int64_t>(row) * outer >= kParallelBytes)
    for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + o * out_row, src + o * row, row);
    offset += row;
  }
}

void slice(const void* x, int64_t outer, int64_t extent, int64_t inner, int64_t begin, int64_t end, size_t elem_size,
           void* y) {
  const size_t in_row = static_cast<size_t>(extent * inner) * elem_size;
  const size_t row = static_cast<size_t>((end - begin) * inner) * elem_size;
  const auto* src = static_cast<const char*>(x) + static_cast<size_t>(begin * inner) * elem_size;
  auto* dst = static_cast<char*>(y);
#pragma omp parallel for schedule(static) if (static_cast<int64_t>(row) * outer >= kParallelBytes)
  for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + o * row, src + o * in_row, row);
}

void slice_backward(const void* dy, int64_t outer, int64_t extent, int64_t inner, int64_t begin, int64_t end,
                    size_t elem_size, void* dx) {
  const size_t unit = static_cast<size_t>(inner) * elem_size;
  const size_t before = static_cast<size_t>(begin) * unit, inside = static_cast<size_t>(end - begin) * unit;
  const size_t after = static_cast<size_t>(extent - end) * unit, out_row = static_cast<size_t>(extent) * unit;
  const auto* src = static_cast<const char*>(dy);
  auto* dst = static_cast<char*>(dx);
#pragma omp parallel for schedule(static) if (static_cast<int64_t>(out_row) * outer >= kParallelBytes)
  for (int64_t o = 0; o < outer; ++o) {
    char* row = dst + o * out_row;
    std::memset(row, 0, before);
    std::memcpy(row + before, src + o * inside, inside);
    std::memset(row + before + inside, 0, after);
  }
}

}  // namespace trainer::cpu
