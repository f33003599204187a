// Max / average pooling (windowed, with per-side padding) and global average pooling over
// NHWC. Design and costs: include/trainer/kernels/cuda/pooling.h.
//
// Window kernels: grid (ceil(W * C/V / 128), H, N) of 128-thread blocks, where W, H are the
// output extent (forward) or input extent (backward gathers); a thread owns one position and V
// channels. 128 threads, not 256: rows of W * C/V vectors such as 56 * 16 = 896 then fill
// whole blocks, and an H100 SM still holds 16 such blocks (2048 threads).
#include "trainer/kernels/cuda/pooling.h"

#include <math.h>

#include <limits>

#include "elementwise.cuh"
#include "mid_reduce.cuh"
#include "trainer/core/error.h"
#include "vector_access.cuh"

namespace trainer::cuda {
namespace pooling_detail {

// Pool2dShape in 32-bit fields for index arithmetic in registers (element offsets stay 64-bit).
// Outside the anonymous namespace: the host wrappers' lambdas capture it.
struct PoolGeometry {
  int batch, in_h, in_w, channels, out_h, out_w;
  int kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_bottom, pad_left, pad_right;
};

}  // namespace pooling_detail

namespace {

using pooling_detail::PoolGeometry;
constexpr int kPoolThreads = 128;

PoolGeometry geometry_of(const Pool2dShape& s, const char* what) {
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  const int64_t out_h = s.out_h(), out_w = s.out_w();
  TRAINER_CHECK(s.batch >= 0 && s.in_h > 0 && s.in_w > 0 && s.channels > 0 && s.kernel_h > 0 && s.kernel_w > 0 &&
                    s.stride_h > 0 && s.stride_w > 0 && s.pad_top >= 0 && s.pad_bottom >= 0 && s.pad_left >= 0 &&
                    s.pad_right >= 0 && out_h > 0 && out_w > 0,
                what, ": invalid pooling shape [", s.batch, ", ", s.in_h, ", ", s.in_w, ", ", s.channels, "], window ",
                s.kernel_h, "x", s.kernel_w, ", stride ", s.stride_h, "x", s.stride_w);
  // argmax holds h * in_w + w in an int32; the thread index of a row covers (W + 1) * C.
  TRAINER_CHECK(s.in_h * s.in_w <= kMax && (std::max(s.in_w, out_w) + 1) * s.channels <= kMax &&
                    s.kernel_h + s.in_h + s.pad_top + s.pad_bottom <= kMax &&
                    s.kernel_w + s.in_w + s.pad_left + s.pad_right <= kMax,
                what, ": pooling shape too large for 32-bit positions");
  auto i32 = [](int64_t v) { return static_cast<int>(v); };
  return {i32(s.batch),    i32(s.in_h),     i32(s.in_w),     i32(s.channels),   i32(out_h),
          i32(out_w),      i32(s.kernel_h), i32(s.kernel_w), i32(s.stride_h),   i32(s.stride_w),
          i32(s.pad_top),  i32(s.pad_bottom), i32(s.pad_left), i32(s.pad_right)};
}

dim3 window_grid(int w, int channel_vectors, int h, int batch) {
  const int64_t x = (static_cast<int64_t>(w) * channel_vectors + kPoolThreads - 1) / kPoolThreads;
  return dim3(static_cast<unsigned>(x), static_cast<unsigned>(std::min(h, 65535)),
              static_cast<unsigned>(std::min(batch, 65535)));
}

// The clipped window of output (oh, ow): rows [hs, he), columns [ws, we); h0, w0 unclipped.
struct Window {
  int h0, w0, hs, he, ws, we;
};
__device__ inline Window window_of(const PoolGeometry& g, int oh, int ow) {
  Window v;
  v.h0 = oh * g.stride_h - g.pad_top;
  v.w0 = ow * g.stride_w - g.pad_left;
  v.hs = max(v.h0, 0);
  v.he = min(v.h0 + g.kernel_h, g.in_h);
  v.ws = max(v.w0, 0);
  v.we = min(v.w0 + g.kernel_w, g.in_w);
  return v;
}

// 1 / the divisor of an average window, as the CPU backend computes it.
__device__ inline float window_inverse_count(const PoolGeometry& g, const Window& v, bool include_pad) {
  int count;
  if (include_pad) {
    const int h1 = min(v.h0 + g.kernel_h, g.in_h + g.pad_bottom), w1 = min(v.w0 + g.kernel_w, g.in_w + g.pad_right);
    count = (h1 - v.h0) * (w1 - v.w0);
  } else {
    count = (v.he - v.hs) * (v.we - v.ws);
  }
  return 1.f / static_cast<float>(max(count, 1));
}

// The outputs whose windows contain input row h: [first, last] (empty when first > last).
__device__ inline void covering_outputs(int h, int pad, int kernel, int stride, int out_extent, int& first,
                                        int& last) {
  const int lo = h + pad - kernel + 1;  // oh * stride >= lo
  first = lo <= 0 ? 0 : (lo + stride - 1) / stride;
  last = min((h + pad) / stride, out_extent - 1);
}

__device__ inline int64_t nhwc(int n, int h, int w, int c, int height, int width, int channels) {
  return ((static_cast<int64_t>(n) * height + h) * width + w) * channels + c;
}

template <class D, int V>
__global__ void __launch_bounds__(kPoolThreads)
    max_pool_forward_kernel(PoolGeometry g, const D* __restrict__ x, D* __restrict__ y, int32_t* __restrict__ argmax) {
  const int vectors = g.channels / V;
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= g.out_w * vectors) return;
  const int ow = t / vectors, c = (t - ow * vectors) * V;
  for (int n = blockIdx.z; n < g.batch; n += gridDim.z)
    for (int oh = blockIdx.y; oh < g.out_h; oh += gridDim.y) {
      const Window v = window_of(g, oh, ow);
      Vec<D, V> best;
      Vec<int32_t, V> where;
      float best_f[V];
#pragma unroll
      for (int k = 0; k < V; ++k) {
        best.v[k] = from_float<D>(-INFINITY);
        best_f[k] = -INFINITY;
        where.v[k] = -1;
      }
      for (int h = v.hs; h < v.he; ++h)
        for (int w = v.ws; w < v.we; ++w) {
          const Vec<D, V> xv = load_vec<D, V>(x + nhwc(n, h, w, c, g.in_h, g.in_w, g.channels));
          const int32_t pos = h * g.in_w + w;
#pragma unroll
          for (int k = 0; k < V; ++k) {
            const float f = to_float(xv.v[k]);
            // The first tap always wins (even a NaN); later ones only when strictly greater.
            if (where.v[k] < 0 || f > best_f[k]) {
              best_f[k] = f;
              best.v[k] = xv.v[k];
              where.v[k] = pos;
            }
          }
        }
      const int64_t out = nhwc(n, oh, ow, c, g.out_h, g.out_w, g.channels);
      store_vec<D, V>(y + out, best);
      store_vec<int32_t, V>(argmax + out, where);
    }
}

// Gather: input (h, w) adds dy of every covering window whose argmax is (h, w), in the
// CPU backend's (oh, ow) order, so the float sums round identically.
template <class D, int V>
__global__ void __launch_bounds__(kPoolThreads)
    max_pool_backward_kernel(PoolGeometry g, const D* __restrict__ dy, const int32_t* __restrict__ argmax,
                             D* __restrict__ dx) {
  const int vectors = g.channels / V;
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= g.in_w * vectors) return;
  const int w = t / vectors, c = (t - w * vectors) * V;
  int ow_first, ow_last;
  covering_outputs(w, g.pad_left, g.kernel_w, g.stride_w, g.out_w, ow_first, ow_last);
  for (int n = blockIdx.z; n < g.batch; n += gridDim.z)
    for (int h = blockIdx.y; h < g.in_h; h += gridDim.y) {
      int oh_first, oh_last;
      covering_outputs(h, g.pad_top, g.kernel_h, g.stride_h, g.out_h, oh_first, oh_last);
      const int32_t pos = h * g.in_w + w;
      float acc[V];
#pragma unroll
      for (int k = 0; k < V; ++k) acc[k] = 0.f;
      for (int oh = oh_first; oh <= oh_last; ++oh)
        for (int ow = ow_first; ow <= ow_last; ++ow) {
          const int64_t o = nhwc(n, oh, ow, c, g.out_h, g.out_w, g.channels);
          const Vec<int32_t, V> where = load_vec<int32_t, V>(argmax + o);
          bool any = false;
#pragma unroll
          for (int k = 0; k < V; ++k) any |= where.v[k] == pos;
          if (!any) continue;  // most windows pick another input: skip the dy load
          const Vec<D, V> g_v = load_vec<D, V>(dy + o);
#pragma unroll
          for (int k = 0; k < V; ++k)
            if (where.v[k] == pos) acc[k] += to_float(g_v.v[k]);
        }
      store_floats<D, V>(dx + nhwc(n, h, w, c, g.in_h, g.in_w, g.channels), acc);
    }
}

