// Softmax cross-entropy over logits [N, K] with TF-style label smoothing or soft targets
// (mixup) on the CUDA backend: cpu/softmax_cross_entropy.h plus the stream, except that the
// mean loss is written to device memory instead of returned (no host synchronisation). Pointers
// are device memory; T is float, float16 or bfloat16 (logits and their gradient); probabilities
// and soft targets are f32, labels int32. Asynchronous on `stream`.
//
// Design (src/kernels/cuda/softmax_cross_entropy.cu): forward is one block per row (32..256
// threads, ~4 classes per thread): row max (float), the exponentials written to `probs` and
// their sum in double, then a second sweep over the thread's own entries normalises them and
// accumulates -t * log_softmax in double, as the CPU backend does. Block reductions are fixed
// xor-shuffle trees; the per-row losses go to scratch and a second launch sums them in a fixed
// tree (flat_reduce.cuh), so the loss is the same bits on every run. Backward is elementwise,
// 4 classes per thread (16-byte loads of probs and soft targets) when K % 4 == 0.
//
// Cost at the ResNet-50 head, batch 256, K = 1000: forward reads 256 K logits (1 MB f32) and
// writes 1 MB of probs (~0.6 us of HBM3 at 3.35 TB/s; ~1.3 M exp, ~2.6 M FLOPs); backward
// reads 1 MB and writes 0.5-1 MB. Both are launch-latency bound (a few us each on an H100),
// which is why the loss is reduced in just two launches.
#pragma once

#include <cstdint>

#include "trainer/core/half.h"
#include "trainer/kernels/cuda/stream.h"

namespace trainer::cuda {

// Targets: either `labels` (int32 [N], smoothed as TF does: on = 1 - s + s/K, off = s/K) or
// `soft_targets` (f32 [N, K], used as given). Writes the softmax to `probs` (f32 [N, K], kept
// for backward) and the mean loss over N to `loss` (one f32; 0 when N = 0). A label outside
// [0, K) makes its row's loss, and so the mean, NaN (the CPU backend throws; a device kernel
// cannot, and a NaN loss is caught by the loss scaler's finite check).
template <class T>
void softmax_cross_entropy_forward(const T* logits, int64_t n, int64_t k, const int32_t* labels,
                                   const float* soft_targets, float smoothing, float* probs, float* loss,
                                   Stream stream);

// dlogits = (probs - target) * grad_scale, where grad_scale = dL/dloss / N for the mean.
template <class T>
void softmax_cross_entropy_backward(const float* probs, int64_t n, int64_t k, const int32_t* labels,
                                    const float* soft_targets, float smoothing, float grad_scale, T* dlogits,
                                    Stream stream);

}  // namespace trainer::cuda
