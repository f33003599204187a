// 2-D convolution on the CPU backend through oneDNN (src/README.md, decision 5).
// Activations NHWC, weights OHWI ([out, kh, kw, in/groups]); padding explicit per side, so
// TF 'SAME' (asymmetric) padding is just a choice of the four numbers.
#pragma once

#include <cstdint>

#include "trainer/core/dtype.h"
#include "trainer/kernels/cpu/activation.h"

namespace trainer::cpu {

struct Conv2dShape {
  int64_t batch = 0, in_h = 0, in_w = 0, in_c = 0;
  int64_t out_c = 0, kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  int64_t groups = 1;

  int64_t out_h() const { return (in_h + pad_top + pad_bottom - dilation_h * (kernel_h - 1) - 1) / stride_h + 1; }
  int64_t out_w() const { return (in_w + pad_left + pad_right - dilation_w * (kernel_w - 1) - 1) / stride_w + 1; }
  bool operator==(const Conv2dShape&) const = default;
};

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
