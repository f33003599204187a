// Convolution as implicit GEMM (gemm_core.cuh): the three GEMM problems of a 2-D convolution over
// NHWC activations and OHWI weights, with per-side padding (taps that fall outside the input read
// as zero inside the loaders, so TF 'SAME' padding needs no padded copy), stride, dilation and
// groups (one z group of the grid per group). Design and costs:
// include/trainer/kernels/cuda/conv2d_native.h.
//
//   forward          Y[m = (n, oh, ow)][o] = sum_k X_col[m][k = (kh, kw, c)] * W[o][k]
//                    A = X_col K-major (c contiguous), B = W K-major (an OHWI row is one k line)
//   backward data    per stride phase (ih % sh, iw % sw) only the taps that reach a pixel of that
//                    phase: dX[m = (n, ih, iw)][c] = sum_k dY_col[m][k = (tap, o)] * W[o, tap][c]
//                    A = dY gathered K-major (o contiguous), B = W MN-major (c contiguous);
//                    z group = group x phase, so a stride-2 layer does no work on zero taps
//   backward weights dW^T[m = (kh, kw, c)][o] = sum_p X_col^T[m][p] * dY[p][o], p = (n, oh, ow)
//                    A = X_col^T MN-major (c contiguous), B = dY MN-major (o contiguous); the
//                    output OHWI is contiguous along m (kOutAlongM), f32, split-K over p
#pragma once

#include <cstdint>
#include <limits>

#include "cuda_compat.h"
#include "gemm_core.cuh"
#include "trainer/core/error.h"
#include "trainer/kernels/shapes.h"

namespace trainer::cuda::conv {

// Conv2dShape in 32-bit fields for index arithmetic in registers (offsets stay 64-bit).
struct ConvGeom {
  int n, h, w, c, o, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, groups, cg, og;
  __host__ __device__ int64_t pixels_out() const { return static_cast<int64_t>(n) * oh * ow; }
  __host__ __device__ int64_t pixels_in() const { return static_cast<int64_t>(n) * h * w; }
};

inline ConvGeom geometry_of(const Conv2dShape& s, const char* what) {
  TRAINER_CHECK(s.batch > 0 && s.in_h > 0 && s.in_w > 0 && s.in_c > 0 && s.out_c > 0 && s.kernel_h > 0 &&
                    s.kernel_w > 0 && s.stride_h > 0 && s.stride_w > 0 && s.dilation_h > 0 && s.dilation_w > 0 &&
                    s.pad_top >= 0 && s.pad_bottom >= 0 && s.pad_left >= 0 && s.pad_right >= 0 && s.groups > 0,
                what, ": invalid convolution shape");
  TRAINER_CHECK(s.in_c % s.groups == 0 && s.out_c % s.groups == 0, what, ": groups ", s.groups,
                " must divide input channels ", s.in_c, " and output channels ", s.out_c);
  TRAINER_CHECK(s.out_h() > 0 && s.out_w() > 0, what, ": input ", s.in_h, "x", s.in_w, " is smaller than the ",
                s.kernel_h, "x", s.kernel_w, " kernel (after padding/dilation)");
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  const int64_t pixels = s.batch * std::max(s.in_h * s.in_w, s.out_h() * s.out_w());
  TRAINER_CHECK(pixels < kMax && s.kernel_h * s.kernel_w * std::max(s.in_c, s.out_c) < kMax &&
                    s.in_h + s.pad_top + s.pad_bottom + s.dilation_h * s.kernel_h < kMax &&
                    s.in_w + s.pad_left + s.pad_right + s.dilation_w * s.kernel_w < kMax,
                what, ": convolution too large for 32-bit pixel indices");
  auto i32 = [](int64_t v) { return static_cast<int>(v); };
  return {i32(s.batch),      i32(s.in_h),       i32(s.in_w),       i32(s.in_c),         i32(s.out_c),
          i32(s.kernel_h),   i32(s.kernel_w),   i32(s.stride_h),   i32(s.stride_w),     i32(s.dilation_h),
          i32(s.dilation_w), i32(s.pad_top),    i32(s.pad_left),   i32(s.out_h()),      i32(s.out_w()),
          i32(s.groups),     i32(s.in_c / s.groups), i32(s.out_c / s.groups)};
}

// Depthwise (one input and one output channel per group): direct kernels, conv2d_depthwise.cu.
inline bool is_depthwise(const ConvGeom& g) { return g.groups > 1 && g.cg == 1 && g.og == 1; }

// ---------------------------------------------------------------- forward
template <class D>
struct Forward {
  using Elem = D;
  ConvGeom g;
  const D* x;
  const D* w;
  int n_tiles = 1, splits = 1;
  gemm::Output out;

