#include "trainer/kernels/cpu/activation.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "trainer/core/error.h"
#include "trainer/kernels/cpu/pointwise.h"
#include "vector_math.h"

namespace trainer::cpu {
namespace {

inline float sigmoid(float x) { return sigmoid_stable(x); }  // vectorises (vector_math.h)

// The loop bodies capture the pointers by value: captured by reference, every iteration reloads
// them through the closure (the stores might alias it), which keeps the loop scalar.
template <class T, class F>
void map1(const T* x, T* y, int64_t n, F f) {
  pointwise_for(n, [=](int64_t i) { store_f32(y, i, f(load_f32(x, i))); });
}

// dx = keep(y) ? dy : 0, as a branch-free select on the storage bits (half the units of a ReLU
// are off, so a branch mispredicts constantly, and GCC will not if-convert a select of
// bfloat16 structs); a non-finite dy where the unit is off still gives 0, as in PyTorch's
// threshold_backward.
template <class T, class Keep>
void gradient_where(const T* y, const T* dy, T* dx, int64_t n, Keep keep) {
  if constexpr (std::is_same_v<T, float>) {
    pointwise_for(n, [=](int64_t i) {
      const uint32_t mask = -static_cast<uint32_t>(keep(y[i]));
      dx[i] = std::bit_cast<float>(std::bit_cast<uint32_t>(dy[i]) & mask);
    });
  } else {
    pointwise_for(n, [=](int64_t i) {
      const uint16_t mask = static_cast<uint16_t>(-static_cast<int>(keep(float(y[i]))));
      dx[i].bits = dy[i].bits & mask;
    });
  }
}

}  // namespace

template <class T>
void activation_forward(Activation act, const T* x, T* y, int64_t n) {
  switch (act) {
    case Activation::Identity: map1(x, y, n, [](float v) { return v; }); return;
    case Activation::Relu: map1(x, y, n, [](float v) { return v > 0.f ? v : 0.f; }); return;
    case Activation::Relu6: map1(x, y, n, [](float v) { return v < 0.f ? 0.f : (v > 6.f ? 6.f : v); }); return;
    case Activation::Swish: map1(x, y, n, [](float v) { return v * sigmoid(v); }); return;
    case Activation::Sigmoid: map1(x, y, n, [](float v) { return sigmoid(v); }); return;
  }
  TRAINER_ASSERT(false);
}

template <class T>
void activation_backward(Activation act, const T* x, const T* y, const T* dy, T* dx, int64_t n) {
  switch (act) {
    case Activation::Identity:
      pointwise_for(n, [=](int64_t i) { dx[i] = dy[i]; });
      return;
    case Activation::Relu:  // the gradient at exactly 0 is 0, as in PyTorch and TensorFlow
      gradient_where(y, dy, dx, n, [](float v) { return v > 0.f; });
      return;
    case Activation::Relu6:
      gradient_where(y, dy, dx, n, [](float v) { return v > 0.f && v < 6.f; });
      return;
    case Activation::Swish:  // d/dx x*s(x) = s(x) * (1 + x * (1 - s(x)))
      pointwise_for(n, [=](int64_t i) {
        const float v = load_f32(x, i), s = sigmoid(v);
        store_f32(dx, i, load_f32(dy, i) * s * (1.f + v * (1.f - s)));
      });
      return;
    case Activation::Sigmoid:
      pointwise_for(n, [=](int64_t i) {
        const float s = float(y[i]);
        dx[i] = T(float(dy[i]) * s * (1.f - s));
      });
      return;
  }
  TRAINER_ASSERT(false);
}

template void activation_forward<float>(Activation, const float*, float*, int64_t);
template void activation_forward<bfloat16>(Activation, const bfloat16*, bfloat16*, int64_t);
template void activation_backward<float>(Activation, const float*, const float*, const float*, float*, int64_t);
template void activation_backward<bfloat16>(Activation, const bfloat16*, const bfloat16*, const bfloat16*,
                                            bfloat16*, int64_t);

}  // namespace trainer::cpu
