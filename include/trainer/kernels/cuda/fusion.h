// Fast normalised fusion (EfficientDet's BiFPN) on the CUDA backend: the signatures and the
// formulas of cpu/fusion.h plus the stream. Pointers (the input/gradient pointer arrays' ENTRIES
// and the f32 weights) are device memory; the arrays themselves are host arrays of at most
// FusionShape::kMaxInputs pointers, passed to the kernels by value. T is float, float16 or
// bfloat16; arithmetic in float. Asynchronous on `stream`.
//
// Design (src/kernels/cuda/fusion.cu): every thread computes the n <= 4 coefficients from the
// weights itself (n loads that stay in L1), so the host never reads the weights and nothing
// waits. Forward and the inputs' gradients are flat grid-stride loops; the weights' gradient is
// one deterministic flat reduction (flat_reduce.cuh) of the n dot products <dy, x_i> in double,
// finished by one thread with the formula of cpu/fusion.h.
//
// Cost at EfficientDet-D0's largest node (P3: [N,64,64,64]) per image, H100 at 3.35 TB/s, f32:
// forward reads 2-3 maps and writes one (1-1.3 MB): under a microsecond of bandwidth; a launch
// each way dominates.
#pragma once

#include <cstdint>

#include "trainer/kernels/cuda/stream.h"
#include "trainer/kernels/shapes.h"

namespace trainer::cuda {

template <class T>
void fusion_forward(const FusionShape& s, const T* const* x, const float* w, T* y, Stream stream);
template <class T>
void fusion_backward_inputs(const FusionShape& s, const T* dy, const float* w, T* const* dx, Stream stream);
template <class T>
void fusion_backward_weights(const FusionShape& s, const T* dy, const T* const* x, const float* w, float* dw,
                             Stream stream);

}  // namespace trainer::cuda
