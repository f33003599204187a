// Binary elementwise ops with the broadcasts the models need (Broadcast, kernels/shapes.h),
// casts, and gradient helpers.
#pragma once

#include <cstdint>

#include "trainer/core/dtype.h"
#include "trainer/kernels/shapes.h"

namespace trainer::cpu {

using trainer::BinaryOp;
using trainer::Broadcast;

// y = a (op) b, y: [outer, mid, inner] like a.
template <class T>
void binary_forward(BinaryOp op, const Broadcast& bc, const T* a, const T* b, T* y);

// db = sum over mid of dy (* a for Mul), i.e. the gradient of the broadcast operand: [outer, inner].
template <class T>
void broadcast_reduce(const Broadcast& bc, const T* dy, const T* a_or_null, T* db);

// y = alpha * x (+ y if accumulate), all [n].
template <class T>
void scale(const T* x, float alpha, T* y, int64_t n, bool accumulate);

// y = convert(x) between any two of f32 / bf16 / f16.
void cast(const void* x, DType from, void* y, DType to, int64_t n);

// Sum of all elements, accumulated in double.
template <class T>
double sum(const T* x, int64_t n);

// True when every element is finite (the loss scaler's overflow check).
bool all_finite(const float* x, int64_t n);

}  // namespace trainer::cpu