template <class D, int V>
__global__ void __launch_bounds__(kPoolThreads)
    avg_pool_forward_kernel(PoolGeometry g, bool include_pad, const D* __restrict__ x, D* __restrict__ y) {
  const int vectors = g.channels / V;
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= g.out_w * vectors) return;
  const int ow = t / vectors, c = (t - ow * vectors) * V;
  for (int n = blockIdx.z; n < g.batch; n += gridDim.z)
    for (int oh = blockIdx.y; oh < g.out_h; oh += gridDim.y) {
      const Window v = window_of(g, oh, ow);
      float acc[V];
#pragma unroll
      for (int k = 0; k < V; ++k) acc[k] = 0.f;
      for (int h = v.hs; h < v.he; ++h)
        for (int w = v.ws; w < v.we; ++w) {
          float xv[V];
          load_floats<D, V>(x + nhwc(n, h, w, c, g.in_h, g.in_w, g.channels), xv);
#pragma unroll
          for (int k = 0; k < V; ++k) acc[k] += xv[k];
        }
      const float inv = window_inverse_count(g, v, include_pad);
#pragma unroll
      for (int k = 0; k < V; ++k) acc[k] *= inv;
      store_floats<D, V>(y + nhwc(n, oh, ow, c, g.out_h, g.out_w, g.channels), acc);
    }
}

