// Nearest-neighbour 2x upsampling of NHWC maps (the FPN top-down path) and its gradient on the
// CUDA backend: the signatures of cpu/resample.h plus the stream. Pointers are device memory;
// T is float, float16 or bfloat16. Asynchronous on `stream`.
//
// Design (src/kernels/cuda/resample.cu): grid (ceil(W * C/V / 128), H, N) of 128 threads over
// the low-resolution positions, V = 16 / sizeof(T) channels per thread (4 for f32, 8 for
// 16-bit) when C % V == 0 and the pointers are 16-byte aligned. Forward: a thread loads its
// vector once and stores it to the 2x2 block (reads once, writes four times, all coalesced
// along C). Backward: a thread loads the four vectors of its 2x2 block and adds them in the CPU
// backend's order ((r0 + r0') + r1) + r1', so the result is bit-identical.
//
// Cost at SSD320's ResNet-50 FPN shapes, batch 256 (20x20 -> 40x40, 256 channels), H100 HBM3
// at 3.35 TB/s: forward reads 26 M elements and writes 105 M: 262 MB in bf16 -> 78 us (f32:
// 157 us); backward the reverse, plus 79 M adds. (The ResNet-50 classifier has no upsampling.)
#pragma once

#include <cstdint>

#include "trainer/core/half.h"
#include "trainer/kernels/cuda/stream.h"

namespace trainer::cuda {

// x: [N,H,W,C] -> y: [N,2H,2W,C]
template <class T>
void upsample_nearest2x_forward(const T* x, int64_t n, int64_t h, int64_t w, int64_t c, T* y, Stream stream);
// dx[n,h,w,c] = sum of the 2x2 block of dy it was copied to.
template <class T>
void upsample_nearest2x_backward(const T* dy, int64_t n, int64_t h, int64_t w, int64_t c, T* dx, Stream stream);

}  // namespace trainer::cuda
