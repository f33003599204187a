// Batch normalisation over NHWC activations viewed as [rows = N*H*W, channels], CPU backend.
// Statistics are per channel and always accumulated in float (T = float or bfloat16).
#pragma once

#include <cstdint>

#include "trainer/kernels/cpu/activation.h"

namespace trainer::cpu {

// mean[c], var[c] (biased, as used for normalisation in training) of x: [rows, channels].
template <class T>
void batchnorm_stats(const T* x, int64_t rows, int64_t channels, float* mean, float* var);

// invstd[c] = 1 / sqrt(var[c] + epsilon). When running_mean/running_var are given (training),
// also running = momentum * running + (1 - momentum) * batch (TF's decay convention, as
// ops::BatchNormOptions), with the unbiased batch variance var * rows / (rows - 1).
// In eval, pass the running statistics as mean/var and null running pointers.
void batchnorm_finalize_stats(const float* mean, const float* var, int64_t channels, int64_t rows, float epsilon,
                              float momentum, float* invstd, float* running_mean, float* running_var);

// y = act(gamma * (x - mean) * invstd + beta), with invstd = 1 / sqrt(var + eps) precomputed.
template <class T>
void batchnorm_apply(const T* x, int64_t rows, int64_t channels, const float* mean, const float* invstd,
                     const float* gamma, const float* beta, Activation act, T* y);

// Training-mode backward (batch statistics): given dy, x and the saved mean/invstd,
// dgamma[c] = sum(dy * xhat), dbeta[c] = sum(dy),
// dx = gamma * invstd / rows * (rows * dy - dbeta - xhat * dgamma).
// dx may be null (only parameter gradients wanted). Frozen/eval mode uses batchnorm_apply's
// linearity instead: dx = dy * gamma * invstd.
template <class T>
void batchnorm_backward(const T* dy, const T* x, int64_t rows, int64_t channels, const float* mean,
                        const float* invstd, const float* gamma, T* dx, float* dgamma, float* dbeta);

}  // namespace trainer::cpu
