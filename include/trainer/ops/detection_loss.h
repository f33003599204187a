// The SSD/RetinaNet losses of the TF Object Detection API as ops: each returns the F32 scalar
// sum over every entry and records its backward (into the predictions only; targets and
// weights are constants). Normalisation (by the number of positives, by the code size) is the
// caller's: scale the scalar, e.g. with ops::scale.
// While recording, the forward also writes the per-entry gradient (f32, the predictions' size:
// 150 MB for SSD320's [32, 12804, 91] logits) and backward only scales it, so the logits'
// transcendental functions run once per step.
#pragma once

#include "trainer/ops/context.h"

namespace trainer::ops {

// Sum of core/losses.py SigmoidFocalClassificationLoss: per entry
//   weights[n, a] * a_t * (1 - p_t)^gamma * sigmoid_cross_entropy(logits, targets)
// with p_t = t p + (1 - t)(1 - p), a_t = t alpha + (1 - t)(1 - alpha). gamma = 0 drops the
// modulating factor and alpha < 0 the alpha factor (TF's unset alpha). The gradient is the
// full derivative, through p_t as well (what TF's autodiff computes), and stays finite for any
// finite logit.
// logits: [N, A, K] f32 or bf16, targets: [N, A, K] f32 (0/1), weights: [N, A] f32
Tensor sigmoid_focal_loss(Context& ctx, const Tensor& logits, const Tensor& targets, const Tensor& weights,
                          float alpha, float gamma);

// Sum of core/losses.py WeightedSmoothL1LocalizationLoss: weights[n, a] times the Huber loss
// (tf.losses.huber_loss with `delta`) of pred - targets summed over the code; NaN targets count
// as equal to the prediction (ignore_nan_targets).
// pred: [N, A, C] f32 or bf16, targets: [N, A, C] f32, weights: [N, A] f32
Tensor smooth_l1_loss(Context& ctx, const Tensor& pred, const Tensor& targets, const Tensor& weights, float delta);

}  // namespace trainer::ops
