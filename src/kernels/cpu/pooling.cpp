#include "trainer/kernels/cpu/pooling.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "trainer/core/half.h"

namespace trainer::cpu {
namespace {

// Visits every (n, oh, ow) output position in parallel with its clipped input window.
template <class F>
void for_each_window(const Pool2dShape& s, const F& f) {
  const int64_t oh_n = s.out_h(), ow_n = s.out_w();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t oh = 0; oh < oh_n; ++oh)
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        const int64_t h0 = oh * s.stride_h - s.pad_top, w0 = ow * s.stride_w - s.pad_left;
        const int64_t hs = std::max<int64_t>(h0, 0), he = std::min(h0 + s.kernel_h, s.in_h);
        const int64_t ws = std::max<int64_t>(w0, 0), we = std::min(w0 + s.kernel_w, s.in_w);
        f(n, (n * oh_n + oh) * ow_n + ow, hs, he, ws, we, h0, w0);
      }
}

int64_t window_count(const Pool2dShape& s, bool include_pad, int64_t hs, int64_t he, int64_t ws, int64_t we,
                     int64_t h0, int64_t w0) {
  if (!include_pad) return (he - hs) * (we - ws);
  // PyTorch's rule: the window clipped to the padded extent, not the kernel size.
  const int64_t h1 = std::min(h0 + s.kernel_h, s.in_h + s.pad_bottom);
  const int64_t w1 = std::min(w0 + s.kernel_w, s.in_w + s.pad_right);
  return (h1 - h0) * (w1 - w0);
}

}  // namespace

template <class T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y, int32_t* argmax) {
  const int64_t C = s.channels;
  // The maximum is kept as a select on the storage bits, branch-free and by-value captures, so
  // the channel loop vectorises (a branch per element mispredicts on ties and noise).
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint16_t>;
  for_each_window(s, [=](int64_t n, int64_t out, int64_t hs, int64_t he, int64_t ws, int64_t we, int64_t, int64_t) {
    T* best = y + out * C;  // the running maximum lives in the output itself
    Bits* best_bits = reinterpret_cast<Bits*>(best);
    int32_t* where = argmax + out * C;
    std::fill_n(where, C, -1);
    for (int64_t h = hs; h < he; ++h)
      for (int64_t w = ws; w < we; ++w) {
        const T* xp = x + ((n * s.in_h + h) * s.in_w + w) * C;
        const Bits* x_bits = reinterpret_cast<const Bits*>(xp);
        const int32_t pos = static_cast<int32_t>(h * s.in_w + w);
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) {
          const bool take = (where[c] < 0) | (load_f32(xp, c) > load_f32(best, c));
          best_bits[c] = take ? x_bits[c] : best_bits[c];
          where[c] = take ? pos : where[c];
        }
      }
  });
}

template <class T>
void max_pool2d_backward(const Pool2dShape& s, const T* dy, const int32_t* argmax, T* dx) {
  const int64_t C = s.channels, per_image_out = s.out_h() * s.out_w(), per_image_in = s.in_h * s.in_w;
  // Windows overlap, so scatter per image (images in parallel), accumulating in float.
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < s.batch; ++n) {
    std::vector<float> acc(static_cast<size_t>(per_image_in * C), 0.f);
    for (int64_t o = 0; o < per_image_out; ++o) {
      const int64_t base = (n * per_image_out + o) * C;
      for (int64_t c = 0; c < C; ++c) acc[argmax[base + c] * C + c] += float(dy[base + c]);
    }
    T* dxn = dx + n * per_image_in * C;
    for (int64_t i = 0; i < per_image_in * C; ++i) store_f32(dxn, i, acc[i]);
  }
}

