// Full reductions on the CUDA backend: the sum of a tensor (ops::sum / ops::mean,
// math::sum) and its gradient (a broadcast fill), the squared norm of the flat f32 gradient
// buffer (math::squared_norm, the global gradient norm) and the finite check
// (math::all_finite). The CPU versions return the value; these write it to device memory, so
// nothing waits for the GPU. Pointers are device memory; T is float, float16 or bfloat16.
// Asynchronous on `stream`.
//
// Deterministic: two passes with a fixed tree (src/kernels/cuda/flat_reduce.cuh): per-block
// partials over a grid whose size depends only on n, then one block combines them; no float
// atomics, so the same input gives the same bits on every run. Sums accumulate in double like
// the CPU backend (FP64 adds are ~20x below the HBM rate on an H100, so they cost nothing).
// Loads are 16-byte vectors (4 f32 / 8 16-bit values) when x is 16-byte aligned; grid up to
// 1024 blocks of 256 threads.
//
// Cost at ResNet-50 (25,557,032 f32 parameters), H100 HBM3 at 3.35 TB/s: squared norm or
// finite check of the gradient buffer reads 102 MB -> 31 us (25.6 M FMAs); a sum of a
// [256,56,56,256] bf16 activation reads 411 MB -> 123 us.
#pragma once

#include <cstdint>

#include "trainer/core/half.h"
#include "trainer/kernels/cuda/stream.h"

namespace trainer::cuda {

// total = scale * sum of x[0..n); writes it to out64 (double) and/or out32 (float), either
// may be null. scale = 1 for a sum, 1 / n for a mean.
template <class T>
void sum(const T* x, int64_t n, double scale, double* out64, float* out32, Stream stream);

// The gradient of sum / mean (ops/reduce.cpp): dx[i] = T(float(double(*dy) * factor)) for
// i in [0, n), with dy a device f32 scalar (the loss gradient stays on the device), factor = 1
// for a sum and 1 / numel for a mean; the CPU's Tensor::full(shape, dy.item() * factor)
// rounding. 16-byte vector stores; a write-only pass (bf16 [256,56,56,256]: 411 MB -> 123 us).
template <class T>
void sum_backward(const float* dy, double factor, T* dx, int64_t n, Stream stream);

// sum of x[i]^2 in double, to out64 and/or out32 (either may be null).
void squared_norm(const float* x, int64_t n, double* out64, float* out32, Stream stream);

// *result = 1 when no element of x is inf or NaN, else 0.
void all_finite(const float* x, int64_t n, int32_t* result, Stream stream);

}  // namespace trainer::cuda
