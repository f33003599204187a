// Mixup's blend of a batch with itself reversed (MixupShape, kernels/shapes.h), arithmetic in
// f32 whatever the images' storage type. With j = N - 1 - i, s the smoothing and K the classes:
//   mixed_i      = fma(lambda_i, x_i, (1 - lambda_i) * x_j)        rounded once to T
//   targets_i,c  = s / K, then fma(lambda_i, 1 - s, .) where c = y_i,
//                         then fma(1 - lambda_i, 1 - s, .) where c = y_j
// The fused multiply-adds are spelled out rather than left to the compiler's contraction, so
// both backends round alike and give the same bits (and so does the host loop this replaced,
// which GCC contracted into exactly these FMAs).
#pragma once

#include <cstdint>

#include "trainer/kernels/shapes.h"

namespace trainer::cpu {

using trainer::MixupShape;

// images, mixed: [batch, sample_size] (must not overlap: sample i reads sample N - 1 - i);
// labels: [batch] i32 in [0, classes) (an Error names the first one outside); lambdas: [batch]
// f32; targets: [batch, classes] f32, overwritten.
template <class T>
void mixup_blend(const MixupShape& s, const T* images, const int32_t* labels, const float* lambdas, T* mixed,
                 float* targets);

}  // namespace trainer::cpu
