// Max / average / global-average pooling over NHWC on the CUDA backend: the signatures of
// cpu/pooling.h plus the stream. Pointers are device memory; T is float, float16 or bfloat16;
// sums are in float. Asynchronous on `stream`.
//
// Design (src/kernels/cuda/pooling.cu): every kernel is bandwidth-bound. A thread owns one
// output (or, backward, one input) position and V channels, V = 16 bytes / sizeof(T) (4 for
// f32, 8 for 16-bit) when C % V == 0 and the pointers are 16-byte aligned, else 1: a warp then
// reads 32 x 16 B of consecutive channels per window tap (coalesced 512 B). The grid is
// (W-tiles of 128 threads, H, N), so positions come from 32-bit arithmetic without 64-bit
// divisions. Backward passes are gathers: each input position visits the windows that contain
// it, in the CPU backend's order, and writes its gradient once (no atomics, no zero fill,
// deterministic; max pool backward equals the CPU backend bit for bit).
//
// Cost at ResNet-50 batch 256 (stem max pool 3x3/2, pad 1: [256,112,112,64] -> [256,56,56,64];
// global average pool [256,7,7,2048] -> [256,2048]); H100 HBM3 at 3.35 TB/s:
//   max forward   read x 411 MB (bf16; window overlap re-reads hit L2), write y 103 MB and
//                 argmax 206 MB (int32): 720 MB -> 0.21 ms (f32: 1233 MB -> 0.37 ms);
//                 0.46 G comparisons, negligible
//   max backward  read dy 103 MB + argmax 206 MB, write dx 411 MB: 720 MB -> 0.21 ms (bf16)
//   avg fwd/bwd   the same without argmax: 514 MB -> 0.15 ms each (bf16; not in ResNet-50)
//   global fwd    read 51 MB (bf16), write 1 MB: 15.6 us (f32: 31 us); 25.7 M adds
//   global bwd    read 1 MB, write 51 MB: 15.6 us (bf16)
#pragma once

#include <cstdint>

#include "trainer/core/half.h"
#include "trainer/kernels/shapes.h"  // Pool2dShape
#include "trainer/kernels/cuda/stream.h"

namespace trainer::cuda {

// Padding never wins a max; ties keep the first position in (h, w) order, as on the CPU.
// argmax[out] = h * in_w + w of the winner per channel. A window with no input at all (the op
// front-end rejects such shapes) gets y = -inf and argmax = -1, and no gradient.
template <class T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y, int32_t* argmax, Stream stream);
// dx[p] = sum of dy over the windows whose argmax is p (overwrites dx).
template <class T>
void max_pool2d_backward(const Pool2dShape& s, const T* dy, const int32_t* argmax, T* dx, Stream stream);

// count_include_pad=false divides by the number of real inputs in the window (TF 'SAME');
// true by the window clipped to the padded extent (PyTorch's rule, as the CPU backend).
template <class T>
void avg_pool2d_forward(const Pool2dShape& s, bool count_include_pad, const T* x, T* y, Stream stream);
template <class T>
void avg_pool2d_backward(const Pool2dShape& s, bool count_include_pad, const T* dy, T* dx, Stream stream);

// x: [N, spatial, C] -> y: [N, C] (mean over spatial), and back (dx = dy / spatial, broadcast).
template <class T>
void global_avg_pool_forward(const T* x, int64_t batch, int64_t spatial, int64_t channels, T* y, Stream stream);
template <class T>
void global_avg_pool_backward(const T* dy, int64_t batch, int64_t spatial, int64_t channels, T* dx, Stream stream);

}  // namespace trainer::cuda
