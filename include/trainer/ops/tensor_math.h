// Untracked tensor arithmetic for the machinery around the model (tape accumulation,
// optimizers, loss scaling, tests): no autograd, CPU or CUDA tensors (src/ops/dispatch.h picks
// the kernel). CUDA work runs on the default stream; functions that return a host value copy
// it back (one small device-to-host copy, counted by core/allocator.h's DeviceCopyStats).
#pragma once

#include <vector>

#include "trainer/core/tensor.h"
#include "trainer/kernels/shapes.h"

namespace trainer::math {

Tensor add(const Tensor& a, const Tensor& b);    // a + b, same shape and dtype
void add_(Tensor& a, const Tensor& b);           // a += b
void axpy_(Tensor& y, float alpha, const Tensor& x);  // y += alpha * x
void scale_(Tensor& x, float alpha);             // x *= alpha
Tensor cast(const Tensor& x, DType to);          // a copy in another float type (same if equal)
double sum(const Tensor& x);
bool all_finite(const Tensor& x);                // F32 tensors
double squared_norm(const Tensor& x);            // sum of squares, F32

// The loss scaler's pass over the flat f32 gradients: grads *= inv_scale, then whether all are
// finite and (when asked) their squared norm, in one read on CUDA.
struct UnscaleResult {
  bool all_finite = true;
  double squared_norm = 0;  // 0 unless asked for
};
UnscaleResult unscale_and_check_finite(Tensor& grads, float inv_scale, bool want_squared_norm);

// Momentum SGD over the flat f32 buffers (kernels/cpu/optimizer.h): `segments` holds the
// SgdSegment table as bytes (U8) on the buffers' device, made by sgd_segments_tensor.
// ema = decay * ema + (1 - decay) * w, flat F32 tensors on one device (the weights' moving average).
void ema_update_(Tensor& ema, const Tensor& w, float decay);
Tensor sgd_segments_tensor(const std::vector<SgdSegment>& segments, Device device);
void momentum_sgd_step(Tensor& w, const Tensor& grad, Tensor& accum, const Tensor& segments, float lr,
                       float momentum, bool nesterov);

}  // namespace trainer::math
