// The SSD/RetinaNet losses on the CUDA backend: cpu/detection_losses.h's contract (same
// arguments, same per-entry definitions, the same saved gradient) plus a stream. Differences
// forced by the device:
//  - the summed loss is written to device memory (`loss`, one float) instead of returned, so
//    nothing synchronises with the host; the op front-end reads it when it needs the value;
//  - the sum is deterministic (fixed per-block partials, then one block adds them in a fixed
//    order in double) but not bitwise the CPU's order: expect agreement to ~1e-6 relative.
// Pointers are device memory; T is float, float16 or bfloat16 (the CPU backend has float and
// bfloat16); targets, weights and gradients are float. Asynchronous on `stream`; the partial
// sums live in the caching allocator (runtime.h), so keep such work on one stream.
#pragma once

#include <cstdint>

#include "trainer/core/half.h"
#include "trainer/kernels/cuda/stream.h"

namespace trainer::cuda {

// loss[0] = sum over rows r and classes j of SigmoidFocalClassificationLoss (see
// cpu::sigmoid_focal_loss_forward); grad (if not null) = dLoss/dlogits, [rows, k] f32, 0 on
// rows of weight 0 (which cost nothing, whatever their logits, NaN included).
// logits: [rows, k], targets: [rows, k] f32, weights: [rows] f32, loss: [1] f32
template <class T>
void sigmoid_focal_loss_forward(const T* logits, const float* targets, const float* weights, int64_t rows, int64_t k,
                                float alpha, float gamma, float* grad, float* loss, Stream stream);

// loss[0] = sum over rows r of w[r] * sum_j huber(pred - target) (cpu::smooth_l1_loss_forward,
// NaN targets ignored); grad (if not null) = w[r] * clamp(pred - target, -delta, delta).
// pred: [rows, code], targets: [rows, code] f32, weights: [rows] f32, loss: [1] f32
template <class T>
void smooth_l1_loss_forward(const T* pred, const float* targets, const float* weights, int64_t rows, int64_t code,
                            float delta, float* grad, float* loss, Stream stream);

// Backward of either loss from its saved gradient: dx = T(grad * scale) (cpu::scale_saved_gradient).
template <class T>
void scale_saved_gradient(const float* grad, int64_t n, float scale, T* dx, Stream stream);

// The same with the upstream gradient read from device memory (`scale`: [1] f32, e.g. the
// loss's incoming gradient), so the backward needs no host round trip.
template <class T>
void scale_saved_gradient(const float* grad, int64_t n, const float* scale, T* dx, Stream stream);

}  // namespace trainer::cuda