  struct ASource {  // X_col[m][k], K-major
    ConvGeom g;
    const D* x;  // at the group's first channel
    int rows;
    struct Line {
      const D* base;  // the image; null: row beyond the extent
      int ih0, iw0;
    };
    __device__ Line line(int m) const {
      if (m >= rows) return {nullptr, 0, 0};
      const int per_image = g.oh * g.ow, n = m / per_image, r = m - n * per_image, oh = r / g.ow, ow = r - oh * g.ow;
      return {x + static_cast<int64_t>(n) * g.h * g.w * g.c, oh * g.sh - g.pt, ow * g.sw - g.pl};
    }
    __device__ const D* address(const Line& l, int k) const {
      if (!l.base) return nullptr;
      const int tap = k / g.cg, c = k - tap * g.cg, kh = tap / g.kw, kw = tap - kh * g.kw;
      const int ih = l.ih0 + kh * g.dh, iw = l.iw0 + kw * g.dw;
      if (static_cast<unsigned>(ih) >= static_cast<unsigned>(g.h) || static_cast<unsigned>(iw) >= static_cast<unsigned>(g.w))
        return nullptr;
      return l.base + (static_cast<int64_t>(ih) * g.w + iw) * g.c + c;
    }
  };
  struct BSource {  // W[o][k], K-major
    const D* w;     // at the group's first output channel
    int rows, k;
    struct Line {
      const D* row;
    };
    __device__ Line line(int o) const { return {o < rows ? w + static_cast<int64_t>(o) * k : nullptr}; }
    __device__ const D* address(const Line& l, int kk) const { return l.row ? l.row + kk : nullptr; }
  };
  struct Ctx {
    static constexpr gemm::Major kA = gemm::Major::K, kB = gemm::Major::K;
    static constexpr bool kOutAlongM = false;
    using ASource = typename Forward::ASource;
    using BSource = typename Forward::BSource;
    int m, n, k;
    ASource a;
    BSource b;
    int ldo, col0;
    __device__ int64_t out_index(int mm, int nn) const { return static_cast<int64_t>(mm) * ldo + col0 + nn; }
    __device__ int bias_col(int nn) const { return col0 + nn; }
  };
  __device__ Ctx context(int group) const {
    const int m = static_cast<int>(g.pixels_out()), k = g.kh * g.kw * g.cg;
    return {m,
            g.og,
            k,
            ASource{g, x + group * g.cg, m},
            BSource{w + static_cast<int64_t>(group) * g.og * k, g.og, k},
            g.o,
            group * g.og};
  }
};

// ---------------------------------------------------------------- backward data
// The taps that reach input pixels of one stride phase (ih % sh == rh, iw % sw == rw): kh with
// (rh + pt - kh * dh) % sh == 0, an arithmetic progression kh0 + i * step, i < count.
struct PhaseTaps {
  int first, count, step;
};
__host__ __device__ inline PhaseTaps phase_taps(int r, int pad, int k, int stride, int dilation) {
  int a = stride, b = dilation;
  while (b) {
    const int t = a % b;
    a = b;
    b = t;
  }
  const int step = stride / a;  // stride / gcd(stride, dilation)
  for (int kk = 0; kk < k && kk < step; ++kk) {
    const int d = r + pad - kk * dilation;
    if (((d % stride) + stride) % stride == 0) return {kk, (k - 1 - kk) / step + 1, step};
  }
  return {0, 0, step};
}

struct Phase {
  int rh, rw, hp, wp;  // phase offset and the phase's input extent
  PhaseTaps th, tw;
};
__host__ __device__ inline Phase phase_of(const ConvGeom& g, int p) {
  Phase ph;
  ph.rh = p / g.sw;
  ph.rw = p - ph.rh * g.sw;
  ph.hp = ph.rh < g.h ? (g.h - ph.rh + g.sh - 1) / g.sh : 0;
  ph.wp = ph.rw < g.w ? (g.w - ph.rw + g.sw - 1) / g.sw : 0;
  ph.th = phase_taps(ph.rh, g.pt, g.kh, g.sh, g.dh);
  ph.tw = phase_taps(ph.rw, g.pl, g.kw, g.sw, g.dw);
  return ph;
}

template <class D>
struct BackwardData {
  using Elem = D;
  ConvGeom g;
  const D* dy;
  const D* w;
  int n_tiles = 1, splits = 1;
  gemm::Output out;

