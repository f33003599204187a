// Softmax cross-entropy forward (block per row, deterministic loss sum) and backward.
// Design and costs: include/trainer/kernels/cuda/softmax_cross_entropy.h.
#include "trainer/kernels/cuda/softmax_cross_entropy.h"

#include <math.h>

#include <algorithm>

#include "elementwise.cuh"
#include "flat_reduce.cuh"
#include "trainer/core/error.h"
#include "vector_access.cuh"

namespace trainer::cuda {
namespace {

// Maximum that never picks a NaN (std::max(running, v) as the CPU backend uses it).
struct FloatMax {
  float value;
  __device__ static FloatMax identity() { return {-INFINITY}; }
  __device__ static FloatMax merge(FloatMax a, FloatMax b) { return a.value < b.value ? b : a; }
  __device__ static FloatMax shfl_xor(FloatMax v, int lane_mask) {
    return {__shfl_xor_sync(0xffffffffu, v.value, lane_mask)};
  }
};

// block_reduce, with the total handed to every thread.
template <class Acc>
__device__ Acc block_all_reduce(Acc v) {
  __shared__ Acc total;
  v = block_reduce<Acc>(v);
  if (threadIdx.x == 0) total = v;
  __syncthreads();
  v = total;
  __syncthreads();  // everyone has read `total` before a later call overwrites it
  return v;
}

__device__ inline float target_of(int64_t row, int64_t j, int64_t k, int label, const float* soft, float on,
                                  float off) {
  if (soft) return soft[row * k + j];
  return label == j ? on : off;
}

template <class D>
__global__ void __launch_bounds__(256)
    softmax_rows_kernel(const D* __restrict__ logits, int64_t n, int64_t k, const int32_t* __restrict__ labels,
                        const float* __restrict__ soft, float smoothing, float* __restrict__ probs,
                        double* __restrict__ row_loss) {
  const float off = smoothing / static_cast<float>(k), on = 1.f - smoothing + off;
  for (int64_t row = blockIdx.x; row < n; row += gridDim.x) {
    const D* z = logits + row * k;
    float* p = probs + row * k;
    FloatMax mx = FloatMax::identity();
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x) mx = FloatMax::merge(mx, {to_float(z[j])});
    const float m = block_all_reduce(mx).value;

    DoubleSum denom = DoubleSum::identity();
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x) {
      const float e = expf(to_float(z[j]) - m);
      p[j] = e;
      denom.value += e;
    }
    const double total = block_all_reduce(denom).value;
    const double log_denom = log(total);
    const float inv = static_cast<float>(1.0 / total);

    const int label = labels ? labels[row] : -1;
    DoubleSum loss = DoubleSum::identity();
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x) {  // the entries this thread wrote above
      p[j] *= inv;
      const float t = target_of(row, j, k, label, soft, on, off);
      if (t != 0.f) loss.value -= t * ((to_float(z[j]) - m) - log_denom);  // -t * log_softmax
    }
    loss = block_reduce<DoubleSum>(loss);
    if (threadIdx.x == 0) row_loss[row] = labels && (label < 0 || label >= k) ? NAN : loss.value;
  }
}

// Mean of the per-row losses: the second pass of a fixed-order sum.
struct MeanLoss {
  using Acc = DoubleSum;
  const double* row_loss;
  int64_t n;
  float* loss;
  __device__ void add(int64_t i, Acc& acc) const { acc.value += row_loss[i]; }
  __device__ void finish(Acc total) const {
    *loss = n ? static_cast<float>(total.value / static_cast<double>(n)) : 0.f;
  }
};

