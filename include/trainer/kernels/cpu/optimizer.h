// The optimizer's per-step passes over the flat f32 parameter, gradient and momentum buffers,
// CPU backend; cuda/momentum_sgd.h and cuda/loss_scale.h take the same arguments plus a stream.
#pragma once

#include <cstdint>

#include "trainer/kernels/shapes.h"

namespace trainer::cpu {

using trainer::SgdSegment;

// TensorFlow's MomentumOptimizer with L2 weight decay, per element of every segment:
//   g = grad + wd * w;  a = momentum * a + g;  w -= lr * (nesterov ? g + momentum * a : a)
// Elements outside every segment are not touched; count is the buffers' length.
void momentum_sgd_step(float* w, const float* grad, float* accum, const SgdSegment* segments, int num_segments,
                       int64_t count, float lr, float momentum, bool nesterov);

// grads[i] *= inv_scale (skipped when inv_scale == 1); *all_finite = 1 when every result is
// finite, else 0; *squared_norm (may be null) = the sum of the results squared, in double.
void unscale_and_check_finite(float* grads, int64_t n, float inv_scale, int32_t* all_finite, double* squared_norm);

// The moving average of the weights: ema = decay * ema + (1 - decay) * w over [n], (1 - decay)
// rounded to f32 once (as cuda/ema.h).
void ema_update(float* ema, const float* w, int64_t n, float decay);

// The sum of x[i]^2 in double (the global gradient norm squared).
double squared_norm(const float* x, int64_t n);

}  // namespace trainer::cpu
