// Concat / slice as batched 2-D copies. Design and costs: include/trainer/kernels/cuda/concat.h.
#include "trainer/kernels/cuda/concat.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cuda_compat.h"
#include "trainer/core/error.h"
#include "trainer/kernels/cuda/check.h"

namespace trainer::cuda {
namespace {

constexpr int kCopyThreads = 256;
constexpr int kMaxPieces = 8;
constexpr int64_t kMaxBlocks = 8192;

// One piece: `rows` rows of `row_bytes`, from src (row pitch src_pitch bytes) to dst (dst_pitch);
// src == nullptr writes zeros.
struct Piece {
  const char* src;
  char* dst;
  int64_t src_pitch, dst_pitch, row_bytes;
};

// Up to kMaxPieces pieces of the same row count, in units of U (pitches and lengths in units).
struct Pieces {
  const void* src[kMaxPieces];
  void* dst[kMaxPieces];
  int64_t src_pitch[kMaxPieces], dst_pitch[kMaxPieces], row_units[kMaxPieces];
};

// Unit types: trivially copyable, as wide as their alignment.
struct alignas(16) Unit16 {
  uint32_t w[4];
};
struct alignas(8) Unit8 {
  uint32_t w[2];
};

template <class U>
__global__ void __launch_bounds__(kCopyThreads) copy_pieces_kernel(Pieces p, int64_t rows) {
  const int piece = blockIdx.z;
  const U* __restrict__ src = static_cast<const U*>(p.src[piece]);
  U* __restrict__ dst = static_cast<U*>(p.dst[piece]);
  const int64_t units = p.row_units[piece], sp = p.src_pitch[piece], dp = p.dst_pitch[piece];
  const int64_t x0 = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t x_stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t r_stride = static_cast<int64_t>(gridDim.y) * blockDim.y;
  for (int64_t r = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y; r < rows; r += r_stride)
    for (int64_t x = x0; x < units; x += x_stride) {
      dst[r * dp + x] = src ? src[r * sp + x] : U{};
    }
}

// The widest unit dividing every address, pitch and row length of the pieces.
size_t common_unit(const std::vector<Piece>& pieces) {
  uint64_t bits = 16;
  for (const Piece& q : pieces) {
    bits |= reinterpret_cast<uintptr_t>(q.src) | reinterpret_cast<uintptr_t>(q.dst);
    bits |= static_cast<uint64_t>(q.src_pitch) | static_cast<uint64_t>(q.dst_pitch);
    bits |= static_cast<uint64_t>(q.row_bytes);
  }
  return static_cast<size_t>(bits & (~bits + 1));  // lowest set bit, at most 16
}

template <class U>
void launch_pieces(const std::vector<Piece>& pieces, int64_t rows, Stream stream) {
  constexpr int64_t u = sizeof(U);
  for (size_t first = 0; first < pieces.size(); first += kMaxPieces) {
    const size_t count = std::min<size_t>(kMaxPieces, pieces.size() - first);
    Pieces p{};
    int64_t widest = 1;
    for (size_t i = 0; i < count; ++i) {
      const Piece& q = pieces[first + i];
      p.src[i] = q.src;
      p.dst[i] = q.dst;
      p.src_pitch[i] = q.src_pitch / u;
      p.dst_pitch[i] = q.dst_pitch / u;
      p.row_units[i] = q.row_bytes / u;
      widest = std::max(widest, p.row_units[i]);
    }
    unsigned bx = 1;
    while (bx < widest && bx < kCopyThreads) bx *= 2;
    const unsigned by = kCopyThreads / bx;
    const int64_t gx = std::min<int64_t>((widest + bx - 1) / bx, kMaxBlocks);
    const int64_t gy = std::clamp<int64_t>(std::min<int64_t>((rows + by - 1) / by, kMaxBlocks / gx), 1, 65535);
    TRAINER_CUDA_CHECK(cudaemu::launch(copy_pieces_kernel<U>,
                                       dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy),
                                            static_cast<unsigned>(count)),
                                       dim3(bx, by), 0, stream, p, rows));
  }
}

void copy_pieces(std::vector<Piece> pieces, int64_t rows, Stream stream) {
  std::erase_if(pieces, [](const Piece& q) { return q.row_bytes == 0; });
  if (pieces.empty() || rows == 0) return;
  switch (common_unit(pieces)) {
    case 16: return launch_pieces<Unit16>(pieces, rows, stream);
    case 8: return launch_pieces<Unit8>(pieces, rows, stream);
    case 4: return launch_pieces<uint32_t>(pieces, rows, stream);
    case 2: return launch_pieces<uint16_t>(pieces, rows, stream);
    default: return launch_pieces<uint8_t>(pieces, rows, stream);
  }
}

void check_slice(const char* what, int64_t outer, int64_t extent, int64_t inner, int64_t begin, int64_t end,
                 size_t elem_size) {
  TRAINER_CHECK(outer >= 0 && extent >= 0 && inner >= 0 && elem_size > 0, what, ": bad shape [", outer, ", ", extent,
                ", ", inner, "] of ", elem_size, "-byte elements");
  TRAINER_CHECK(0 <= begin && begin <= end && end <= extent, what, ": range [", begin, ", ", end,
                ") outside the axis of length ", extent);
}

}  // namespace

void concat(const void* const* xs, const int64_t* extents, int count, int64_t outer, int64_t inner, size_t elem_size,
            void* y, Stream stream) {
  TRAINER_CHECK(count >= 0 && outer >= 0 && inner >= 0 && elem_size > 0, "concat: bad shape: ", count,
                " inputs of [", outer, ", ?, ", inner, "]");
  int64_t total = 0;
  for (int i = 0; i < count; ++i) {
    TRAINER_CHECK(extents[i] >= 0, "concat: input ", i, " has negative extent ", extents[i]);
    total += extents[i];
  }
  const int64_t e = static_cast<int64_t>(elem_size), dst_pitch = total * inner * e;
  std::vector<Piece> pieces;
  int64_t offset = 0;
  for (int i = 0; i < count; ++i) {
    const int64_t row = extents[i] * inner * e;
    char* dst = static_cast<char*>(y) + offset * inner * e;
    pieces.push_back({static_cast<const char*>(xs[i]), dst, row, dst_pitch, row});
    offset += extents[i];
  }
  copy_pieces(std::move(pieces), outer, stream);
}

void slice(const void* x, int64_t outer, int64_t extent, int64_t inner, int64_t begin, int64_t end, size_t elem_size,
           void* y, Stream stream) {
  check_slice("slice", outer, extent, inner, begin, end, elem_size);
  const int64_t e = static_cast<int64_t>(elem_size), row = (end - begin) * inner * e;
  copy_pieces({{static_cast<const char*>(x) + begin * inner * e, static_cast<char*>(y), extent * inner * e, row, row}},
              outer, stream);
}

void slice_backward(const void* dy, int64_t outer, int64_t extent, int64_t inner, int64_t begin, int64_t end,
                    size_t elem_size, void* dx, Stream stream) {
  check_slice("slice_backward", outer, extent, inner, begin, end, elem_size);
  const int64_t e = static_cast<int64_t>(elem_size), pitch = extent * inner * e;
  char* d = static_cast<char*>(dx);
  copy_pieces({{nullptr, d, 0, pitch, begin * inner * e},
               {static_cast<const char*>(dy), d + begin * inner * e, (end - begin) * inner * e, pitch,
                (end - begin) * inner * e},
               {nullptr, d + end * inner * e, 0, pitch, (extent - end) * inner * e}},
              outer, stream);
}

}  // namespace trainer::cuda
