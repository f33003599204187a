// Momentum SGD (TensorFlow's MomentumOptimizer, train::MomentumSgd) over the flat f32
// parameter, gradient and momentum buffers on the CUDA backend, in ONE launch for all
// parameters: the buffer is split into segments (consecutive parameters with the same weight
// decay, as MomentumSgd builds them), each with its own weight decay. Per element, in the CPU
// code's order and f32 rounding:
//   g = grad + wd * w;  a = momentum * a + g;  w -= lr * (nesterov ? g + momentum * a : a)
// Elements outside every segment are not touched. Pointers are device memory. Asynchronous on
// `stream`.
//
// Design (src/kernels/cuda/momentum_sgd.cu): block b owns elements [b * 8192, (b + 1) * 8192)
// (256 threads x 8 float4s); it binary-searches the (device) segment table once for the first
// segment reaching its chunk, then walks the segments overlapping the chunk, its threads
// covering each overlap with 16-byte vectors (scalar only where a vector straddles a segment
// boundary). No per-element segment lookup, no host round trip, one launch per step.
//
// Cost at ResNet-50 (25,557,032 parameters), H100 HBM3 at 3.35 TB/s: reads w, grad, a and
// writes w, a: 5 x 102 MB = 511 MB -> 153 us; ~5 FLOPs per parameter (128 M).
#pragma once

#include <cstdint>

#include "trainer/kernels/cuda/stream.h"
#include "trainer/kernels/shapes.h"

namespace trainer::cuda {

using trainer::SgdSegment;  // kernels/shapes.h

// segments: a device array of num_segments SgdSegment (upload once: they do not change between
// steps); count: the length of the buffers (every segment lies in [0, count)).
void momentum_sgd_step(float* w, const float* grad, float* accum, const SgdSegment* segments, int num_segments,
                       int64_t count, float lr, float momentum, bool nesterov, Stream stream);

}  // namespace trainer::cuda
