// Matrix multiply on the CUDA backend with our own kernels (not cuBLASLt; matmul.h is the
// cuBLASLt wrapper, the selectable alternative): the contract of cpu/matmul.h — row-major
// operands, optional transposes (strides, never copies), f32 bias over columns, accumulation into
// c — plus the stream and GemmOptions. Pointers are device memory. in_dtype: f32, f16 or bf16
// (a and b); out_dtype: f32, f16 or bf16 (c), any combination.
//
// Numerics: products and sums in f32 (f32 inputs as TF32 with allow_tf32); then + bias, + the old
// c when accumulating (read in out_dtype), one rounding to out_dtype — the CPU backend's order.
// Deterministic: fixed summation order, split-K partials added in split order.
//
// Kernels: the GEMM of gemm_core.cuh (the one the convolutions use), with A = a ([m][k], or [k][m]
// with trans_a) and B = b ([k][n], or [n][k] with trans_b) read in their stored contiguity, so
// all four transpose cases load 16-byte vectors when the contiguous extents (K for a / trans_b,
// M for trans_a, N for b) are multiples of 16 B / element and the pointers are 16-byte aligned;
// scalar loads otherwise.
//   f16/bf16  WMMA 16x16x16, f32 accumulate, block tile 128 x 128 x 32 (N <= 64: 128 x 64 x 32),
//             256 threads (8 warps, warp tile 64x32 / 32x32), 40 KiB / 30 KiB shared memory
//   f32 tf32  WMMA 16x16x8, 128 x 128 x 16 / 128 x 64 x 16, same shared memory
//   f32       SIMT FMAs, 128 x 64 x 16, 8x4 outputs per thread, 30 KiB
// 2 blocks (16 warps) per H100 SM, register-bound. When M x N gives fewer than 264 blocks (two
// per SM of an H100) and K has at least 8 k tiles, K is split (<= 64 ways, >= 4 k tiles each) and
// a second pass sums the f32 partials (+ 8 * M*N * splits bytes of traffic).
//
// Cost: 2*M*N*K FLOPs; bytes (M*K + K*N) * sizeof(in) + M*N * sizeof(out) (x2 when accumulating)
// + 4*N. Examples (H100, bf16, 989 TFLOP/s dense; 3.35 TB/s):
//   ResNet-50 classifier forward, batch 256: 256 x 1000 x 2048: 1.05 GFLOP, 5.6 MB -> 187 FLOP/B;
//     2 x 8 = 16 tiles of 128 x 128, K = 64 k tiles of 32 split 16 ways (4 each): 256 blocks,
//     + 32 MB of f32 partials through L2; a few microseconds, launch- and latency-bound
//   its weight gradient (trans_a): 2048 x 1000 x 256: 1.05 GFLOP, 16 x 8 = 128 tiles, split 2 ways
#pragma once

#include "trainer/core/dtype.h"
#include "trainer/kernels/cuda/gemm_options.h"
#include "trainer/kernels/cuda/stream.h"
#include "trainer/kernels/shapes.h"  // MatmulShape

namespace trainer::cuda {

// c[m,n] (= or +=) op(a)[m,k] * op(b)[k,n] + bias[n]. a, b in `in_dtype`; c in `out_dtype`;
// bias f32 or null. `accumulate` adds into c.
void matmul(const MatmulShape& s, DType in_dtype, const void* a, const void* b, const float* bias, DType out_dtype,
            void* c, bool accumulate, Stream stream, const GemmOptions& options = {});

}  // namespace trainer::cuda
