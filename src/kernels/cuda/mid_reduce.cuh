// Sums over the middle axis of [outer, mid, inner] -> [outer, inner] with a fixed,
// shape-determined order (deterministic run to run): global average pooling ([N, HW, C]), the
// gradient of a broadcast operand (per-channel vectors: [1, N*H*W, C]; squeeze-excite scales:
// [N, H*W, C]).
//
//  1. A grid of (outer x inner tiles) x (mid splits) blocks of BX x BY = 256 threads.
//     threadIdx.x picks V consecutive inner elements of the tile (BX = the smallest power of
//     two >= the tile's vectors, at most 32, so a warp reads BX * V consecutive elements of
//     32/BX rows: 512 coalesced bytes for 16-byte vectors), threadIdx.y strides over mid.
//     Each thread accumulates its rows in float, reduce_rows combines the BY values per column
//     with a shared-memory tree. With one split the result is final, otherwise a partial;
//  2. mid_reduce_merge_kernel adds the splits' partials per column the same way.
// Splits give every block at least kMidReduceMinRowsPerThread rows per thread and keep the grid
// at most kMidReduceMaxBlocks blocks (about 8 per SM on an H100: enough 16-byte loads in flight
// to saturate HBM), so a per-channel gradient over 800 K rows still spreads over the whole GPU.
//
// A Term is a trivially copyable functor `template <int V> __device__ void operator()(int64_t
// offset, float (&acc)[V]) const` that adds the V terms at element offset (o * mid + m) * inner
// + i (offset is a multiple of V); a Store is `template <int V> __device__ void
// operator()(int64_t offset, const float (&total)[V]) const` that writes the totals of
// [outer, inner] elements offset .. offset + V - 1 (V = 1 in the merge pass).
#pragma once

#include <algorithm>
#include <cstdint>

#include "cuda_compat.h"
#include "trainer/core/error.h"
#include "trainer/kernels/cuda/check.h"
#include "trainer/kernels/cuda/runtime.h"
#include "trainer/kernels/cuda/stream.h"

namespace trainer::cuda {

constexpr int kMidReduceThreads = 256;
constexpr int64_t kMidReduceMinRowsPerThread = 16;
constexpr int64_t kMidReduceMaxBlocks = 1024;

struct MidReduceTiling {
  dim3 grid;   // x: outer * tiles, y: splits of mid
  dim3 block;  // x: columns (vectors) of a tile, y: row lanes
  int64_t tiles;
};

// `columns`: vectors per inner row in pass 1, elements in pass 2.
inline MidReduceTiling mid_reduce_tiling(int64_t outer, int64_t mid, int64_t columns) {
  unsigned bx = 1;
  while (bx < columns && bx < 32) bx *= 2;
  const unsigned by = kMidReduceThreads / bx;
  const int64_t tiles = (columns + bx - 1) / bx;
  TRAINER_CHECK(outer * tiles < (int64_t{1} << 31), "mid-axis reduction over [", outer, ", ", mid, ", ", columns,
                " vectors]: too many output tiles");
  const int64_t by_work = mid / (by * kMidReduceMinRowsPerThread);
  const int64_t by_grid = kMidReduceMaxBlocks / (outer * tiles);
  const int64_t splits = std::clamp<int64_t>(std::min(by_work, by_grid), 1, 65535);
  return {dim3(static_cast<unsigned>(outer * tiles), static_cast<unsigned>(splits)), dim3(bx, by), tiles};
}

// Sums acc over threadIdx.y, per threadIdx.x and vector lane, with a fixed tree; the threads
// of row 0 end with their column's totals. Every thread of the block must call it.
template <int V>
__device__ void reduce_rows(float (&acc)[V]) {
  __shared__ float tile[kMidReduceThreads * V];
  const int bx = blockDim.x, tx = threadIdx.x, ty = threadIdx.y;
  // Layout [row][lane][column]: a warp's 32 consecutive tx hit 32 consecutive banks.
#pragma unroll
  for (int k = 0; k < V; ++k) tile[(ty * V + k) * bx + tx] = acc[k];
  __syncthreads();
  for (int h = static_cast<int>(blockDim.y) / 2; h > 0; h /= 2) {
    if (ty < h) {
#pragma unroll
      for (int k = 0; k < V; ++k) tile[(ty * V + k) * bx + tx] += tile[((ty + h) * V + k) * bx + tx];
    }
    __syncthreads();
  }
  if (ty == 0) {
#pragma unroll
    for (int k = 0; k < V; ++k) acc[k] = tile[k * bx + tx];
  }
}

template <int V, class Term, class Store>
__global__ void __launch_bounds__(kMidReduceThreads)
    mid_reduce_kernel(Term term, Store store, int64_t outer, int64_t mid, int64_t inner, int64_t tiles,
                      float* __restrict__ partials) {
  const int64_t tile = blockIdx.x % tiles, o = blockIdx.x / tiles;
  const int64_t i = (tile * blockDim.x + threadIdx.x) * V;
  float acc[V];
#pragma unroll
  for (int k = 0; k < V; ++k) acc[k] = 0.f;
  if (i < inner) {
    const int64_t stride = static_cast<int64_t>(gridDim.y) * blockDim.y;
    for (int64_t m = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y; m < mid; m += stride)
      term((o * mid + m) * inner + i, acc);
  }
  reduce_rows<V>(acc);
  if (threadIdx.y != 0 || i >= inner) return;
  if (gridDim.y == 1) {
    store(o * inner + i, acc);
  } else {
    float* p = partials + (static_cast<int64_t>(blockIdx.y) * outer + o) * inner + i;
#pragma unroll
    for (int k = 0; k < V; ++k) p[k] = acc[k];
  }
}

// Pass 2: partials [splits, columns] -> store, columns = outer * inner.
template <class Store>
__global__ void __launch_bounds__(kMidReduceThreads)
    mid_reduce_merge_kernel(Store store, const float* __restrict__ partials, int splits, int64_t columns) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  float acc[1] = {0.f};
  if (c < columns)
    for (int s = threadIdx.y; s < splits; s += blockDim.y) acc[0] += partials[s * columns + c];
  reduce_rows<1>(acc);
  if (threadIdx.y == 0 && c < columns) store(c, acc);
}

// out[o, i] = store(sum over m of term(o, m, i)); inner must be a multiple of V.
template <int V, class Term, class Store>
void mid_reduce(const Term& term, const Store& store, int64_t outer, int64_t mid, int64_t inner, Stream stream) {
  if (outer <= 0 || inner <= 0) return;
  const MidReduceTiling t = mid_reduce_tiling(outer, mid, inner / V);
  const int64_t splits = t.grid.y;
  DeviceBuffer partials(splits > 1 ? sizeof(float) * splits * outer * inner : 0);
  TRAINER_CUDA_CHECK(cudaemu::launch(mid_reduce_kernel<V, Term, Store>, t.grid, t.block, 0, stream, term, store, outer,
                                     mid, inner, t.tiles, partials.as<float>()));
  if (splits == 1) return;
  const int64_t columns = outer * inner;
  const MidReduceTiling m = mid_reduce_tiling(1, splits, columns);
  TRAINER_CUDA_CHECK(cudaemu::launch(mid_reduce_merge_kernel<Store>, dim3(m.grid.x), m.block, 0, stream, store,
                                     partials.as<const float>(), static_cast<int>(splits), columns));
}

}  // namespace trainer::cuda
