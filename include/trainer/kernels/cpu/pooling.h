// Max / average pooling over NHWC, CPU backend. Loops run over channels innermost, so the
// vector lanes are channels and every load is contiguous.
#pragma once

#include <cstdint>

#include "trainer/kernels/shapes.h"

namespace trainer::cpu {

using trainer::Pool2dShape;

// Padding never wins a max. argmax[out] = h*W + w of the winning input position per channel.
template <class T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y, int32_t* argmax);
template <class T>
void max_pool2d_backward(const Pool2dShape& s, const T* dy, const int32_t* argmax, T* dx);

// count_include_pad=false divides by the number of real inputs in the window (TF 'SAME').
template <class T>
void avg_pool2d_forward(const Pool2dShape& s, bool count_include_pad, const T* x, T* y);
template <class T>
void avg_pool2d_backward(const Pool2dShape& s, bool count_include_pad, const T* dy, T* dx);

// x: [N, HW, C] -> y: [N, C], and back (dx = dy / HW, broadcast).
template <class T>
void global_avg_pool_forward(const T* x, int64_t batch, int64_t spatial, int64_t channels, T* y);
template <class T>
void global_avg_pool_backward(const T* dy, int64_t batch, int64_t spatial, int64_t channels, T* dx);

}  // namespace trainer::cpu