template <class D, int V>
__global__ void __launch_bounds__(kPoolThreads)
    avg_pool_backward_kernel(PoolGeometry g, bool include_pad, const D* __restrict__ dy, D* __restrict__ dx) {
  const int vectors = g.channels / V;
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= g.in_w * vectors) return;
  const int w = t / vectors, c = (t - w * vectors) * V;
  int ow_first, ow_last;
  covering_outputs(w, g.pad_left, g.kernel_w, g.stride_w, g.out_w, ow_first, ow_last);
  for (int n = blockIdx.z; n < g.batch; n += gridDim.z)
    for (int h = blockIdx.y; h < g.in_h; h += gridDim.y) {
      int oh_first, oh_last;
      covering_outputs(h, g.pad_top, g.kernel_h, g.stride_h, g.out_h, oh_first, oh_last);
      float acc[V];
#pragma unroll
      for (int k = 0; k < V; ++k) acc[k] = 0.f;
      for (int oh = oh_first; oh <= oh_last; ++oh)
        for (int ow = ow_first; ow <= ow_last; ++ow) {
          const float inv = window_inverse_count(g, window_of(g, oh, ow), include_pad);
          float gv[V];
          load_floats<D, V>(dy + nhwc(n, oh, ow, c, g.out_h, g.out_w, g.channels), gv);
#pragma unroll
          for (int k = 0; k < V; ++k) acc[k] += gv[k] * inv;
        }
      store_floats<D, V>(dx + nhwc(n, h, w, c, g.in_h, g.in_w, g.channels), acc);
    }
}

