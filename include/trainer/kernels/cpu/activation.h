// Pointwise activations on the CPU backend, forward and backward.
// T is float or bfloat16; arithmetic is in float.
#pragma once

#include <cstdint>

#include "trainer/core/half.h"
#include "trainer/kernels/shapes.h"

namespace trainer {
namespace cpu {

// y = act(x); x, y: [n]
template <class T>
void activation_forward(Activation act, const T* x, T* y, int64_t n);

// dx = dy * act'(x). `y` is the forward output (relu/relu6/sigmoid read it, swish reads x).
template <class T>
void activation_backward(Activation act, const T* x, const T* y, const T* dy, T* dx, int64_t n);

}  // namespace cpu
}  // namespace trainer
