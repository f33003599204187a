// Binary elementwise ops with the [outer, mid, inner] broadcast, the broadcast operand's
// gradient (mid_reduce.cuh) and scale/axpy. Design and costs: include/trainer/kernels/cuda/elementwise.h.
#include "trainer/kernels/cuda/elementwise.h"

#include <algorithm>

#include "elementwise.cuh"
#include "mid_reduce.cuh"
#include "trainer/core/error.h"
#include "vector_access.cuh"

namespace trainer::cuda {
namespace {

constexpr int kBinaryThreads = 256;
// Grid-stride kernels stop growing the grid here (about 60 blocks of 256 threads per H100 SM:
// several waves, each thread still handling a few vectors).
constexpr int64_t kMaxBlocks = 8192;

template <BinaryOp Op>
__device__ inline float apply(float u, float v) {
  if constexpr (Op == BinaryOp::Add) return u + v;
  else if constexpr (Op == BinaryOp::Sub) return u - v;
  else if constexpr (Op == BinaryOp::Mul) return u * v;
  else return fmaxf(u + v, 0.f);
}

// No __restrict__: y may alias a (in-place use by a caller) without changing the result.
template <class D, int V, BinaryOp Op>
__global__ void __launch_bounds__(kBinaryThreads)
    binary_kernel(const D* a, const D* b, D* y, int64_t outer, int64_t mid, int64_t inner) {
  const int64_t vectors = inner / V;
  const int64_t x0 = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t x_stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y;
  const int64_t m_stride = static_cast<int64_t>(gridDim.y) * blockDim.y;
  for (int64_t o = blockIdx.z; o < outer; o += gridDim.z) {
    const D* b_row = b + o * inner;
    for (int64_t m = m0; m < mid; m += m_stride) {
      const int64_t row = (o * mid + m) * inner;
      for (int64_t v = x0; v < vectors; v += x_stride) {
        float av[V], bv[V], yv[V];
        load_floats<D, V>(a + row + v * V, av);
        load_floats<D, V>(b_row + v * V, bv);
#pragma unroll
        for (int k = 0; k < V; ++k) yv[k] = apply<Op>(av[k], bv[k]);
        store_floats<D, V>(y + row + v * V, yv);
      }
    }
  }
}

template <class D, int V>
void launch_binary(BinaryOp op, const D* a, const D* b, D* y, int64_t outer, int64_t mid, int64_t inner,
                   Stream stream) {
  const int64_t vectors = inner / V;
  unsigned bx = 1;
  while (bx < vectors && bx < kBinaryThreads) bx *= 2;
  const unsigned by = kBinaryThreads / bx;
  const int64_t gx = std::min<int64_t>((vectors + bx - 1) / bx, kMaxBlocks);
  const int64_t gz = std::min<int64_t>(outer, 65535);
  const int64_t gy = std::clamp<int64_t>(std::min<int64_t>((mid + by - 1) / by, kMaxBlocks / (gx * gz)), 1, 65535);
  const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy), static_cast<unsigned>(gz));
  auto go = [&](auto kernel) {
    TRAINER_CUDA_CHECK(cudaemu::launch(kernel, grid, dim3(bx, by), 0, stream, a, b, y, outer, mid, inner));
  };
  switch (op) {
    case BinaryOp::Add: return go(binary_kernel<D, V, BinaryOp::Add>);
    case BinaryOp::Sub: return go(binary_kernel<D, V, BinaryOp::Sub>);
    case BinaryOp::Mul: return go(binary_kernel<D, V, BinaryOp::Mul>);
    case BinaryOp::AddRelu: return go(binary_kernel<D, V, BinaryOp::AddRelu>);
  }
  fail("binary_forward: unknown op ", static_cast<int>(op));
}

// broadcast_reduce's terms: dy, or dy * a.
template <class D>
struct GradTerm {
  const D *dy, *a;  // a may be null
  template <int V>
  __device__ void operator()(int64_t offset, float (&acc)[V]) const {
    float g[V];
    load_floats<D, V>(dy + offset, g);
    if (a) {
      float av[V];
      load_floats<D, V>(a + offset, av);
#pragma unroll
      for (int k = 0; k < V; ++k) acc[k] += g[k] * av[k];
    } else {
#pragma unroll
      for (int k = 0; k < V; ++k) acc[k] += g[k];
    }
  }
};
template <class D>
struct RoundStore {
  D* out;
  template <int V>
  __device__ void operator()(int64_t offset, const float (&total)[V]) const {
    store_floats<D, V>(out + offset, total);
  }
};