// Backward: V classes per thread, grid (class tiles, rows).
template <class D, int V>
__global__ void __launch_bounds__(256)
    softmax_backward_kernel(const float* __restrict__ probs, int64_t n, int64_t k, const int32_t* __restrict__ labels,
                            const float* __restrict__ soft, float smoothing, float grad_scale,
                            D* __restrict__ dlogits) {
  const float off = smoothing / static_cast<float>(k), on = 1.f - smoothing + off;
  const int64_t j = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * V;
  if (j >= k) return;
  for (int64_t row = blockIdx.y; row < n; row += gridDim.y) {
    const int64_t base = row * k + j;
    const int label = labels ? labels[row] : -1;
    float pv[V], tv[V], out[V];
    load_floats<float, V>(probs + base, pv);
    if (soft) {
      load_floats<float, V>(soft + base, tv);
    } else {
#pragma unroll
      for (int q = 0; q < V; ++q) tv[q] = label == j + q ? on : off;
    }
#pragma unroll
    for (int q = 0; q < V; ++q) out[q] = (pv[q] - tv[q]) * grad_scale;
    store_floats<D, V>(dlogits + base, out);
  }
}

void check_shape(const char* what, int64_t n, int64_t k, const int32_t* labels, const float* soft, float smoothing) {
  TRAINER_CHECK(n >= 0 && k > 0, what, ": bad logits shape [", n, ", ", k, "]");
  TRAINER_CHECK((labels == nullptr) != (soft == nullptr), what, ": give either labels or soft targets");
  TRAINER_CHECK(smoothing >= 0.f && smoothing < 1.f, what, ": label smoothing ", smoothing, " outside [0, 1)");
}

}  // namespace

template <class T>
void softmax_cross_entropy_forward(const T* logits, int64_t n, int64_t k, const int32_t* labels,
                                   const float* soft_targets, float smoothing, float* probs, float* loss,
                                   Stream stream) {
  check_shape("softmax_cross_entropy_forward", n, k, labels, soft_targets, smoothing);
  DeviceBuffer row_loss(sizeof(double) * std::max<int64_t>(n, 1));
  if (n > 0) {
    unsigned threads = 32;
    while (threads < 256 && threads * 4 < k) threads *= 2;
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(n, int64_t{1} << 20));
    TRAINER_CUDA_CHECK(cudaemu::launch(softmax_rows_kernel<device_t<T>>, dim3(blocks), dim3(threads), 0, stream,
                                       device_ptr(logits), n, k, labels, soft_targets, smoothing, probs,
                                       row_loss.as<double>()));
  }
  flat_reduce(MeanLoss{row_loss.as<const double>(), n, loss}, n, stream);
}

template <class T>
void softmax_cross_entropy_backward(const float* probs, int64_t n, int64_t k, const int32_t* labels,
                                    const float* soft_targets, float smoothing, float grad_scale, T* dlogits,
                                    Stream stream) {
  check_shape("softmax_cross_entropy_backward", n, k, labels, soft_targets, smoothing);
  if (n == 0) return;
  constexpr int kWide = 4;
  const bool wide = k % kWide == 0 && is_aligned(probs, 16) && is_aligned(soft_targets, 16) &&
                    is_aligned(dlogits, sizeof(T) * kWide);
  auto go = [&](auto width) {
    constexpr int V = decltype(width)::value;
    const int64_t vectors = k / V;
    unsigned threads = 32;
    while (threads < 256 && threads < vectors) threads *= 2;
    const dim3 grid(static_cast<unsigned>((vectors + threads - 1) / threads),
                    static_cast<unsigned>(std::min<int64_t>(n, 65535)));
    TRAINER_CUDA_CHECK(cudaemu::launch(softmax_backward_kernel<device_t<T>, V>, grid, dim3(threads), 0, stream, probs,
                                       n, k, labels, soft_targets, smoothing, grad_scale, device_ptr(dlogits)));
  };
  if (wide) go(std::integral_constant<int, kWide>{});
  else go(std::integral_constant<int, 1>{});
}

#define TRAINER_INSTANTIATE(T)                                                                                  \
  template void softmax_cross_entropy_forward<T>(const T*, int64_t, int64_t, const int32_t*, const float*, float, \
                                                 float*, float*, Stream);                                       \
  template void softmax_cross_entropy_backward<T>(const float*, int64_t, int64_t, const int32_t*, const float*,   \
                                                  float, float, T*, Stream);
TRAINER_INSTANTIATE(float)
TRAINER_INSTANTIATE(float16)
TRAINER_INSTANTIATE(bfloat16)
#undef TRAINER_INSTANTIATE

}  // namespace trainer::cuda
