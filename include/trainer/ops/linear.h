// Dense layers and matrix products.
#pragma once

#include "trainer/ops/context.h"

namespace trainer::ops {

// y[N,out] = x[N,in] * w[out,in]^T + bias[out]. Runs in ctx.gemm_dtype(); bias is F32 and
// may be undefined.
Tensor linear(Context& ctx, const Tensor& x, const Tensor& w, const Tensor& bias);

// c[M,N] = a[M,K] * b[K,N], both in the same dtype.
Tensor matmul(Context& ctx, const Tensor& a, const Tensor& b);

}  // namespace trainer::ops