// y = alpha * x (+ y): vectors [0, n / V), then the n % V tail by block 0.
template <class D, int V, bool Accumulate>
__global__ void __launch_bounds__(kBinaryThreads) scale_kernel(const D* x, float alpha, D* y, int64_t n) {
  const int64_t vectors = n / V;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t v = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; v < vectors; v += stride) {
    float xv[V], yv[V];
    load_floats<D, V>(x + v * V, xv);
    if constexpr (Accumulate) load_floats<D, V>(y + v * V, yv);
#pragma unroll
    for (int k = 0; k < V; ++k) yv[k] = Accumulate ? yv[k] + alpha * xv[k] : alpha * xv[k];
    store_floats<D, V>(y + v * V, yv);
  }
  const int64_t i = vectors * V + threadIdx.x;
  if (blockIdx.x == 0 && i < n)
    y[i] = from_float<D>(Accumulate ? to_float(y[i]) + alpha * to_float(x[i]) : alpha * to_float(x[i]));
}

}  // namespace

template <class T>
void binary_forward(BinaryOp op, const Broadcast& bc, const T* a, const T* b, T* y, Stream stream) {
  TRAINER_CHECK(bc.outer >= 0 && bc.mid >= 0 && bc.inner >= 0, "binary_forward: bad broadcast [", bc.outer, ", ",
                bc.mid, ", ", bc.inner, "]");
  if (bc.size() == 0) return;
  // Same shape: one flat row of outer * inner elements.
  const bool flat = bc.mid == 1;
  const int64_t outer = flat ? 1 : bc.outer, mid = flat ? 1 : bc.mid, inner = flat ? bc.size() : bc.inner;
  with_vector_width<T>(vectorizable<T>(max_vector_width<T>(), {a, b, y}, {inner}), [&](auto width) {
    launch_binary<device_t<T>, decltype(width)::value>(op, device_ptr(a), device_ptr(b), device_ptr(y), outer, mid,
                                                       inner, stream);
  });
}

template <class T>
void broadcast_reduce(const Broadcast& bc, const T* dy, const T* a_or_null, T* db, Stream stream) {
  TRAINER_CHECK(bc.outer >= 0 && bc.mid >= 0 && bc.inner >= 0, "broadcast_reduce: bad broadcast [", bc.outer, ", ",
                bc.mid, ", ", bc.inner, "]");
  if (bc.outer == 0 || bc.inner == 0) return;
  if (bc.mid == 1) {  // nothing to sum: db = dy (* a), one rounding as in the CPU backend
    if (a_or_null) binary_forward<T>(BinaryOp::Mul, Broadcast{1, 1, bc.size()}, dy, a_or_null, db, stream);
    else TRAINER_CUDA_CHECK(cudaMemcpyAsync(db, dy, sizeof(T) * bc.size(), cudaMemcpyDeviceToDevice, stream));
    return;
  }
  using D = device_t<T>;
  with_vector_width<T>(vectorizable<T>(max_vector_width<T>(), {dy, a_or_null, db}, {bc.inner}), [&](auto width) {
    mid_reduce<decltype(width)::value>(GradTerm<D>{device_ptr(dy), device_ptr(a_or_null)},
                                       RoundStore<D>{device_ptr(db)}, bc.outer, bc.mid, bc.inner, stream);
  });
}

template <class T>
void scale(const T* x, float alpha, T* y, int64_t n, bool accumulate, Stream stream) {
  TRAINER_CHECK(n >= 0, "scale: negative size ", n);
  if (n == 0) return;
  with_vector_width<T>(vectorizable<T>(max_vector_width<T>(), {x, y}, {}), [&](auto width) {
    constexpr int V = decltype(width)::value;
    const unsigned blocks = static_cast<unsigned>(
        std::clamp<int64_t>((n / V + kBinaryThreads - 1) / kBinaryThreads, 1, kMaxBlocks));
    using D = device_t<T>;
    if (accumulate)
      TRAINER_CUDA_CHECK(cudaemu::launch(scale_kernel<D, V, true>, dim3(blocks), dim3(kBinaryThreads), 0, stream,
                                         device_ptr(x), alpha, device_ptr(y), n));
    else
      TRAINER_CUDA_CHECK(cudaemu::launch(scale_kernel<D, V, false>, dim3(blocks), dim3(kBinaryThreads), 0, stream,
                                         device_ptr(x), alpha, device_ptr(y), n));
  });
}

#define TRAINER_INSTANTIATE(T)                                                                         \
  template void binary_forward<T>(BinaryOp, const Broadcast&, const T*, const T*, T*, Stream); \
  template void broadcast_reduce<T>(const Broadcast&, const T*, const T*, T*, Stream);            \
  template void scale<T>(const T*, float, T*, int64_t, bool, Stream);
TRAINER_INSTANTIATE(float)
TRAINER_INSTANTIATE(float16)
TRAINER_INSTANTIATE(bfloat16)
#undef TRAINER_INSTANTIATE

}  // namespace trainer::cuda