  struct ASource {  // dY gathered: A[m = (n, i, j)][k = (tap, o)], K-major
    ConvGeom g;
    Phase ph;
    const D* dy;  // at the group's first channel
    int rows;
    struct Line {
      const D* base;  // the image's dY; null: row beyond the extent
      int ihp, iwp;   // ih + pad_top, iw + pad_left
    };
    __device__ Line line(int m) const {
      if (m >= rows) return {nullptr, 0, 0};
      const int per_image = ph.hp * ph.wp, n = m / per_image, r = m - n * per_image, i = r / ph.wp, j = r - i * ph.wp;
      return {dy + static_cast<int64_t>(n) * g.oh * g.ow * g.o, ph.rh + g.sh * i + g.pt, ph.rw + g.sw * j + g.pl};
    }
    __device__ const D* address(const Line& l, int k) const {
      if (!l.base) return nullptr;
      const int tap = k / g.og, o = k - tap * g.og, a = tap / ph.tw.count, b = tap - a * ph.tw.count;
      const int th = l.ihp - (ph.th.first + a * ph.th.step) * g.dh, tw = l.iwp - (ph.tw.first + b * ph.tw.step) * g.dw;
      if (th < 0 || tw < 0) return nullptr;
      const int oh = th / g.sh, ow = tw / g.sw;  // exact: the phase's taps make th, tw multiples of the stride
      if (oh >= g.oh || ow >= g.ow) return nullptr;
      return l.base + (static_cast<int64_t>(oh) * g.ow + ow) * g.o + o;
    }
  };
  struct BSource {  // W[k = (tap, o)][c], MN-major
    ConvGeom g;
    Phase ph;
    const D* w;  // at the group's first output channel
    struct Line {
      int c;  // -1: beyond the extent
    };
    __device__ Line line(int c) const { return {c < g.cg ? c : -1}; }
    __device__ const D* address(const Line& l, int k) const {
      if (l.c < 0) return nullptr;
      const int tap = k / g.og, o = k - tap * g.og, a = tap / ph.tw.count, b = tap - a * ph.tw.count;
      const int kh = ph.th.first + a * ph.th.step, kw = ph.tw.first + b * ph.tw.step;
      return w + ((static_cast<int64_t>(o) * g.kh + kh) * g.kw + kw) * g.cg + l.c;
    }
  };
  struct Ctx {
    static constexpr gemm::Major kA = gemm::Major::K, kB = gemm::Major::MN;
    static constexpr bool kOutAlongM = false;
    using ASource = typename BackwardData::ASource;
    using BSource = typename BackwardData::BSource;
    int m, n, k;
    ASource a;
    BSource b;
    ConvGeom g;
    Phase ph;
    int col0;
    __device__ int64_t out_index(int mm, int nn) const {
      const int per_image = ph.hp * ph.wp, n_img = mm / per_image, r = mm - n_img * per_image, i = r / ph.wp,
                j = r - i * ph.wp;
      const int ih = ph.rh + g.sh * i, iw = ph.rw + g.sw * j;
      return ((static_cast<int64_t>(n_img) * g.h + ih) * g.w + iw) * g.c + col0 + nn;
    }
    __device__ int bias_col(int) const { return 0; }
  };
  __device__ Ctx context(int zg) const {
    const int phases = g.sh * g.sw, group = zg / phases;
    const Phase ph = phase_of(g, zg - group * phases);
    const int m = g.n * ph.hp * ph.wp, k = ph.th.count * ph.tw.count * g.og;
    const D* wg = w + static_cast<int64_t>(group) * g.og * g.kh * g.kw * g.cg;
    return {m, g.cg, k, ASource{g, ph, dy + group * g.og, m}, BSource{g, ph, wg}, g, ph, group * g.cg};
  }
};

// ---------------------------------------------------------------- backward weights
template <class D>
struct BackwardWeights {
  using Elem = D;
  ConvGeom g;
  const D* x;
  const D* dy;
  int n_tiles = 1, splits = 1;
  gemm::Output out;