// Global average pooling forward: the mid-axis reduction of [N, spatial, C].
template <class D>
struct SumTerm {
  const D* x;
  template <int V>
  __device__ void operator()(int64_t offset, float (&acc)[V]) const {
    float v[V];
    load_floats<D, V>(x + offset, v);
#pragma unroll
    for (int k = 0; k < V; ++k) acc[k] += v[k];
  }
};
template <class D>
struct ScaledStore {
  D* y;
  float scale;
  template <int V>
  __device__ void operator()(int64_t offset, const float (&total)[V]) const {
    float v[V];
#pragma unroll
    for (int k = 0; k < V; ++k) v[k] = total[k] * scale;
    store_floats<D, V>(y + offset, v);
  }
};

// dx[n, p, c] = dy[n, c] * inv: block (channel vectors, spatial lanes), grid (channel tiles, N);
// a thread scales its dy vector once and stores it to spatial / BY positions.
template <class D, int V>
__global__ void __launch_bounds__(256)
    global_avg_backward_kernel(const D* __restrict__ dy, int64_t batch, int64_t spatial, int64_t channels, float inv,
                               D* __restrict__ dx) {
  const int64_t c = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * V;
  if (c >= channels) return;
  for (int64_t n = blockIdx.y; n < batch; n += gridDim.y) {
    float v[V];
    load_floats<D, V>(dy + n * channels + c, v);
#pragma unroll
    for (int k = 0; k < V; ++k) v[k] *= inv;
    Vec<D, V> out;
#pragma unroll
    for (int k = 0; k < V; ++k) out.v[k] = from_float<D>(v[k]);
    for (int64_t p = threadIdx.y; p < spatial; p += blockDim.y)
      store_vec<D, V>(dx + (n * spatial + p) * channels + c, out);
  }
}

template <class T>
bool channels_vectorizable(const Pool2dShape& s, std::initializer_list<const void*> pointers) {
  return vectorizable<T>(max_vector_width<T>(), pointers, {s.channels});
}

}  // namespace

template <class T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y, int32_t* argmax, Stream stream) {
  const PoolGeometry g = geometry_of(s, "max_pool2d_forward");
  if (g.batch == 0) return;
  constexpr int kWide = max_vector_width<T>();
  const bool wide = channels_vectorizable<T>(s, {x, y}) && is_aligned(argmax, sizeof(int32_t) * kWide);
  with_vector_width<T>(wide, [&](auto width) {
    constexpr int V = decltype(width)::value;
    TRAINER_CUDA_CHECK(cudaemu::launch(max_pool_forward_kernel<device_t<T>, V>,
                                       window_grid(g.out_w, g.channels / V, g.out_h, g.batch), dim3(kPoolThreads), 0,
                                       stream, g, device_ptr(x), device_ptr(y), argmax));
  });
}

template <class T>
void max_pool2d_backward(const Pool2dShape& s, const T* dy, const int32_t* argmax, T* dx, Stream stream) {
  const PoolGeometry g = geometry_of(s, "max_pool2d_backward");
  if (g.batch == 0) return;
  constexpr int kWide = max_vector_width<T>();
  const bool wide = channels_vectorizable<T>(s, {dy, dx}) && is_aligned(argmax, sizeof(int32_t) * kWide);
  with_vector_width<T>(wide, [&](auto width) {
    constexpr int V = decltype(width)::value;
    TRAINER_CUDA_CHECK(cudaemu::launch(max_pool_backward_kernel<device_t<T>, V>,
                                       window_grid(g.in_w, g.channels / V, g.in_h, g.batch), dim3(kPoolThreads), 0,
                                       stream, g, device_ptr(dy), argmax, device_ptr(dx)));
  });
}

template <class T>
void avg_pool2d_forward(const Pool2dShape& s, bool count_include_pad, const T* x, T* y, Stream stream) {
  const PoolGeometry g = geometry_of(s, "avg_pool2d_forward");
  if (g.batch == 0) return;
  with_vector_width<T>(channels_vectorizable<T>(s, {x, y}), [&](auto width) {
    constexpr int V = decltype(width)::value;
    TRAINER_CUDA_CHECK(cudaemu::launch(avg_pool_forward_kernel<device_t<T>, V>,
                                       window_grid(g.out_w, g.channels / V, g.out_h, g.batch), dim3(kPoolThreads), 0,
                                       stream, g, count_include_pad, device_ptr(x), device_ptr(y)));
  });
}

