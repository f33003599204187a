// A detection head's class logits to the class scores that multi-class NMS reads:
// sigmoid(logit / logit_scale), the background slot sliced off, laid out class-major
// (DetectionScoresShape, kernels/detection_shapes.h).
#pragma once

#include "trainer/kernels/detection_shapes.h"

namespace trainer::cpu {

// scores[n, j, a] = 1 / (1 + exp(-(logits[n, a, background + j] / logit_scale))), the
// logit widened to f32 first. logits: [images, anchors, slots] (f32 or bf16),
// scores: f32 [images, slots - background, anchors]
template <class T>
void detection_scores(const T* logits, const DetectionScoresShape& shape, float* scores);

}  // namespace trainer::cpu
