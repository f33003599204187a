// Box arithmetic of the detection kernels (box_ops.cu, target_assign.cu, nms.cu) as device
// functions that perform the CPU backend's float operations (kernels/cpu/box_ops.cpp) one for
// one, in the same order, so that IoUs and coder outputs land on the same float32 values and
// every threshold decision (IoU >= 0.5, IoU > 0.6, clipped area > 0) goes the same way on both
// backends.
//
// That needs two things beyond writing the same expressions:
//  - no contraction of a*b+c into an FMA: the files that include this header are compiled with
//    --fmad=false (nvcc) and -ffp-contract=off (the emulated build), as cpu/box_ops.cpp is with
//    -ffp-contract=off (src/kernels/cuda/CMakeLists.txt);
//  - std::min / std::max's exact semantics (`b < a ? b : a`, `a < b ? b : a`), not fminf/fmaxf,
//    which treat NaN and the order of equal arguments differently.
// Transcendentals (logf in the encoder, expf in the decoder) are the one place where a GPU
// differs: CUDA's logf/expf are within 1-2 ulp of the C library's, so codes may differ in the
// last bits (the emulated build calls the same libm as the CPU backend and matches exactly).
#pragma once

#include <math.h>

#include <cstdint>

#include "cuda_compat.h"
#include "trainer/kernels/cpu/box_ops.h"  // BoxCoderScales

namespace trainer::cuda::boxmath {

// std::min and std::max, bit for bit.
__host__ __device__ inline float std_min(float a, float b) { return b < a ? b : a; }
__host__ __device__ inline float std_max(float a, float b) { return a < b ? b : a; }

// [ymin, xmin, ymax, xmax] as given.
struct Box {
  float y0, x0, y1, x1;
};

// Box i of a [n, 4] array. kVec: the array is 16-byte aligned, one 128-bit load per box.
template <bool kVec>
__host__ __device__ inline Box load_box(const float* __restrict__ p, int64_t i) {
  if constexpr (kVec) {
    const float4 v = reinterpret_cast<const float4*>(p)[i];
    return {v.x, v.y, v.z, v.w};
  } else {
    const float* b = p + 4 * i;
    return {b[0], b[1], b[2], b[3]};
  }
}

template <bool kVec>
__host__ __device__ inline void store4(float* __restrict__ p, int64_t i, float a, float b, float c, float d) {
  if constexpr (kVec) {
    reinterpret_cast<float4*>(p)[i] = make_float4(a, b, c, d);
  } else {
    float* q = p + 4 * i;
    q[0] = a;
    q[1] = b;
    q[2] = c;
    q[3] = d;
  }
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// cpu::iou_matrix's element: p a row box, q a column box; exactly 0 where the intersection is 0.
__host__ __device__ inline float iou(const Box& p, const Box& q) {
  const float ih = std_max(0.f, std_min(p.y1, q.y1) - std_max(p.y0, q.y0));
  const float iw = std_max(0.f, std_min(p.x1, q.x1) - std_max(p.x0, q.x0));
  const float inter = ih * iw;
  if (inter == 0.f) return 0.f;
  const float area_p = (p.y1 - p.y0) * (p.x1 - p.x0);
  const float area_q = (q.y1 - q.y0) * (q.x1 - q.x0);
  return inter / (area_p + area_q - inter);
}

// The coder's scale factors with "unset" (0) replaced by 1, as cpu::encode_boxes does.
struct CoderFactors {
  float y, x, h, w;
};
inline CoderFactors coder_factors(const cpu::BoxCoderScales& s) {
  auto f = [](float v) { return v == 0.f ? 1.f : v; };
  return {f(s.y), f(s.x), f(s.h), f(s.w)};
}

struct Code {
  float ty, tx, th, tw;
};

// cpu::encode_boxes for one box against one anchor.
__host__ __device__ inline Code encode(const Box& b, const Box& a, const CoderFactors& f) {
  constexpr float kEpsilon = 1e-8f;
  float ha = a.y1 - a.y0, wa = a.x1 - a.x0;
  const float yca = a.y0 + ha / 2.f, xca = a.x0 + wa / 2.f;
  float h = b.y1 - b.y0, w = b.x1 - b.x0;
  const float yc = b.y0 + h / 2.f, xc = b.x0 + w / 2.f;
  ha += kEpsilon;
  wa += kEpsilon;
  h += kEpsilon;
  w += kEpsilon;
  return {(yc - yca) / ha * f.y, (xc - xca) / wa * f.x, logf(h / ha) * f.h, logf(w / wa) * f.w};
}

// cpu::decode_boxes for one code against one anchor.
__host__ __device__ inline Box decode(const Code& c, const Box& a, const CoderFactors& f) {
  const float ha = a.y1 - a.y0, wa = a.x1 - a.x0;
  const float yca = a.y0 + ha / 2.f, xca = a.x0 + wa / 2.f;
  const float ty = c.ty / f.y, tx = c.tx / f.x, th = c.th / f.h, tw = c.tw / f.w;
  const float w = expf(tw) * wa, h = expf(th) * ha;
  const float yc = ty * ha + yca, xc = tx * wa + xca;
  return {yc - h / 2.f, xc - w / 2.f, yc + h / 2.f, xc + w / 2.f};
}

// A box as tf.image.non_max_suppression sees it: corners ordered, area precomputed
// (cpu/box_ops.cpp `nms_box`).
struct NmsBox {
  float ymin, xmin, ymax, xmax, area;
};

__host__ __device__ inline NmsBox nms_box(const Box& b) {
  NmsBox r;
  r.ymin = std_min(b.y0, b.y1);
  r.xmin = std_min(b.x0, b.x1);
  r.ymax = std_max(b.y0, b.y1);
  r.xmax = std_max(b.x0, b.x1);
  r.area = (r.ymax - r.ymin) * (r.xmax - r.xmin);
  return r;
}

// cpu/box_ops.cpp `nms_iou(candidate, kept)`: 0 when either box has no area.
__host__ __device__ inline float nms_iou(const NmsBox& i, const NmsBox& j) {
  if (i.area <= 0.f || j.area <= 0.f) return 0.f;
  const float ymin = std_max(i.ymin, j.ymin), xmin = std_max(i.xmin, j.xmin);
  const float ymax = std_min(i.ymax, j.ymax), xmax = std_min(i.xmax, j.xmax);
  const float inter = std_max(ymax - ymin, 0.f) * std_max(xmax - xmin, 0.f);
  return inter / (i.area + j.area - inter);
}

}  // namespace trainer::cuda::boxmath