template <class T>
void avg_pool2d_forward(const Pool2dShape& s, bool count_include_pad, const T* x, T* y) {
  const int64_t C = s.channels;
  for_each_window(s, [&](int64_t n, int64_t out, int64_t hs, int64_t he, int64_t ws, int64_t we, int64_t h0,
                         int64_t w0) {
    thread_local std::vector<float> acc;
    acc.assign(C, 0.f);
    for (int64_t h = hs; h < he; ++h)
      for (int64_t w = ws; w < we; ++w) {
        const T* xp = x + ((n * s.in_h + h) * s.in_w + w) * C;
        for (int64_t c = 0; c < C; ++c) acc[c] += float(xp[c]);
      }
    const float inv = 1.f / static_cast<float>(std::max<int64_t>(1, window_count(s, count_include_pad, hs, he, ws, we, h0, w0)));
    for (int64_t c = 0; c < C; ++c) y[out * C + c] = T(acc[c] * inv);
  });
}

template <class T>
void avg_pool2d_backward(const Pool2dShape& s, bool count_include_pad, const T* dy, T* dx) {
  const int64_t C = s.channels, oh_n = s.out_h(), ow_n = s.out_w(), per_image_in = s.in_h * s.in_w;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < s.batch; ++n) {
    std::vector<float> acc(static_cast<size_t>(per_image_in * C), 0.f);
    for (int64_t oh = 0; oh < oh_n; ++oh)
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        const int64_t h0 = oh * s.stride_h - s.pad_top, w0 = ow * s.stride_w - s.pad_left;
        const int64_t hs = std::max<int64_t>(h0, 0), he = std::min(h0 + s.kernel_h, s.in_h);
        const int64_t ws = std::max<int64_t>(w0, 0), we = std::min(w0 + s.kernel_w, s.in_w);
        const float inv =
            1.f / static_cast<float>(std::max<int64_t>(1, window_count(s, count_include_pad, hs, he, ws, we, h0, w0)));
        const T* g = dy + ((n * oh_n + oh) * ow_n + ow) * C;
        for (int64_t h = hs; h < he; ++h)
          for (int64_t w = ws; w < we; ++w) {
            float* a = &acc[(h * s.in_w + w) * C];
            for (int64_t c = 0; c < C; ++c) a[c] += float(g[c]) * inv;
          }
      }
    T* dxn = dx + n * per_image_in * C;
    for (int64_t i = 0; i < per_image_in * C; ++i) store_f32(dxn, i, acc[i]);
  }
}

template <class T>
void global_avg_pool_forward(const T* x, int64_t batch, int64_t spatial, int64_t channels, T* y) {
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < batch; ++n) {
    std::vector<float> acc(channels, 0.f);
    for (int64_t p = 0; p < spatial; ++p) {
      const T* xp = x + (n * spatial + p) * channels;
#pragma omp simd
      for (int64_t c = 0; c < channels; ++c) acc[c] += float(xp[c]);
    }
    const float inv = 1.f / static_cast<float>(spatial);
    for (int64_t c = 0; c < channels; ++c) y[n * channels + c] = T(acc[c] * inv);
  }
}

template <class T>
void global_avg_pool_backward(const T* dy, int64_t batch, int64_t spatial, int64_t channels, T* dx) {
  const float inv = 1.f / static_cast<float>(spatial);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t p = 0; p < spatial; ++p) {
      T* d = dx + (n * spatial + p) * channels;
      const T* g = dy + n * channels;
#pragma omp simd
      for (int64_t c = 0; c < channels; ++c) d[c] = T(float(g[c]) * inv);
    }
}

#define TRAINER_INSTANTIATE(T)                                                                          \
  template void max_pool2d_forward<T>(const Pool2dShape&, const T*, T*, int32_t*);                      \
  template void max_pool2d_backward<T>(const Pool2dShape&, const T*, const int32_t*, T*);               \
  template void avg_pool2d_forward<T>(const Pool2dShape&, bool, const T*, T*);                          \
  template void avg_pool2d_backward<T>(const Pool2dShape&, bool, const T*, T*);                         \
  template void global_avg_pool_forward<T>(const T*, int64_t, int64_t, int64_t, T*);                    \
  template void global_avg_pool_backward<T>(const T*, int64_t, int64_t, int64_t, T*);
TRAINER_INSTANTIATE(float)
TRAINER_INSTANTIATE(bfloat16)
#undef TRAINER_INSTANTIATE

}  // namespace trainer::cpu
