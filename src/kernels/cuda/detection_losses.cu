// Sigmoid focal loss and smooth L1 (cpu/detection_losses.cpp's definitions) as one fused pass
// each: every element's loss term and saved gradient in one read of logits/targets, the terms
// summed deterministically.
//
// GPU design. The focal loss runs on every anchor x class slot of a batch (32 x 12,804 x 91 =
// 37 million entries per step), so it is a bandwidth problem: 2-4 bytes of logits, 4 of targets
// in, 4 of gradient out per entry, ~40 flops in between. Each thread takes groups of 4
// consecutive entries (flat over [rows, k], so rows of 91 classes need no padding) with one
// 128-bit load of targets, one 64/128-bit load of logits and one 128-bit store of gradient
// when the pointers are 16-byte aligned (a scalar path otherwise), and walks the groups with a
// grid stride. The row of an entry (for its weight) is one division per group, then carried.
// A grid of at most 1024 blocks x 256 threads covers an H100 several times over; each block
// reduces its threads' float sums (warp shuffles, then one warp over the 8 warp sums) to one
// partial, and a second launch of one block adds the partials in double in a fixed order. The
// number of blocks depends only on the element count, so the sum is the same bits run to run
// (no float atomics anywhere).
#include <math.h>

#include "elementwise.cuh"
#include "trainer/core/error.h"
#include "trainer/kernels/cuda/detection_losses.h"
#include "trainer/kernels/cuda/runtime.h"

namespace trainer::cuda {
namespace {

constexpr int kLossThreads = 256;
constexpr int64_t kLossMaxBlocks = 1024;
constexpr unsigned kAllLanes = 0xffffffffu;

// Sum of v over the block; the result is valid in thread 0. Every thread must call it.
template <class V>
__device__ V block_sum(V v) {
  __shared__ V warp_sums[kLossThreads / 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(kAllLanes, v, offset);
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x / 32) ? warp_sums[lane] : V(0);
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(kAllLanes, v, offset);
  }
  return v;
}

// Pass 2: loss[0] = sum of the per-block partials, in double, in a fixed order.
__global__ void __launch_bounds__(kLossThreads)
    finish_sum_kernel(const float* __restrict__ partials, int count, float* __restrict__ loss) {
  double acc = 0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) acc += static_cast<double>(partials[i]);
  acc = block_sum(acc);
  if (threadIdx.x == 0) loss[0] = static_cast<float>(acc);
}

// Four consecutive storage elements, loaded or stored as one vector when aligned.
template <class D>
struct alignas(4 * sizeof(D)) Vec4 {
  D v[4];
};

// An entry-wise loss: `Entry::term(x, target, w, grad_out)` returns w * loss term and writes
// the gradient (both already weighted); `Entry::kSkipZeroWeight` says whether rows of weight 0
// are skipped without reading their predictions.
//
// Walks groups of 4 entries of the flat [rows, width] array. kVec: logits, targets and grad are
// 16-byte (logits: 4-element) aligned, so each group is one vector load/store per array.
template <class Entry, class D, bool kVec>
__global__ void __launch_bounds__(kLossThreads)
    loss_kernel(Entry entry, const D* __restrict__ pred, const float* __restrict__ targets,
                const float* __restrict__ weights, int64_t n, int64_t width, float* __restrict__ grad,
                float* __restrict__ partials, float* __restrict__ loss) {
  float acc = 0.f;
  const int64_t groups = n / 4;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += stride) {
    const int64_t i = 4 * g;
    float x[4], t[4], d[4];
    if constexpr (kVec) {
      const Vec4<D> xv = reinterpret_cast<const Vec4<D>*>(pred)[g];
      const float4 tv = reinterpret_cast<const float4*>(targets)[g];
      for (int e = 0; e < 4; ++e) x[e] = to_float(xv.v[e]);
      t[0] = tv.x, t[1] = tv.y, t[2] = tv.z, t[3] = tv.w;
    } else {
      for (int e = 0; e < 4; ++e) x[e] = to_float(pred[i + e]), t[e] = targets[i + e];
    }
    int64_t row = i / width, col = i - row * width;
    for (int e = 0; e < 4; ++e) {
      acc += entry.term(x[e], t[e], weights[row], d[e]);
      if (++col == width) col = 0, ++row;
    }
    if (grad) {
      if constexpr (kVec) reinterpret_cast<float4*>(grad)[g] = make_float4(d[0], d[1], d[2], d[3]);
      else for (int e = 0; e < 4; ++e) grad[i + e] = d[e];
    }
  }
  // The last n % 4 entries: the first threads of block 0.
  if (blockIdx.x == 0 && static_cast<int64_t>(threadIdx.x) < n - 4 * groups) {
    const int64_t i = 4 * groups + threadIdx.x;
    float d;
    acc += entry.term(to_float(pred[i]), targets[i], weights[i / width], d);
    if (grad) grad[i] = d;
  }
  acc = block_sum(acc);
  if (threadIdx.x != 0) return;
  if (gridDim.x == 1) loss[0] = acc;
  else partials[blockIdx.x] = acc;
}

