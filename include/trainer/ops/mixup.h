// NVIDIA's mixup (the ResNet-50 250-epoch recipe) as an op: each sample blended with the
// reversed batch, x_i <- lambda_i x_i + (1 - lambda_i) x_{N-1-i}, in f32 and stored in the
// images' dtype, and the smoothed one-hot targets blended the same way (kernels/cpu/mixup.h
// gives the exact arithmetic, the same bits on both backends). It prepares a batch, so it has
// no gradient: a tracked input is an Error, and so is an export that records it. Where the
// lambdas come from is the caller's (tasks/mixup.h draws them).
#pragma once

#include "trainer/ops/context.h"

namespace trainer::ops {

struct MixedBatch {
  Tensor images;   // the input's shape, dtype and device
  Tensor targets;  // [N, num_classes] f32
};

// images: [N, ...] f32, bf16 or (CUDA) f16; labels: [N] i32 in [0, num_classes); lambdas: [N]
// f32; all on one device. label_smoothing in [0, 1).
MixedBatch mixup(Context& ctx, const Tensor& images, const Tensor& labels, const Tensor& lambdas,
                 int64_t num_classes, float label_smoothing);

}  // namespace trainer::ops
