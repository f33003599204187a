// Fast normalised fusion of same-shape maps (FusionShape, kernels/shapes.h):
//   y = sum_i c_i x_i,  c_i = relu(w_i) / S,  S = sum_j relu(w_j) + epsilon,
// and its gradients. With y's gradient dy and d_i = <dy, x_i> (summed over the map):
//   dx_i = c_i dy
//   dw_i = [w_i > 0] (d_i - sum_j c_j d_j) / S        (dy/dw_i = (x_i - y) / S for w_i > 0)
// so the weights' gradient needs only the n dot products, not y.
#pragma once

#include <cstdint>

#include "trainer/kernels/shapes.h"

namespace trainer::cpu {

using trainer::FusionShape;

// The coefficients c_i and S of the formula above, from the weights (host memory).
void fusion_coefficients(const FusionShape& s, const float* w, float* c, float* sum);

// x: `inputs` pointers to [size] maps; w: [inputs] f32.
template <class T>
void fusion_forward(const FusionShape& s, const T* const* x, const float* w, T* y);
// dx: `inputs` pointers to [size] maps, overwritten.
template <class T>
void fusion_backward_inputs(const FusionShape& s, const T* dy, const float* w, T* const* dx);
// dw: [inputs] f32, overwritten. Dot products in double, in a fixed order (deterministic).
template <class T>
void fusion_backward_weights(const FusionShape& s, const T* dy, const T* const* x, const float* w, float* dw);

}  // namespace trainer::cpu
