// conv2d: x [N,H,W,C] NHWC, w [O,KH,KW,C/groups] OHWI, optional bias [O] (F32).
#pragma once

#include <optional>

#include "trainer/kernels/cpu/activation.h"
#include "trainer/ops/context.h"

namespace trainer::ops {

struct Padding {
  int64_t top = 0, bottom = 0, left = 0, right = 0;
  static Padding symmetric(int64_t p) { return {p, p, p, p}; }
};

// TensorFlow's 'SAME' padding for one spatial dim: out = ceil(in / stride), the extra row or
// column going to the bottom/right (asymmetric when the total is odd).
std::pair<int64_t, int64_t> same_padding(int64_t in, int64_t kernel, int64_t stride, int64_t dilation);

struct Conv2dOptions {
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
  std::optional<Padding> padding;  // explicit per-side padding; nullopt = TF 'SAME'
  // Fused activation (inference only: the backward of a fused activation is not recorded).
  Activation activation = Activation::Identity;
};

// Runs in ctx.gemm_dtype(): x and w are cast to it when they differ (the cast is recorded).
Tensor conv2d(Context& ctx, const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& options);

}  // namespace trainer::ops
