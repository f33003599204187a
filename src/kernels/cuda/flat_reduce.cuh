// Deterministic full reductions of a flat range (sums, squared norms, finite checks, the loss
// sum of softmax cross-entropy), in two passes with a fixed tree:
//  1. a grid of B blocks of kFlatReduceThreads threads, B a function of the item count only
//     (never of the GPU or of timing): thread t of block b takes items b*256 + t, then every
//     B*256-th item (coalesced), accumulates them in order, and the block combines its 256
//     values with block_reduce (xor-shuffle trees inside warps, then over the warp totals).
//     With one block the result is final; otherwise each block writes its partial;
//  2. flat_finish_kernel, one block, combines the B partials the same way and finishes.
// No floating-point atomics anywhere: the same input gives the same bits on every run (and in
// the emulator in either thread order). B is at most kFlatReduceMaxBlocks = 1024 (~8 blocks per
// H100 SM, enough 16-byte loads in flight to saturate HBM), and every thread gets at least
// kFlatReduceMinItemsPerThread items, so small inputs use few blocks.
//
// An accumulator Acc is a trivial type with (all __device__) `static Acc identity()`,
// `static Acc merge(Acc, Acc)` and `static Acc shfl_xor(Acc, int lane_mask)` (a full-warp
// shuffle of every field): DoubleSum and AnyFlag below. An Op is trivially copyable and has
//   using Acc = ...;
//   __device__ void add(int64_t item, Acc& acc) const;  // accumulates item `item`
//   __device__ void finish(Acc total) const;            // stores the result (one thread)
#pragma once

#include <algorithm>
#include <cstdint>

#include "cuda_compat.h"
#include "trainer/kernels/cuda/check.h"
#include "trainer/kernels/cuda/runtime.h"
#include "trainer/kernels/cuda/stream.h"

namespace trainer::cuda {

constexpr int kFlatReduceThreads = 256;
constexpr int64_t kFlatReduceMaxBlocks = 1024;
constexpr int64_t kFlatReduceMinItemsPerThread = 8;

// Combines v over the block (blockDim.x a multiple of 32, at most 1024) in a fixed order; the
// total is valid in thread 0. Every thread of the block must call it.
template <class Acc>
__device__ Acc block_reduce(Acc v) {
  __shared__ Acc warp_totals[32];
  for (int offset = 16; offset > 0; offset /= 2) v = Acc::merge(v, Acc::shfl_xor(v, offset));
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  if (lane == 0) warp_totals[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? warp_totals[lane] : Acc::identity();
    for (int offset = 16; offset > 0; offset /= 2) v = Acc::merge(v, Acc::shfl_xor(v, offset));
  }
  __syncthreads();  // warp_totals may be reused by a following call
  return v;
}

template <class Op>
__global__ void __launch_bounds__(kFlatReduceThreads)
    flat_reduce_kernel(Op op, int64_t items, typename Op::Acc* __restrict__ partials) {
  using Acc = typename Op::Acc;
  Acc acc = Acc::identity();
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < items; i += stride) op.add(i, acc);
  acc = block_reduce<Acc>(acc);
  if (threadIdx.x != 0) return;
  if (gridDim.x == 1) op.finish(acc);
  else partials[blockIdx.x] = acc;
}

template <class Op>
__global__ void __launch_bounds__(kFlatReduceThreads)
    flat_finish_kernel(Op op, const typename Op::Acc* __restrict__ partials, int count) {
  using Acc = typename Op::Acc;
  Acc acc = Acc::identity();
  for (int i = threadIdx.x; i < count; i += blockDim.x) acc = Acc::merge(acc, partials[i]);
  acc = block_reduce<Acc>(acc);
  if (threadIdx.x == 0) op.finish(acc);
}

inline unsigned flat_reduce_blocks(int64_t items) {
  const int64_t per_block = kFlatReduceThreads * kFlatReduceMinItemsPerThread;
  return static_cast<unsigned>(std::clamp<int64_t>((items + per_block - 1) / per_block, 1, kFlatReduceMaxBlocks));
}

// Reduces items [0, items) with op, finishing with op.finish (also for items == 0: identity).
template <class Op>
void flat_reduce(const Op& op, int64_t items, Stream stream) {
  const unsigned blocks = flat_reduce_blocks(items);
  DeviceBuffer partials(blocks > 1 ? sizeof(typename Op::Acc) * blocks : 0);
  TRAINER_CUDA_CHECK(cudaemu::launch(flat_reduce_kernel<Op>, dim3(blocks), dim3(kFlatReduceThreads), 0, stream, op,
                                     items, partials.as<typename Op::Acc>()));
  if (blocks > 1)
    TRAINER_CUDA_CHECK(cudaemu::launch(flat_finish_kernel<Op>, dim3(1), dim3(kFlatReduceThreads), 0, stream, op,
                                       partials.as<const typename Op::Acc>(), static_cast<int>(blocks)));
}

// Accumulators.
struct DoubleSum {
  double value;
  __device__ static DoubleSum identity() { return {0.0}; }
  __device__ static DoubleSum merge(DoubleSum a, DoubleSum b) { return {a.value + b.value}; }
  __device__ static DoubleSum shfl_xor(DoubleSum v, int lane_mask) {
    return {__shfl_xor_sync(0xffffffffu, v.value, lane_mask)};
  }
};
struct AnyFlag {  // 1 when any item was flagged
  int value;
  __device__ static AnyFlag identity() { return {0}; }
  __device__ static AnyFlag merge(AnyFlag a, AnyFlag b) { return {a.value | b.value}; }
  __device__ static AnyFlag shfl_xor(AnyFlag v, int lane_mask) {
    return {__shfl_xor_sync(0xffffffffu, v.value, lane_mask)};
  }
};

}  // namespace trainer::cuda
