// Elementwise arithmetic. `b` may broadcast against `a` along one contiguous block of axes:
// same shape, a per-channel vector [C], a per-sample channel scale [N,1,1,C], or a scalar.
#pragma once

#include "trainer/ops/context.h"

namespace trainer::ops {

Tensor add(Context& ctx, const Tensor& a, const Tensor& b);
Tensor sub(Context& ctx, const Tensor& a, const Tensor& b);
Tensor mul(Context& ctx, const Tensor& a, const Tensor& b);
// relu(a + b) for operands of one shape, in one pass (the residual join of ResNet blocks): the
// sum is never stored, and backward masks the gradient by the output as relu does.
Tensor add_relu(Context& ctx, const Tensor& a, const Tensor& b);
// y = alpha * x for a constant alpha.
Tensor scale(Context& ctx, const Tensor& x, float alpha);

}  // namespace trainer::ops
