// NVIDIA's mixup (the ResNet-50 250-epoch recipe): per sample i, lambda_i ~ Beta(a, a);
// image_i <- lambda_i * image_i + (1 - lambda_i) * image_{N-1-i} (the batch reversed), and the
// smoothed one-hot targets mixed the same way. The draws come from (seed, step), so a resumed
// run mixes identically. The N draws are made on the host and go to the images' device in one
// upload; the blend runs there (ops/mixup.h).
#pragma once

#include "trainer/ops/context.h"

namespace trainer::tasks {

// images: [N, H, W, C] on any device (replaced by the mixed batch, same dtype and device);
// labels: [N] I32 on the images' device. Returns the soft targets [N, num_classes] F32 there.
Tensor mixup(Context& ctx, Tensor& images, const Tensor& labels, int64_t num_classes, float smoothing, float alpha,
             uint64_t seed, int64_t step);

}  // namespace trainer::tasks
