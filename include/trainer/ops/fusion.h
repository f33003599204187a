// Fast normalised fusion (Tan et al. 2020, EfficientDet's BiFPN): a learned, normalised weighted
// sum of same-shape feature maps,
//   y = sum_i relu(w_i) x_i / (sum_j relu(w_j) + epsilon),
// one pass over memory forward, with gradients for every input and for the weights
// (kernels/cpu/fusion.h gives the formulas). The weights are an f32 vector [n] (a parameter, kept
// f32 under mixed precision); the inputs share dtype, device and shape; 1 <= n <= 4.
#pragma once

#include <vector>

#include "trainer/ops/context.h"

namespace trainer::ops {

Tensor weighted_fusion(Context& ctx, const std::vector<Tensor>& inputs, const Tensor& weights, float epsilon = 1e-4f);

}  // namespace trainer::ops
