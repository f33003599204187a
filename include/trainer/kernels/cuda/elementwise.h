// Binary elementwise ops with broadcasting, the gradient of the broadcast operand, and
// y = alpha * x (+ y), on the CUDA backend: the signatures of cpu/elementwise.h plus the stream
// (casts are in cuda/cast.h, full sums and finite checks in cuda/reduce.h). Pointers are device
// memory; T is float, float16 or bfloat16; arithmetic is in float, each result rounded once.
// Asynchronous on `stream`.
//
// Broadcast scheme (Broadcast, kernels/shapes.h): a: [outer, mid, inner] against b: [outer, inner], b
// repeating along mid. Same shape: mid = 1. Per-channel vector [C] vs NHWC: outer = 1,
// mid = N*H*W, inner = C. Squeeze-excite scale [N,1,1,C] vs [N,H,W,C]: outer = N, mid = H*W,
// inner = C.
//
// Design (src/kernels/cuda/elementwise.cu):
//  - binary_forward: block (BX lanes over inner vectors, BY rows of mid), grid (inner tiles,
//    mid tiles, outer), all three grid-stride, at most ~8 K blocks. A thread moves V = 16 / sizeof(T)
//    elements per load (4 for f32, 8 for 16-bit) when inner % V == 0 and the pointers are
//    16-byte aligned; b's row is indexed by the grid's outer coordinate, so the inner loop
//    has no integer division. Same-shape operands are one flat row.
//  - broadcast_reduce: the mid-axis reduction of mid_reduce.cuh (BX x BY = 256 threads, float
//    accumulators, fixed shared-memory tree, a second pass over mid splits): deterministic.
//  - scale: a flat grid-stride loop of 16-byte vectors, the tail done by block 0.
//
// Cost at ResNet-50 batch 256, H100 HBM3 at 3.35 TB/s:
//   residual add [256,56,56,256] bf16: 205 M elements, read 2 x 411 MB, write 411 MB:
//     1.23 GB -> 0.37 ms (f32: 0.74 ms); 205 M FLOPs
//   per-channel vector gradient (broadcast_reduce over N*H*W = 802816 rows, C = 256):
//     read 411 MB (bf16) -> 0.12 ms; 205 M adds (Mul: 411 M FLOPs, 822 MB read -> 0.25 ms)
//   squeeze-excite scale [256,56,56,256] x [256,1,1,256]: as the residual add (b stays in L2)
//   scale over the 25.6 M-parameter f32 gradient: read + write 204 MB -> 61 us
#pragma once

#include <cstdint>

#include "trainer/core/half.h"
#include "trainer/kernels/shapes.h"  // Broadcast, BinaryOp
#include "trainer/kernels/cuda/stream.h"

namespace trainer::cuda {

// y = a (op) b, y: [outer, mid, inner] like a.
template <class T>
void binary_forward(BinaryOp op, const Broadcast& bc, const T* a, const T* b, T* y, Stream stream);

// db = sum over mid of dy (* a when a_or_null is given), i.e. the gradient of the broadcast
// operand: [outer, inner]. Float accumulation in a fixed order (the CPU backend uses double).
template <class T>
void broadcast_reduce(const Broadcast& bc, const T* dy, const T* a_or_null, T* db, Stream stream);

// y = alpha * x (+ y if accumulate), all [n]; x and y may be the same buffer.
template <class T>
void scale(const T* x, float alpha, T* y, int64_t n, bool accumulate, Stream stream);

}  // namespace trainer::cuda
