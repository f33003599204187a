// The shapes every backend's kernels take (src/kernels/README.md): one struct per op family,
// shared by the CPU and CUDA kernels so an op front-end describes its work once and dispatches
// it to either. Activations NHWC, convolution weights OHWI ([out, kh, kw, in/groups]).
#pragma once

#include <cstdint>

namespace trainer {

// Fused activations of convolution, batchnorm and bias epilogues, and the pointwise op.
enum class Activation : uint8_t { Identity, Relu, Relu6, Swish, Sigmoid };

// 2-D convolution. Padding per side, so TF 'SAME' (asymmetric) padding is a choice of numbers.
struct Conv2dShape {
  int64_t batch = 0, in_h = 0, in_w = 0, in_c = 0;
  int64_t out_c = 0, kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  int64_t groups = 1;

  int64_t out_h() const { return (in_h + pad_top + pad_bottom - dilation_h * (kernel_h - 1) - 1) / stride_h + 1; }
  int64_t out_w() const { return (in_w + pad_left + pad_right - dilation_w * (kernel_w - 1) - 1) / stride_w + 1; }
  bool operator==(const Conv2dShape&) const = default;
};

// Max / average pooling windows over NHWC maps.
struct Pool2dShape {
  int64_t batch = 0, in_h = 0, in_w = 0, channels = 0;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;

  int64_t out_h() const { return (in_h + pad_top + pad_bottom - kernel_h) / stride_h + 1; }
  int64_t out_w() const { return (in_w + pad_left + pad_right - kernel_w) / stride_w + 1; }
};

// c[m, n] = op(a)[m, k] * op(b)[k, n], row-major.
struct MatmulShape {
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false;  // a is stored [k, m] instead of [m, k]
  bool trans_b = false;  // b is stored [n, k] instead of [k, n]
  bool operator==(const MatmulShape&) const = default;
};

// A broadcast of b against a: a is [outer, mid, inner], b is [outer, inner] and repeats along
// `mid`. Same shape: mid = 1. Per-channel vector [C] vs NHWC: outer = 1, mid = N*H*W, inner = C.
// Squeeze-excite scale [N,1,1,C] vs [N,H,W,C]: outer = N, mid = H*W, inner = C.
struct Broadcast {
  int64_t outer = 1, mid = 1, inner = 1;
  int64_t size() const { return outer * mid * inner; }
};

// AddRelu: max(a + b, 0) in one pass, the residual join of ResNet blocks.
enum class BinaryOp : uint8_t { Add, Sub, Mul, AddRelu };

// A run of the optimizer's flat parameter buffers with one weight decay (consecutive parameters
// with the same decay merged). Segments are sorted by offset and do not overlap.
struct SgdSegment {
  int64_t offset = 0, size = 0;
  float weight_decay = 0.f;
};

// Fast normalised fusion (EfficientDet's BiFPN): y = sum_i c_i x_i over `inputs` same-shape maps
// of `size` elements, with c_i = relu(w_i) / (sum_j relu(w_j) + epsilon) from the f32 weights w.
struct FusionShape {
  static constexpr int kMaxInputs = 4;
  int inputs = 0;
  int64_t size = 0;
  float epsilon = 1e-4f;
};

// NVIDIA's mixup of a batch with itself reversed: sample i (`sample_size` elements) blends
// with sample batch - 1 - i by a weight lambda_i, and its soft targets over `classes` are the
// two labels' smoothed one-hots (off = smoothing / classes, on = 1 - smoothing) blended alike.
struct MixupShape {
  int64_t batch = 0, sample_size = 0, classes = 0;
  float smoothing = 0.f;
};

}  // namespace trainer
