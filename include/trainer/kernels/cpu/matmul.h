// Matrix multiply on the CPU backend through oneDNN.
#pragma once

#include <cstdint>

#include "trainer/core/dtype.h"
#include "trainer/kernels/shapes.h"

namespace trainer::cpu {

using trainer::MatmulShape;

// c[m,n] (= or +=) op(a)[m,k] * op(b)[k,n] + bias[n]. a, b in `in_dtype`; c in `out_dtype`;
// bias f32 or null. `accumulate` adds into c (gradient accumulation without a temporary).
void matmul(const MatmulShape& s, DType in_dtype, const void* a, const void* b, const float* bias, DType out_dtype,
            void* c, bool accumulate = false);

}  // namespace trainer::cpu
