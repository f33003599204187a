// Full sums, squared norms and finite checks over flat buffers (flat_reduce.cuh).
// Design and costs: include/trainer/kernels/cuda/reduce.h.
#include "trainer/kernels/cuda/reduce.h"

#include "elementwise.cuh"
#include "flat_reduce.cuh"
#include "trainer/core/error.h"
#include "vector_access.cuh"

namespace trainer::cuda {
namespace {

__device__ inline bool finite(float v) { return (__float_as_int(v) & 0x7f800000) != 0x7f800000; }

// Item i covers elements [i * V, min(i * V + V, n)): a vector load except for a short tail.
template <class D, int V, class F>
__device__ inline void for_item(const D* x, int64_t n, int64_t item, F&& f) {
  const int64_t first = item * V;
  if (first + V <= n) {
    float v[V];
    load_floats<D, V>(x + first, v);
#pragma unroll
    for (int k = 0; k < V; ++k) f(v[k]);
  } else {
    for (int64_t i = first; i < n; ++i) f(to_float(x[i]));
  }
}

inline int64_t items_of(int64_t n, int width) { return (n + width - 1) / width; }

template <class D, int V>
struct SumOp {
  using Acc = DoubleSum;
  const D* x;
  int64_t n;
  double scale;
  double* out64;
  float* out32;
  __device__ void add(int64_t item, Acc& acc) const {
    for_item<D, V>(x, n, item, [&](float v) { acc.value += static_cast<double>(v); });
  }
  __device__ void finish(Acc total) const {
    const double r = total.value * scale;
    if (out64) *out64 = r;
    if (out32) *out32 = static_cast<float>(r);
  }
};

template <int V>
struct SquaredNormOp {
  using Acc = DoubleSum;
  const float* x;
  int64_t n;
  double* out64;
  float* out32;
  __device__ void add(int64_t item, Acc& acc) const {
    for_item<float, V>(x, n, item, [&](float v) {
      const double d = v;
      acc.value += d * d;
    });
  }
  __device__ void finish(Acc total) const {
    if (out64) *out64 = total.value;
    if (out32) *out32 = static_cast<float>(total.value);
  }
};

template <int V>
struct NonFiniteOp {
  using Acc = AnyFlag;
  const float* x;
  int64_t n;
  int32_t* result;
  __device__ void add(int64_t item, Acc& acc) const {
    for_item<float, V>(x, n, item, [&](float v) { acc.value |= !finite(v); });
  }
  __device__ void finish(Acc total) const { *result = total.value ? 0 : 1; }
};

// dx = the broadcast scalar *dy * factor, rounded like Tensor::full (double -> float -> T).
template <class D, int V>
__global__ void __launch_bounds__(256) fill_scaled_kernel(const float* __restrict__ dy, double factor,
                                                          D* __restrict__ dx, int64_t n) {
  const D value = from_float<D>(static_cast<float>(static_cast<double>(*dy) * factor));
  Vec<D, V> v;
#pragma unroll
  for (int k = 0; k < V; ++k) v.v[k] = value;
  const int64_t vectors = n / V, stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < vectors; i += stride)
    store_vec<D, V>(dx + i * V, v);
  const int64_t tail = vectors * V + threadIdx.x;
  if (blockIdx.x == 0 && tail < n) dx[tail] = value;
}

}  // namespace

template <class T>
void sum_backward(const float* dy, double factor, T* dx, int64_t n, Stream stream) {
  TRAINER_CHECK(n >= 0, "sum_backward: negative size ", n);
  if (n == 0) return;
  with_vector_width<T>(is_aligned(dx, kVectorBytes), [&](auto width) {
    constexpr int V = decltype(width)::value;
    TRAINER_CUDA_CHECK(cudaemu::launch(fill_scaled_kernel<device_t<T>, V>, dim3(grid_stride_blocks(n / V, 256)),
                                       dim3(256), 0, stream, dy, factor, device_ptr(dx), n));
  });
}

template <class T>
void sum(const T* x, int64_t n, double scale, double* out64, float* out32, Stream stream) {
  TRAINER_CHECK(n >= 0, "sum: negative size ", n);
  with_vector_width<T>(is_aligned(x, kVectorBytes), [&](auto width) {
    constexpr int V = decltype(width)::value;
    flat_reduce(SumOp<device_t<T>, V>{device_ptr(x), n, scale, out64, out32}, items_of(n, V), stream);
  });
}

void squared_norm(const float* x, int64_t n, double* out64, float* out32, Stream stream) {
  TRAINER_CHECK(n >= 0, "squared_norm: negative size ", n);
  with_vector_width<float>(is_aligned(x, kVectorBytes), [&](auto width) {
    constexpr int V = decltype(width)::value;
    flat_reduce(SquaredNormOp<V>{x, n, out64, out32}, items_of(n, V), stream);
  });
}

void all_finite(const float* x, int64_t n, int32_t* result, Stream stream) {
  TRAINER_CHECK(n >= 0 && result, "all_finite: bad arguments (", n, " elements)");
  with_vector_width<float>(is_aligned(x, kVectorBytes), [&](auto width) {
    constexpr int V = decltype(width)::value;
    flat_reduce(NonFiniteOp<V>{x, n, result}, items_of(n, V), stream);
  });
}

#define TRAINER_INSTANTIATE(T)                                                  \
  template void sum<T>(const T*, int64_t, double, double*, float*, Stream);     \
  template void sum_backward<T>(const float*, double, T*, int64_t, Stream);
TRAINER_INSTANTIATE(float)
TRAINER_INSTANTIATE(float16)
TRAINER_INSTANTIATE(bfloat16)
#undef TRAINER_INSTANTIATE

}  // namespace trainer::cuda
