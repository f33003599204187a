// Depthwise convolution (groups == C == O: one input channel per output channel), direct
// kernels: a GEMM per channel would have K = KH*KW and N = 1, nothing for tiles to reuse. All
// three are bandwidth-bound. Design and costs: include/trainer/kernels/cuda/conv2d_native.h.
//
//  forward / data gradient: a thread owns one output (data gradient: input) pixel and V channels,
//   V = 16 B / sizeof(T) when C % V == 0 and the activations are 16-byte aligned (else 1), so a
//   warp reads 512 contiguous bytes per tap; the window's taps re-read neighbouring pixels from
//   L1/L2. Weights are first transposed to wt[KH*KW][C] in f32 (a few KiB) for vector loads.
//   Grid-stride loops over at most 1024 blocks of 256 threads (an H100's 132 x 2048 resident
//   threads). Sums per output over the taps in (kh, kw) order, in f32; bias last.
//  weight gradient: dw[c][tap] = sum over output pixels p of dy[p][c] * x[pixel(p, tap)][c]: grid
//   (C / 32, taps, splits) of 32 x 8 blocks (32 channels: a warp reads 64-128 contiguous bytes
//   of one pixel; 8 pixel lanes), pixel range split so the grid has >= 512 blocks; the 8 lanes are
//   added in lane order in shared memory, the splits' partials in split order by a second pass.
#include "conv_gemm.cuh"
#include "elementwise.cuh"
#include "gemm_core.cuh"
#include "trainer/kernels/cuda/check.h"
#include "trainer/kernels/cuda/runtime.h"
#include "vector_access.cuh"

namespace trainer::cuda::conv {
namespace {

constexpr int kThreads = 256;
constexpr int kWeightLanes = 8;  // pixel lanes of a weight-gradient block (x 32 channels)
constexpr int64_t kWeightBlocks = 512;

// wt[tap][c] = w[c][tap] (OHWI with one input channel is [C][KH*KW]), widened to f32.
template <class D>
struct TransposeWeights {
  const D* w;
  float* wt;
  int taps, channels;
  __host__ __device__ void operator()(int64_t i) const {
    const int64_t tap = i / channels, c = i - tap * channels;
    wt[i] = to_float(w[c * taps + tap]);
  }
};

template <class D, int V>
__global__ void __launch_bounds__(kThreads)
    forward_kernel(ConvGeom g, const D* __restrict__ x, const float* __restrict__ wt, const float* __restrict__ bias,
                   Activation act, D* __restrict__ y) {
  const int cvecs = g.c / V;
  const int64_t items = g.pixels_out() * cvecs, stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < items; i += stride) {
    const int64_t pix = i / cvecs;
    const int c = static_cast<int>(i - pix * cvecs) * V;
    const int per_image = g.oh * g.ow, n = static_cast<int>(pix / per_image),
              r = static_cast<int>(pix - static_cast<int64_t>(n) * per_image), oh = r / g.ow, ow = r - oh * g.ow;
    const D* image = x + static_cast<int64_t>(n) * g.h * g.w * g.c + c;
    float acc[V];
#pragma unroll
    for (int j = 0; j < V; ++j) acc[j] = 0.f;
    for (int kh = 0; kh < g.kh; ++kh) {
      const int ih = oh * g.sh - g.pt + kh * g.dh;
      if (static_cast<unsigned>(ih) >= static_cast<unsigned>(g.h)) continue;
      for (int kw = 0; kw < g.kw; ++kw) {
        const int iw = ow * g.sw - g.pl + kw * g.dw;
        if (static_cast<unsigned>(iw) >= static_cast<unsigned>(g.w)) continue;
        float xv[V], wv[V];
        load_floats<D, V>(image + (static_cast<int64_t>(ih) * g.w + iw) * g.c, xv);
        load_floats<float, V>(wt + static_cast<int64_t>(kh * g.kw + kw) * g.c + c, wv);
#pragma unroll
        for (int j = 0; j < V; ++j) acc[j] = fmaf(xv[j], wv[j], acc[j]);
      }
    }
#pragma unroll
    for (int j = 0; j < V; ++j) acc[j] = gemm::apply_activation(act, acc[j] + (bias ? bias[c + j] : 0.f));
    store_floats<D, V>(y + pix * g.c + c, acc);
  }
}

template <class D, int V>
__global__ void __launch_bounds__(kThreads)
    backward_data_kernel(ConvGeom g, const D* __restrict__ dy, const float* __restrict__ wt, D* __restrict__ dx) {
  const int cvecs = g.c / V;
  const int64_t items = g.pixels_in() * cvecs, stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < items; i += stride) {
    const int64_t pix = i / cvecs;
    const int c = static_cast<int>(i - pix * cvecs) * V;
    const int per_image = g.h * g.w, n = static_cast<int>(pix / per_image),
              r = static_cast<int>(pix - static_cast<int64_t>(n) * per_image), ih = r / g.w, iw = r - ih * g.w;
    const D* image = dy + static_cast<int64_t>(n) * g.oh * g.ow * g.c + c;
    float acc[V];
#pragma unroll
    for (int j = 0; j < V; ++j) acc[j] = 0.f;
    for (int kh = 0; kh < g.kh; ++kh) {
      const int th = ih + g.pt - kh * g.dh;
      if (th < 0 || th % g.sh != 0 || th / g.sh >= g.oh) continue;
      for (int kw = 0; kw < g.kw; ++kw) {
        const int tw = iw + g.pl - kw * g.dw;
        if (tw < 0 || tw % g.sw != 0 || tw / g.sw >= g.ow) continue;
        float dv[V], wv[V];
        load_floats<D, V>(image + (static_cast<int64_t>(th / g.sh) * g.ow + tw / g.sw) * g.c, dv);
        load_floats<float, V>(wt + static_cast<int64_t>(kh * g.kw + kw) * g.c + c, wv);
#pragma unroll
        for (int j = 0; j < V; ++j) acc[j] = fmaf(dv[j], wv[j], acc[j]);
      }
    }
    store_floats<D, V>(dx + pix * g.c + c, acc);
  }
}

