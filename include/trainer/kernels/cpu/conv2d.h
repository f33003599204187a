// 2-D convolution on the CPU backend through oneDNN (src/README.md, decision 5).
// Activations NHWC, weights OHWI ([out, kh, kw, in/groups]); padding explicit per side, so
// TF 'SAME' (asymmetric) padding is just a choice of the four numbers.
#pragma once

#include <cstdint>

#include "trainer/core/dtype.h"
#include "trainer/kernels/cpu/activation.h"
#include "trainer/kernels/shapes.h"

namespace trainer::cpu {

using trainer::Conv2dShape;

// y = act(conv(x, w) + bias). x: [N,H,W,C] and w: [O,KH,KW,C/groups] in `dtype` (f32 or bf16);
// bias: [O] f32 or null; y: [N,OH,OW,O] in `dtype`.
void conv2d_forward(const Conv2dShape& s, DType dtype, const void* x, const void* w, const float* bias,
                    Activation act, void* y);

// dx = conv_transpose(dy, w). dy: [N,OH,OW,O], dx: [N,H,W,C], both in `dtype`.
void conv2d_backward_data(const Conv2dShape& s, DType dtype, const void* dy, const void* w, void* dx);

// dw (f32, OHWI) and optionally dbias (f32 [O]) from x and dy in `dtype`. Overwrites dw/dbias.
void conv2d_backward_weights(const Conv2dShape& s, DType dtype, const void* x, const void* dy, float* dw,
                             float* dbias);

}  // namespace trainer::cpu
