// Fast normalised fusion and its gradients. Design and costs: include/trainer/kernels/cuda/fusion.h.
#include "trainer/kernels/cuda/fusion.h"

#include "elementwise.cuh"
#include "flat_reduce.cuh"
#include "trainer/core/error.h"

namespace trainer::cuda {
namespace {

constexpr int kMax = FusionShape::kMaxInputs;

// The coefficients c_i = relu(w_i) / S and S = sum_j relu(w_j) + epsilon, in the CPU's order.
struct Coefficients {
  float c[kMax];
  float sum;
};
__device__ inline Coefficients coefficients(int n, const float* w, float epsilon) {
  Coefficients k;
  k.sum = epsilon;
  for (int i = 0; i < n; ++i) k.sum += fmaxf(w[i], 0.f);
  for (int i = 0; i < n; ++i) k.c[i] = fmaxf(w[i], 0.f) / k.sum;
  return k;
}

template <class D>
struct Pointers {
  D* p[kMax];
};

void check(const FusionShape& s) {
  TRAINER_CHECK(s.inputs >= 1 && s.inputs <= kMax, "fusion: ", s.inputs, " inputs (1..", kMax, " supported)");
}

// n dot products <dy, x_i> in double.
struct Dots {
  double v[kMax];
  __device__ static Dots identity() { return {}; }
  __device__ static Dots merge(Dots a, Dots b) {
    for (int i = 0; i < kMax; ++i) a.v[i] += b.v[i];
    return a;
  }
  __device__ static Dots shfl_xor(Dots a, int lane_mask) {
    for (int i = 0; i < kMax; ++i) a.v[i] = __shfl_xor_sync(0xffffffffu, a.v[i], lane_mask);
    return a;
  }
};

template <class D>
struct Forward {
  int n;
  float epsilon;
  Pointers<const D> x;
  const float* w;
  D* y;
  __device__ void operator()(int64_t i) const {
    const Coefficients k = coefficients(n, w, epsilon);
    float acc = k.c[0] * to_float(x.p[0][i]);
    for (int j = 1; j < n; ++j) acc += k.c[j] * to_float(x.p[j][i]);
    y[i] = from_float<D>(acc);
  }
};

template <class D>
struct InputGradients {
  int n;
  float epsilon;
  const D* dy;
  const float* w;
  Pointers<D> dx;
  __device__ void operator()(int64_t i) const {
    const Coefficients k = coefficients(n, w, epsilon);
    const float g = to_float(dy[i]);
    for (int j = 0; j < n; ++j) dx.p[j][i] = from_float<D>(k.c[j] * g);
  }
};

template <class D>
struct WeightGradient {
  using Acc = Dots;
  int n;
  float epsilon;
  const D* dy;
  Pointers<const D> x;
  const float* w;
  float* dw;
  __device__ void add(int64_t i, Acc& acc) const {
    const double g = to_float(dy[i]);
    for (int k = 0; k < n; ++k) acc.v[k] += g * to_float(x.p[k][i]);
  }
  __device__ void finish(Acc dots) const {
    const Coefficients k = coefficients(n, w, epsilon);
    double dy_dot_y = 0;
    for (int i = 0; i < n; ++i) dy_dot_y += static_cast<double>(k.c[i]) * dots.v[i];
    for (int i = 0; i < n; ++i)
      dw[i] = w[i] > 0.f ? static_cast<float>((dots.v[i] - dy_dot_y) / static_cast<double>(k.sum)) : 0.f;
  }
};

}  // namespace

template <class T>
void fusion_forward(const FusionShape& s, const T* const* x, const float* w, T* y, Stream stream) {
  check(s);
  using D = device_t<T>;
  Forward<D> op{s.inputs, s.epsilon, {}, w, device_ptr(y)};
  for (int i = 0; i < s.inputs; ++i) op.x.p[i] = device_ptr(x[i]);
  for_each_index(s.size, op, stream);
}

template <class T>
void fusion_backward_inputs(const FusionShape& s, const T* dy, const float* w, T* const* dx, Stream stream) {
  check(s);
  using D = device_t<T>;
  InputGradients<D> op{s.inputs, s.epsilon, device_ptr(dy), w, {}};
  for (int i = 0; i < s.inputs; ++i) op.dx.p[i] = device_ptr(dx[i]);
  for_each_index(s.size, op, stream);
}

template <class T>
void fusion_backward_weights(const FusionShape& s, const T* dy, const T* const* x, const float* w, float* dw,
                             Stream stream) {
  check(s);
  using D = device_t<T>;
  WeightGradient<D> op{s.inputs, s.epsilon, device_ptr(dy), {}, w, dw};
  for (int i = 0; i < s.inputs; ++i) op.x.p[i] = device_ptr(x[i]);
  flat_reduce(op, s.size, stream);
}

#define TRAINER_INSTANTIATE(T)                                                                               \
  template void fusion_forward<T>(const FusionShape&, const T* const*, const float*, T*, Stream);            \
  template void fusion_backward_inputs<T>(const FusionShape&, const T*, const float*, T* const*, Stream);    \
  template void fusion_backward_weights<T>(const FusionShape&, const T*, const T* const*, const float*, float*, \
                                           Stream);
TRAINER_INSTANTIATE(float)
TRAINER_INSTANTIATE(float16)
TRAINER_INSTANTIATE(bfloat16)
#undef TRAINER_INSTANTIATE

}  // namespace trainer::cuda