template <class D>
__global__ void __launch_bounds__(32 * kWeightLanes)
    backward_weights_kernel(ConvGeom g, const D* __restrict__ x, const D* __restrict__ dy, int64_t rows_per_split,
                            float* __restrict__ partial, float* __restrict__ dw) {
  __shared__ float lanes[kWeightLanes][33];
  const int tx = threadIdx.x, ty = threadIdx.y, c = blockIdx.x * 32 + tx, tap = blockIdx.y, taps = g.kh * g.kw;
  const int kh = tap / g.kw, kw = tap - kh * g.kw, per_image = g.oh * g.ow;
  const int64_t p_begin = static_cast<int64_t>(blockIdx.z) * rows_per_split;
  const int64_t p_end = min(g.pixels_out(), p_begin + rows_per_split);
  float acc = 0.f;
  if (c < g.c) {
    for (int64_t p = p_begin + ty; p < p_end; p += kWeightLanes) {
      const int pi = static_cast<int>(p), n = pi / per_image, r = pi - n * per_image, oh = r / g.ow, ow = r - oh * g.ow;
      const int ih = oh * g.sh - g.pt + kh * g.dh, iw = ow * g.sw - g.pl + kw * g.dw;
      if (static_cast<unsigned>(ih) >= static_cast<unsigned>(g.h) || static_cast<unsigned>(iw) >= static_cast<unsigned>(g.w))
        continue;
      acc = fmaf(to_float(dy[p * g.c + c]), to_float(x[((static_cast<int64_t>(n) * g.h + ih) * g.w + iw) * g.c + c]),
                 acc);
    }
  }
  lanes[ty][tx] = acc;
  __syncthreads();
  if (ty == 0 && c < g.c) {
    float sum = 0.f;
    for (int l = 0; l < kWeightLanes; ++l) sum += lanes[l][tx];
    if (gridDim.z == 1) dw[static_cast<int64_t>(c) * taps + tap] = sum;
    else partial[(static_cast<int64_t>(blockIdx.z) * taps + tap) * g.c + c] = sum;
  }
}

// dw[c][tap] = sum over splits of partial[split][tap][c], in split order.
struct MergeWeights {
  const float* partial;
  float* dw;
  int splits, taps, channels;
  __host__ __device__ void operator()(int64_t i) const {
    const int64_t c = i / taps, tap = i - c * taps;
    float sum = 0.f;
    for (int s = 0; s < splits; ++s) sum += partial[(static_cast<int64_t>(s) * taps + tap) * channels + c];
    dw[i] = sum;
  }
};