template <class T>
void avg_pool2d_backward(const Pool2dShape& s, bool count_include_pad, const T* dy, T* dx, Stream stream) {
  const PoolGeometry g = geometry_of(s, "avg_pool2d_backward");
  if (g.batch == 0) return;
  with_vector_width<T>(channels_vectorizable<T>(s, {dy, dx}), [&](auto width) {
    constexpr int V = decltype(width)::value;
    TRAINER_CUDA_CHECK(cudaemu::launch(avg_pool_backward_kernel<device_t<T>, V>,
                                       window_grid(g.in_w, g.channels / V, g.in_h, g.batch), dim3(kPoolThreads), 0,
                                       stream, g, count_include_pad, device_ptr(dy), device_ptr(dx)));
  });
}

template <class T>
void global_avg_pool_forward(const T* x, int64_t batch, int64_t spatial, int64_t channels, T* y, Stream stream) {
  TRAINER_CHECK(batch >= 0 && spatial > 0 && channels > 0, "global_avg_pool_forward: bad shape [", batch, ", ",
                spatial, ", ", channels, "]");
  using D = device_t<T>;
  const float inv = 1.f / static_cast<float>(spatial);
  with_vector_width<T>(vectorizable<T>(max_vector_width<T>(), {x, y}, {channels}), [&](auto width) {
    constexpr int V = decltype(width)::value;
    mid_reduce<V>(SumTerm<D>{device_ptr(x)}, ScaledStore<D>{device_ptr(y), inv}, batch, spatial, channels, stream);
  });
}

template <class T>
void global_avg_pool_backward(const T* dy, int64_t batch, int64_t spatial, int64_t channels, T* dx, Stream stream) {
  TRAINER_CHECK(batch >= 0 && spatial > 0 && channels > 0, "global_avg_pool_backward: bad shape [", batch, ", ",
                spatial, ", ", channels, "]");
  if (batch == 0) return;
  const float inv = 1.f / static_cast<float>(spatial);
  with_vector_width<T>(vectorizable<T>(max_vector_width<T>(), {dy, dx}, {channels}), [&](auto width) {
    constexpr int V = decltype(width)::value;
    const int64_t vectors = channels / V;
    unsigned bx = 1;
    while (bx < vectors && bx < 32) bx *= 2;
    const dim3 block(bx, 256 / bx);
    const dim3 grid(static_cast<unsigned>((vectors + bx - 1) / bx),
                    static_cast<unsigned>(std::min<int64_t>(batch, 65535)));
    TRAINER_CUDA_CHECK(cudaemu::launch(global_avg_backward_kernel<device_t<T>, V>, grid, block, 0, stream,
                                       device_ptr(dy), batch, spatial, channels, inv, device_ptr(dx)));
  });
}

#define TRAINER_INSTANTIATE(T)                                                                             \
  template void max_pool2d_forward<T>(const Pool2dShape&, const T*, T*, int32_t*, Stream);            \
  template void max_pool2d_backward<T>(const Pool2dShape&, const T*, const int32_t*, T*, Stream);     \
  template void avg_pool2d_forward<T>(const Pool2dShape&, bool, const T*, T*, Stream);                \
  template void avg_pool2d_backward<T>(const Pool2dShape&, bool, const T*, T*, Stream);               \
  template void global_avg_pool_forward<T>(const T*, int64_t, int64_t, int64_t, T*, Stream);               \
  template void global_avg_pool_backward<T>(const T*, int64_t, int64_t, int64_t, T*, Stream);
TRAINER_INSTANTIATE(float)
TRAINER_INSTANTIATE(float16)
TRAINER_INSTANTIATE(bfloat16)
#undef TRAINER_INSTANTIATE

}  // namespace trainer::cuda
