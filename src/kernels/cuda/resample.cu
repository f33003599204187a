// Nearest 2x upsampling and its gradient. Design and costs: include/trainer/kernels/cuda/resample.h.
#include "trainer/kernels/cuda/resample.h"

#include <algorithm>
#include <limits>

#include "elementwise.cuh"
#include "trainer/core/error.h"
#include "vector_access.cuh"

namespace trainer::cuda {
namespace resample_detail {

// The shape in 32-bit fields; outside the anonymous namespace: the wrappers' lambdas capture it.
struct Geometry {
  int n, h, w, c;
};

}  // namespace resample_detail

namespace {

using resample_detail::Geometry;

constexpr int kResampleThreads = 128;

// Low-resolution position (b, i, j) and channels [c, c + V): thread (blockIdx.x, threadIdx.x)
// over j * C/V + c/V, blockIdx.y over i, blockIdx.z over b (both grid-stride).
template <class D, int V>
__global__ void __launch_bounds__(kResampleThreads)
    upsample_forward_kernel(const D* __restrict__ x, int n, int h, int w, int c, D* __restrict__ y) {
  const int vectors = c / V;
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= w * vectors) return;
  const int j = t / vectors, k = (t - j * vectors) * V;
  const int64_t row2 = static_cast<int64_t>(2 * w) * c;  // one high-resolution row
  for (int b = blockIdx.z; b < n; b += gridDim.z)
    for (int i = blockIdx.y; i < h; i += gridDim.y) {
      const Vec<D, V> v = load_vec<D, V>(x + ((static_cast<int64_t>(b) * h + i) * w + j) * c + k);
      D* out = y + ((static_cast<int64_t>(b) * 2 * h + 2 * i) * 2 * w + 2 * j) * c + k;
      store_vec<D, V>(out, v);
      store_vec<D, V>(out + c, v);
      store_vec<D, V>(out + row2, v);
      store_vec<D, V>(out + row2 + c, v);
    }
}

template <class D, int V>
__global__ void __launch_bounds__(kResampleThreads)
    upsample_backward_kernel(const D* __restrict__ dy, int n, int h, int w, int c, D* __restrict__ dx) {
  const int vectors = c / V;
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= w * vectors) return;
  const int j = t / vectors, k = (t - j * vectors) * V;
  const int64_t row2 = static_cast<int64_t>(2 * w) * c;
  for (int b = blockIdx.z; b < n; b += gridDim.z)
    for (int i = blockIdx.y; i < h; i += gridDim.y) {
      const D* r0 = dy + ((static_cast<int64_t>(b) * 2 * h + 2 * i) * 2 * w + 2 * j) * c + k;
      const D* r1 = r0 + row2;
      float a[V], b0[V], c0[V], d0[V], s[V];
      load_floats<D, V>(r0, a);
      load_floats<D, V>(r0 + c, b0);
      load_floats<D, V>(r1, c0);
      load_floats<D, V>(r1 + c, d0);
#pragma unroll
      for (int q = 0; q < V; ++q) s[q] = ((a[q] + b0[q]) + c0[q]) + d0[q];
      store_floats<D, V>(dx + ((static_cast<int64_t>(b) * h + i) * w + j) * c + k, s);
    }
}


Geometry checked(const char* what, int64_t n, int64_t h, int64_t w, int64_t c) {
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  TRAINER_CHECK(n >= 0 && h > 0 && w > 0 && c > 0, what, ": bad shape [", n, ", ", h, ", ", w, ", ", c, "]");
  TRAINER_CHECK(n <= kMax && 2 * h <= kMax && (2 * w + 1) * c <= kMax, what, ": shape [", n, ", ", h, ", ", w, ", ", c,
                "] too large for 32-bit positions");
  return {static_cast<int>(n), static_cast<int>(h), static_cast<int>(w), static_cast<int>(c)};
}

template <class T, class Launch>
void launch_over_low_res(const Geometry& g, const void* p0, const void* p1, Launch&& launch) {
  with_vector_width<T>(vectorizable<T>(max_vector_width<T>(), {p0, p1}, {g.c}), [&](auto width) {
    constexpr int V = decltype(width)::value;
    const int64_t x = (static_cast<int64_t>(g.w) * (g.c / V) + kResampleThreads - 1) / kResampleThreads;
    const dim3 grid(static_cast<unsigned>(x), static_cast<unsigned>(std::min(g.h, 65535)),
                    static_cast<unsigned>(std::min(g.n, 65535)));
    launch(width, grid);
  });
}

}  // namespace

template <class T>
void upsample_nearest2x_forward(const T* x, int64_t n, int64_t h, int64_t w, int64_t c, T* y, Stream stream) {
  const Geometry g = checked("upsample_nearest2x_forward", n, h, w, c);
  if (g.n == 0) return;
  launch_over_low_res<T>(g, x, y, [&](auto width, dim3 grid) {
    TRAINER_CUDA_CHECK(cudaemu::launch(upsample_forward_kernel<device_t<T>, decltype(width)::value>, grid,
                                       dim3(kResampleThreads), 0, stream, device_ptr(x), g.n, g.h, g.w, g.c,
                                       device_ptr(y)));
  });
}

template <class T>
void upsample_nearest2x_backward(const T* dy, int64_t n, int64_t h, int64_t w, int64_t c, T* dx, Stream stream) {
  const Geometry g = checked("upsample_nearest2x_backward", n, h, w, c);
  if (g.n == 0) return;
  launch_over_low_res<T>(g, dy, dx, [&](auto width, dim3 grid) {
    TRAINER_CUDA_CHECK(cudaemu::launch(upsample_backward_kernel<device_t<T>, decltype(width)::value>, grid,
                                       dim3(kResampleThreads), 0, stream, device_ptr(dy), g.n, g.h, g.w, g.c,
                                       device_ptr(dx)));
  });
}

#define TRAINER_INSTANTIATE(T)                                                                             \
  template void upsample_nearest2x_forward<T>(const T*, int64_t, int64_t, int64_t, int64_t, T*, Stream);   \
  template void upsample_nearest2x_backward<T>(const T*, int64_t, int64_t, int64_t, int64_t, T*, Stream);
TRAINER_INSTANTIATE(float)
TRAINER_INSTANTIATE(float16)
TRAINER_INSTANTIATE(bfloat16)
#undef TRAINER_INSTANTIATE

}  // namespace trainer::cuda
