// 2-D convolution on the CPU backend through oneDNN (src/README.md, decision 5).
// Activations NHWC, weights OHWI ([out, kh, kw, in/groups]); padding explicit per side, so
// TF 'SAME' (asymmetric) padding is just a choice of the four numbers.
#pragma once

#include <cstdint>
#include <string>

#include "trainer/core/dtype.h"
#include "trainer/kernels/cpu/activation.h"
#include "trainer/kernels/shapes.h"

namespace trainer::cpu {

using trainer::Conv2dShape;

// Which oneDNN algorithm a convolution may use. Both are deterministic: the choice depends on the
// shape, the dtype and this CPU's instruction set, never on timing.
//   Direct:   direct kernels (1x1 as GEMMs) for every shape and batch size.
//   Winograd: 3x3 stride-1 f32 convolutions with enough 4x4 output tiles (batch x tiles >= 64,
//             e.g. 20x20 maps at batch 8) run oneDNN's Winograd F(4x4, 3x3) kernels, ~2.3x faster
//             there on AVX-512 CPUs, with f32 rounding errors a few times larger than direct
//             (measured in tests/kernels/cpu/conv2d_winograd_test.cpp); other shapes, bf16 and
//             CPUs without the kernels (AVX2) run Direct.
enum class ConvAlgorithm : uint8_t { Direct, Winograd };

// What conv2d_forward runs for this shape: "jit_wino_4x3:avx512_core", "brgconv_1x1:avx512_core",
// ... (oneDNN's implementation name), for logs and tests.
std::string conv2d_implementation(const Conv2dShape& s, DType dtype, ConvAlgorithm algorithm);

// y = act(conv(x, w) + bias). x: [N,H,W,C] and w: [O,KH,KW,C/groups] in `dtype` (f32 or bf16);
// bias: [O] f32 or null; y: [N,OH,OW,O] in `dtype`.
void conv2d_forward(const Conv2dShape& s, DType dtype, const void* x, const void* w, const float* bias,
                    Activation act, void* y, ConvAlgorithm algorithm);

// dx = conv_transpose(dy, w). dy: [N,OH,OW,O], dx: [N,H,W,C], both in `dtype`.
void conv2d_backward_data(const Conv2dShape& s, DType dtype, const void* dy, const void* w, void* dx,
                          ConvAlgorithm algorithm);

// dw (f32, OHWI) and optionally dbias (f32 [O]) from x and dy in `dtype`. Overwrites dw/dbias.
void conv2d_backward_weights(const Conv2dShape& s, DType dtype, const void* x, const void* dy, float* dw,
                             float* dbias, ConvAlgorithm algorithm);

}  // namespace trainer::cpu
