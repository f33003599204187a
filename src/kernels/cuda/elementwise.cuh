// The GPU side of the elementwise scheme (src/README.md, decision 6): a per-element body is a
// functor with a `__host__ __device__ void operator()(int64_t i) const`; for_each_index runs
// it as a grid-stride kernel (cpu::pointwise_for runs such a body as an OpenMP loop). Also the
// mapping from the framework's 16-bit storage types to CUDA's bit-compatible ones.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "cuda_compat.h"
#include "trainer/core/half.h"
#include "trainer/kernels/cuda/check.h"
#include "trainer/kernels/cuda/stream.h"

namespace trainer::cuda {

// trainer::float16 / bfloat16 have the bit layout of __half / __nv_bfloat16, so host wrappers
// take the framework's types and kernels see CUDA's (which have device conversions).
template <class T>
struct DeviceTypeOf {
  using type = T;
};
template <>
struct DeviceTypeOf<float16> {
  using type = __half;
};
template <>
struct DeviceTypeOf<bfloat16> {
  using type = __nv_bfloat16;
};
template <class T>
using device_t = typename DeviceTypeOf<T>::type;
static_assert(sizeof(__half) == sizeof(float16) && sizeof(__nv_bfloat16) == sizeof(bfloat16));

template <class T>
device_t<T>* device_ptr(T* p) {
  return reinterpret_cast<device_t<T>*>(p);
}
template <class T>
const device_t<T>* device_ptr(const T* p) {
  return reinterpret_cast<const device_t<T>*>(p);
}

// Storage <-> float: kernels do their arithmetic in float whatever the storage type.
__host__ __device__ inline float to_float(float v) { return v; }
__host__ __device__ inline float to_float(__half v) { return __half2float(v); }
__host__ __device__ inline float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
template <class D>
__host__ __device__ inline D from_float(float v) {
  if constexpr (std::is_same_v<D, __half>) return __float2half_rn(v);
  else if constexpr (std::is_same_v<D, __nv_bfloat16>) return __float2bfloat16_rn(v);
  else return v;
}

constexpr int kElementwiseBlock = 256;
// Enough blocks to fill an H100 (132 SMs x 2048 threads); larger inputs loop in the kernel.
constexpr int64_t kElementwiseMaxBlocks = 1024;

template <class F>
__global__ void __launch_bounds__(kElementwiseBlock) for_each_kernel(int64_t n, F f) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) f(i);
}

// Runs f(i) for i in [0, n) on `stream`.
template <class F>
void for_each_index(int64_t n, const F& f, Stream stream) {
  static_assert(std::is_trivially_copyable_v<F>, "kernel functors are copied to the device by value");
  if (n <= 0) return;
  const auto blocks = static_cast<unsigned>(
      std::min<int64_t>((n + kElementwiseBlock - 1) / kElementwiseBlock, kElementwiseMaxBlocks));
  TRAINER_CUDA_CHECK(cudaemu::launch(for_each_kernel<F>, dim3(blocks), dim3(kElementwiseBlock), 0, stream, n, f));
}

}  // namespace trainer::cuda
