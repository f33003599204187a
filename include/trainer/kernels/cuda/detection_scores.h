// cpu/detection_scores.h on the CUDA backend, the same signature plus the stream, the same
// float operations (bit for bit in the emulated build; a GPU's expf may differ from the C
// library's by 1-2 ulp). Pointers are device memory; T is float, float16 or bfloat16.
// Asynchronous on `stream`.
#pragma once

#include "trainer/core/half.h"
#include "trainer/kernels/cuda/stream.h"
#include "trainer/kernels/detection_shapes.h"

namespace trainer::cuda {

// logits: [images, anchors, slots], scores: f32 [images, slots - background, anchors]
template <class T>
void detection_scores(const T* logits, const DetectionScoresShape& shape, float* scores, Stream stream);

}  // namespace trainer::cuda