// The focal loss's gamma: 2 (the config's; plain products), 0 (no modulating factor) or any.
enum class Power { Two, Zero, General };

// cpu/detection_losses.cpp `focal_entry`, with the device's expf/log1pf in place of the CPU's
// polynomials (both within a few ulp of the true values).
template <Power kPower>
struct FocalEntry {
  float alpha, gamma;
  bool use_alpha;

  __device__ float term(float x, float t, float w, float& grad) const {
    if (w == 0.f) {  // ignored anchors: no cost, no gradient, whatever their logits
      grad = 0.f;
      return 0.f;
    }
    const float e = expf(-fabsf(x));
    const float sig_abs = 1.f / (1.f + e);  // sigmoid(|x|)
    const float sig_neg_abs = e * sig_abs;  // sigmoid(-|x|) without cancelling
    const float p = x >= 0.f ? sig_abs : sig_neg_abs;
    const float one_minus_p = x >= 0.f ? sig_neg_abs : sig_abs;
    const float ce = (x < 0.f ? 0.f : x) - x * t + log1pf(e);  // std::max(x, 0.f)
    const float q = t * one_minus_p + (1.f - t) * p;  // 1 - p_t
    const float a = use_alpha ? t * alpha + (1.f - t) * (1.f - alpha) : 1.f;
    float power, derivative;  // q^gamma and gamma q^(gamma - 1)
    if constexpr (kPower == Power::Two) {
      power = q * q;
      derivative = 2.f * q;
    } else if constexpr (kPower == Power::Zero) {
      power = 1.f;
      derivative = 0.f;
    } else {
      const float pm1 = q > 0.f ? powf(q, gamma - 1.f) : 0.f;  // q = 0 only where p (1 - p) = 0
      power = pm1 * q;
      derivative = gamma * pm1;
    }
    const float dq = (1.f - 2.f * t) * (p * one_minus_p);  // d(1 - p_t)/dx
    grad = w * (a * (derivative * dq * ce + power * (p - t)));
    return w * (a * power * ce);
  }
};

// tf.losses.huber_loss per entry, weighted; a NaN target counts as equal to the prediction.
struct SmoothL1Entry {
  float delta;

  __device__ float term(float x, float target, float w, float& grad) const {
    const float t = isnan(target) ? x : target;
    const float err = x - t;
    const float abs_err = fabsf(err);
    const float quadratic = abs_err < delta ? abs_err : delta;  // std::min(abs_err, delta)
    const float linear = abs_err - quadratic;
    // std::clamp(err, -delta, delta)
    grad = w * (err < -delta ? -delta : (delta < err ? delta : err));
    return w * (0.5f * quadratic * quadratic + delta * linear);
  }
};