  struct ASource {  // X_col^T[m = (kh, kw, c)][k = p], MN-major
    ConvGeom g;
    const D* x;  // at the group's first channel
    int rows;
    struct Line {
      int dh, dw, c;  // tap offsets (kh * dil - pad), channel; c = -1: beyond the extent
    };
    __device__ Line line(int m) const {
      if (m >= rows) return {0, 0, -1};
      const int tap = m / g.cg, c = m - tap * g.cg, kh = tap / g.kw, kw = tap - kh * g.kw;
      return {kh * g.dh - g.pt, kw * g.dw - g.pl, c};
    }
    __device__ const D* address(const Line& l, int p) const {
      if (l.c < 0) return nullptr;
      const int per_image = g.oh * g.ow, n = p / per_image, r = p - n * per_image, oh = r / g.ow, ow = r - oh * g.ow;
      const int ih = oh * g.sh + l.dh, iw = ow * g.sw + l.dw;
      if (static_cast<unsigned>(ih) >= static_cast<unsigned>(g.h) || static_cast<unsigned>(iw) >= static_cast<unsigned>(g.w))
        return nullptr;
      return x + ((static_cast<int64_t>(n) * g.h + ih) * g.w + iw) * g.c + l.c;
    }
  };
  struct BSource {  // dY[k = p][o], MN-major
    const D* dy;    // at the group's first channel
    int cols, ld;
    struct Line {
      int o;  // -1: beyond the extent
    };
    __device__ Line line(int o) const { return {o < cols ? o : -1}; }
    __device__ const D* address(const Line& l, int p) const {
      return l.o < 0 ? nullptr : dy + static_cast<int64_t>(p) * ld + l.o;
    }
  };
  struct Ctx {
    static constexpr gemm::Major kA = gemm::Major::MN, kB = gemm::Major::MN;
    static constexpr bool kOutAlongM = true;
    using ASource = typename BackwardWeights::ASource;
    using BSource = typename BackwardWeights::BSource;
    int m, n, k;
    ASource a;
    BSource b;
    int64_t base;  // the group's first weight
    __device__ int64_t out_index(int mm, int nn) const { return base + static_cast<int64_t>(nn) * m + mm; }
    __device__ int bias_col(int) const { return 0; }
  };
  __device__ Ctx context(int group) const {
    const int m = g.kh * g.kw * g.cg;
    return {m,
            g.og,
            static_cast<int>(g.pixels_out()),
            ASource{g, x + group * g.cg, m},
            BSource{dy + group * g.og, g.og, g.o},
            static_cast<int64_t>(group) * g.og * m};
  }
};

// Depthwise convolutions (conv2d_depthwise.cu), same contracts as the conv2d_native.h calls.
template <class T>
void depthwise_forward(const ConvGeom& g, const T* x, const T* w, const float* bias, Activation act, T* y,
                       Stream stream);
template <class T>
void depthwise_backward_data(const ConvGeom& g, const T* dy, const T* w, T* dx, Stream stream);
template <class T>
void depthwise_backward_weights(const ConvGeom& g, const T* x, const T* dy, float* dw, Stream stream);

}  // namespace trainer::cuda::conv
