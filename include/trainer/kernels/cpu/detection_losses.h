// The two SSD/RetinaNet losses of the TF Object Detection API (core/losses.py), summed over
// every entry, with their gradients. Rows are anchors (N * A of them); each row has one weight.
#pragma once

#include <cstdint>

namespace trainer::cpu {

// Sum over rows r and classes j of SigmoidFocalClassificationLoss:
//   w[r] * a_t * (1 - p_t)^gamma * CE(x, t),   p = sigmoid(x),  p_t = t p + (1 - t)(1 - p),
//   a_t = t alpha + (1 - t)(1 - alpha),  CE = max(x, 0) - x t + log(1 + exp(-|x|))
// gamma == 0 drops the modulating factor and alpha < 0 the alpha factor (TF's "not set").
// 1 - p_t is formed as t (1 - p) + (1 - t) p with 1 - p = sigmoid(-x), so large |x| neither
// cancels nor overflows. Rows with weight 0 (ignored anchors) cost nothing.
// If `grad` is not null it receives dLoss/dx for every entry (f32, [rows, k]; 0 on rows of
// weight 0), the full derivative including the one through p_t:
//   w a_t [gamma (1 - p_t)^(gamma - 1) (1 - 2t) p (1 - p) CE + (1 - p_t)^gamma (p - t)]
// logits: [rows, k] (f32 or bf16), targets: [rows, k] f32, weights: [rows] f32
template <class T>
double sigmoid_focal_loss_forward(const T* logits, const float* targets, const float* weights, int64_t rows,
                                  int64_t k, float alpha, float gamma, float* grad);

// Sum over rows r of w[r] * sum_j huber(pred - target), huber(e) = e^2 / 2 for |e| <= delta and
// delta (|e| - delta / 2) beyond (tf.losses.huber_loss), i.e. WeightedSmoothL1LocalizationLoss.
// A NaN target counts as equal to the prediction (the loss's ignore_nan_targets, which SSD sets).
// If `grad` is not null it receives w[r] * clamp(pred - target, -delta, delta).
// pred: [rows, code] (f32 or bf16), targets: [rows, code] f32, weights: [rows] f32
template <class T>
double smooth_l1_loss_forward(const T* pred, const float* targets, const float* weights, int64_t rows,
                              int64_t code, float delta, float* grad);

// dx = T(grad * scale): the backward of a summed loss from its saved per-entry gradient.
template <class T>
void scale_saved_gradient(const float* grad, int64_t n, float scale, T* dx);

}  // namespace trainer::cpu