template <class Entry, class T>
void run_loss(const Entry& entry, const T* pred, const float* targets, const float* weights, int64_t rows,
              int64_t width, float* grad, float* loss, const char* name, Stream stream) {
  TRAINER_CHECK(rows >= 0 && width > 0, name, ": bad shape [", rows, ", ", width, "]");
  const int64_t n = rows * width;
  if (n == 0) {
    TRAINER_CUDA_CHECK(cudaMemsetAsync(loss, 0, sizeof(float), stream));
    return;
  }
  using D = device_t<T>;
  const int64_t groups = n / 4;
  const int64_t blocks = std::clamp<int64_t>((groups + kLossThreads - 1) / kLossThreads, 1, kLossMaxBlocks);
  DeviceBuffer partials(blocks > 1 ? sizeof(float) * blocks : 0);
  const auto aligned = [](const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; };
  const bool vec = aligned(pred, 4 * sizeof(T)) && aligned(targets, 16) && (!grad || aligned(grad, 16));
  auto kernel = vec ? loss_kernel<Entry, D, true> : loss_kernel<Entry, D, false>;
  TRAINER_CUDA_CHECK(cudaemu::launch(kernel, dim3(static_cast<unsigned>(blocks)), dim3(kLossThreads), 0, stream,
                                     entry, device_ptr(pred), targets, weights, n, width, grad,
                                     partials.as<float>(), loss));
  if (blocks > 1)
    TRAINER_CUDA_CHECK(cudaemu::launch(finish_sum_kernel, dim3(1), dim3(kLossThreads), 0, stream,
                                       partials.as<const float>(), static_cast<int>(blocks), loss));
}

template <class D>
struct ScaleGradient {
  const float* grad;         // [n]
  float scale;               // used when scale_ptr is null
  const float* scale_ptr;    // [1] device or null
  D* dx;                     // [n]
  __host__ __device__ void operator()(int64_t i) const {
    dx[i] = from_float<D>(grad[i] * (scale_ptr ? *scale_ptr : scale));
  }
};

}  // namespace

template <class T>
void sigmoid_focal_loss_forward(const T* logits, const float* targets, const float* weights, int64_t rows, int64_t k,
                                float alpha, float gamma, float* grad, float* loss, Stream stream) {
  const char* name = "cuda::sigmoid_focal_loss_forward";
  const bool use_alpha = alpha >= 0.f;
  if (gamma == 2.f)
    run_loss(FocalEntry<Power::Two>{alpha, gamma, use_alpha}, logits, targets, weights, rows, k, grad, loss, name,
             stream);
  else if (gamma == 0.f)
    run_loss(FocalEntry<Power::Zero>{alpha, gamma, use_alpha}, logits, targets, weights, rows, k, grad, loss, name,
             stream);
  else
    run_loss(FocalEntry<Power::General>{alpha, gamma, use_alpha}, logits, targets, weights, rows, k, grad, loss,
             name, stream);
}

template <class T>
void smooth_l1_loss_forward(const T* pred, const float* targets, const float* weights, int64_t rows, int64_t code,
                            float delta, float* grad, float* loss, Stream stream) {
  run_loss(SmoothL1Entry{delta}, pred, targets, weights, rows, code, grad, loss, "cuda::smooth_l1_loss_forward",
           stream);
}

template <class T>
void scale_saved_gradient(const float* grad, int64_t n, float scale, T* dx, Stream stream) {
  for_each_index(n, ScaleGradient<device_t<T>>{grad, scale, nullptr, device_ptr(dx)}, stream);
}

template <class T>
void scale_saved_gradient(const float* grad, int64_t n, const float* scale, T* dx, Stream stream) {
  for_each_index(n, ScaleGradient<device_t<T>>{grad, 0.f, scale, device_ptr(dx)}, stream);
}

#define TRAINER_INSTANTIATE(T)                                                                                  \
  template void sigmoid_focal_loss_forward<T>(const T*, const float*, const float*, int64_t, int64_t, float,   \
                                              float, float*, float*, Stream);                                  \
  template void smooth_l1_loss_forward<T>(const T*, const float*, const float*, int64_t, int64_t, float,       \
                                          float*, float*, Stream);                                             \
  template void scale_saved_gradient<T>(const float*, int64_t, float, T*, Stream);                             \
  template void scale_saved_gradient<T>(const float*, int64_t, const float*, T*, Stream);
TRAINER_INSTANTIATE(float)
TRAINER_INSTANTIATE(float16)
TRAINER_INSTANTIATE(bfloat16)
#undef TRAINER_INSTANTIATE

}  // namespace trainer::cuda
