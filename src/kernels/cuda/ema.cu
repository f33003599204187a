// ema = decay * ema + (1 - decay) * w over a flat buffer. Design and costs:
// include/trainer/kernels/cuda/ema.h.
#include "trainer/kernels/cuda/ema.h"

#include "trainer/core/error.h"
#include "vector_access.cuh"

namespace trainer::cuda {
namespace {

constexpr int kEmaThreads = 256;

template <int V>
__global__ void __launch_bounds__(kEmaThreads)
    ema_kernel(float* __restrict__ ema, const float* __restrict__ w, int64_t n, float decay, float one_minus_decay) {
  const int64_t vectors = n / V;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t v = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; v < vectors; v += stride) {
    Vec<float, V> e = load_vec<float, V>(ema + v * V);
    const Vec<float, V> x = load_vec<float, V>(w + v * V);
#pragma unroll
    for (int k = 0; k < V; ++k) e.v[k] = decay * e.v[k] + one_minus_decay * x.v[k];
    store_vec<float, V>(ema + v * V, e);
  }
  const int64_t i = vectors * V + threadIdx.x;
  if (blockIdx.x == 0 && i < n) ema[i] = decay * ema[i] + one_minus_decay * w[i];
}

}  // namespace

void ema_update(float* ema, const float* w, int64_t n, float decay, Stream stream) {
  TRAINER_CHECK(n >= 0, "ema_update: negative size ", n);
  if (n == 0) return;
  with_vector_width<float>(vectorizable<float>(4, {ema, w}, {}), [&](auto width) {
    constexpr int V = decltype(width)::value;
    TRAINER_CUDA_CHECK(cudaemu::launch(ema_kernel<V>, dim3(grid_stride_blocks(n / V, kEmaThreads)), dim3(kEmaThreads),
                                       0, stream, ema, w, n, decay, 1.f - decay));
  });
}

}  // namespace trainer::cuda