template <class T>
void transpose_weights(const ConvGeom& g, const T* w, const DeviceBuffer& wt, Stream stream) {
  const int taps = g.kh * g.kw;
  for_each_index(int64_t{taps} * g.c, TransposeWeights<device_t<T>>{device_ptr(w), wt.as<float>(), taps, g.c}, stream);
}

}  // namespace

template <class T>
void depthwise_forward(const ConvGeom& g, const T* x, const T* w, const float* bias, Activation act, T* y,
                       Stream stream) {
  const DeviceBuffer wt(sizeof(float) * g.kh * g.kw * g.c);
  transpose_weights(g, w, wt, stream);
  const bool vec = vectorizable<T>(max_vector_width<T>(), {x, y}, {g.c});
  with_vector_width<T>(vec, [&](auto width) {
    constexpr int V = decltype(width)::value;
    const unsigned blocks = grid_stride_blocks(g.pixels_out() * (g.c / V), kThreads);
    TRAINER_CUDA_CHECK(cudaemu::launch(forward_kernel<device_t<T>, V>, dim3(blocks), dim3(kThreads), 0, stream, g,
                                       device_ptr(x), wt.as<const float>(), bias, act, device_ptr(y)));
  });
}

template <class T>
void depthwise_backward_data(const ConvGeom& g, const T* dy, const T* w, T* dx, Stream stream) {
  const DeviceBuffer wt(sizeof(float) * g.kh * g.kw * g.c);
  transpose_weights(g, w, wt, stream);
  const bool vec = vectorizable<T>(max_vector_width<T>(), {dy, dx}, {g.c});
  with_vector_width<T>(vec, [&](auto width) {
    constexpr int V = decltype(width)::value;
    const unsigned blocks = grid_stride_blocks(g.pixels_in() * (g.c / V), kThreads);
    TRAINER_CUDA_CHECK(cudaemu::launch(backward_data_kernel<device_t<T>, V>, dim3(blocks), dim3(kThreads), 0, stream,
                                       g, device_ptr(dy), wt.as<const float>(), device_ptr(dx)));
  });
}

template <class T>
void depthwise_backward_weights(const ConvGeom& g, const T* x, const T* dy, float* dw, Stream stream) {
  const int taps = g.kh * g.kw;
  const int64_t pixels = g.pixels_out(), channel_tiles = (g.c + 31) / 32;
  int64_t splits = std::clamp<int64_t>((kWeightBlocks + channel_tiles * taps - 1) / (channel_tiles * taps), 1,
                                       std::min<int64_t>((pixels + 255) / 256, 65535));
  const int64_t rows_per_split = (pixels + splits - 1) / splits;
  splits = (pixels + rows_per_split - 1) / rows_per_split;
  TRAINER_CHECK(taps <= 65535, "depthwise conv2d: ", taps, " taps are more than a grid dimension holds");
  DeviceBuffer partial(splits > 1 ? sizeof(float) * splits * taps * g.c : 0);
  TRAINER_CUDA_CHECK(cudaemu::launch(backward_weights_kernel<device_t<T>>,
                                     dim3(static_cast<unsigned>(channel_tiles), static_cast<unsigned>(taps),
                                          static_cast<unsigned>(splits)),
                                     dim3(32, kWeightLanes), 0, stream, g, device_ptr(x), device_ptr(dy),
                                     rows_per_split, partial.as<float>(), dw));
  if (splits > 1)
    for_each_index(int64_t{taps} * g.c,
                   MergeWeights{partial.as<const float>(), dw, static_cast<int>(splits), taps, g.c}, stream);
}

#define TRAINER_INSTANTIATE(T)                                                                                      \
  template void depthwise_forward<T>(const ConvGeom&, const T*, const T*, const float*, Activation, T*, Stream);    \
  template void depthwise_backward_data<T>(const ConvGeom&, const T*, const T*, T*, Stream);                        \
  template void depthwise_backward_weights<T>(const ConvGeom&, const T*, const T*, float*, Stream);
TRAINER_INSTANTIATE(float)
TRAINER_INSTANTIATE(float16)
TRAINER_INSTANTIATE(bfloat16)
#undef TRAINER_INSTANTIATE

}  // namespace trainer::cuda::conv
