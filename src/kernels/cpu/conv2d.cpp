#include "trainer/kernels/cpu/conv2d.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "onednn.h"
#include "trainer/core/half.h"
#include "trainer/kernels/cpu/matmul.h"

namespace trainer::cpu {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

struct ConvDescs {
  memory::dims src, weights, dst, bias, strides, dilates, pad_l, pad_r;
};

ConvDescs conv_dims(const Conv2dShape& s) {
  ConvDescs d;
  d.src = {s.batch, s.in_c, s.in_h, s.in_w};
  d.weights = s.groups == 1 ? memory::dims{s.out_c, s.in_c, s.kernel_h, s.kernel_w}
                            : memory::dims{s.groups, s.out_c / s.groups, s.in_c / s.groups, s.kernel_h, s.kernel_w};
  d.dst = {s.batch, s.out_c, s.out_h(), s.out_w()};
  d.bias = {s.out_c};
  d.strides = {s.stride_h, s.stride_w};
  d.dilates = {s.dilation_h - 1, s.dilation_w - 1};  // oneDNN counts the holes, not the step
  d.pad_l = {s.pad_top, s.pad_left};
  d.pad_r = {s.pad_bottom, s.pad_right};
  return d;
}

// Our weights are OHWI; with groups, [g*O/g, KH, KW, I/g] is oneDNN's gohwi.
memory::desc user_weights(const Conv2dShape& s, memory::data_type dt) {
  const ConvDescs d = conv_dims(s);
  return memory::desc(d.weights, dt, s.groups == 1 ? tag::ohwi : tag::gohwi);
}

int64_t weight_count(const Conv2dShape& s) { return s.out_c * s.kernel_h * s.kernel_w * (s.in_c / s.groups); }

// A 1x1, stride-1, unpadded, ungrouped convolution over NHWC maps is a matrix product over the
// N*H*W rows. In bf16, oneDNN 2.6's matmul (brgemm) runs these far faster than its convolution
// kernels for the gradients: on an AMX Xeon at ResNet-50's batch-32 shapes, weight gradients
// 2-3x in a training step (14x14, 256 -> 1024: 7.7 -> 3.5 ms), data gradients ~1.3x. The
// forward pass stays on brgconv_1x1, which is faster there than the matmul, and f32 stays on
// the convolution kernels (as fast as oneDNN's sgemm at these shapes).
// A strided 1x1 convolution (ResNet's projection shortcuts) is the same product over the pixels
// it samples: those are gathered first (and data gradients scattered back), a copy of the
// output's size, against 3-4x on the product.
bool pointwise_as_matmul(const Conv2dShape& s, DType dtype) {
  return dtype == DType::BF16 && onednn::native_bf16() && s.kernel_h == 1 && s.kernel_w == 1 &&
         s.pad_top == 0 && s.pad_bottom == 0 && s.pad_left == 0 && s.pad_right == 0 && s.groups == 1;
}

bool strided(const Conv2dShape& s) { return s.stride_h != 1 || s.stride_w != 1; }

bool depthwise(const Conv2dShape& s) { return s.groups > 1 && s.groups == s.in_c && s.out_c == s.in_c; }

// The weight gradient of a depthwise convolution over NHWC maps, written out:
//   dw[c, ky, kx] = sum over n, oy, ox of dy[n, oy, ox, c] * x[n, oy*sh + ky*dh - pt, ox*sw + kx*dw - pl, c],
// each (image, output row) pair adding its products into a [kh*kw, C] accumulator, vectorised
// over the channels. oneDNN 2.6's jit_dw kernel refuses the 5x5 kernels of EfficientNet with
// TF's asymmetric padding, and its fallback (gemm over NCHW copies) took a sixth of an
// EfficientDet-D0 training step. Rows are cut into fixed chunks that the threads share; each
// chunk sums in float, the chunks in double in their order: the same bits for any thread count.
template <class T>
void depthwise_backward_weights(const Conv2dShape& s, const T* x, const T* dy, float* dw) {
  constexpr int64_t kRowsPerChunk = 4;
  const int64_t channels = s.in_c, taps = s.kernel_h * s.kernel_w, oh = s.out_h(), ow = s.out_w();
  const int64_t rows = s.batch * oh, chunks = (rows + kRowsPerChunk - 1) / kRowsPerChunk;
  std::vector<float> partial(static_cast<size_t>(chunks * taps * channels), 0.f);
  float* sums = partial.data();
#pragma omp parallel for schedule(static)
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    float* acc = sums + chunk * taps * channels;
    for (int64_t row = chunk * kRowsPerChunk; row < std::min(rows, (chunk + 1) * kRowsPerChunk); ++row) {
      const int64_t n = row / oh, oy = row % oh;
      for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
        const int64_t iy = oy * s.stride_h + ky * s.dilation_h - s.pad_top;
        if (iy < 0 || iy >= s.in_h) continue;
        for (int64_t ox = 0; ox < ow; ++ox) {
          const T* g = dy + ((n * oh + oy) * ow + ox) * channels;
          for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
            const int64_t ix = ox * s.stride_w + kx * s.dilation_w - s.pad_left;
            if (ix < 0 || ix >= s.in_w) continue;
            const T* v = x + ((n * s.in_h + iy) * s.in_w + ix) * channels;
            float* a = acc + (ky * s.kernel_w + kx) * channels;
#pragma omp simd
            for (int64_t c = 0; c < channels; ++c) a[c] += load_f32(g, c) * load_f32(v, c);
          }
        }
      }
    }
  }
  // Our weights are OHWI with I = 1: dw[c, ky, kx].
#pragma omp parallel for schedule(static) if (channels * taps > 4096)
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t t = 0; t < taps; ++t) {
      double total = 0;
      for (int64_t chunk = 0; chunk < chunks; ++chunk) total += sums[(chunk * taps + t) * channels + c];
      dw[c * taps + t] = static_cast<float>(total);
    }
}

int64_t output_pixels(const Conv2dShape& s) { return s.batch * s.out_h() * s.out_w(); }

// The input pixels a strided 1x1 convolution reads, [N, OH, OW, C] from [N, H, W, C] (gather),
// or the way back into a zeroed input (scatter); `bytes` per element.
void sampled_pixels(const Conv2dShape& s, size_t bytes, const void* from, void* to, bool gather) {
  const int64_t oh = s.out_h(), ow = s.out_w();
  const size_t row = static_cast<size_t>(s.in_c) * bytes;
  if (!gather) std::memset(to, 0, static_cast<size_t>(s.batch * s.in_h * s.in_w) * row);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t x = 0; x < ow; ++x) {
        const size_t dense = static_cast<size_t>((n * oh + y) * ow + x) * row;
        const size_t sparse = static_cast<size_t>((n * s.in_h + y * s.stride_h) * s.in_w + x * s.stride_w) * row;
        if (gather) std::memcpy(static_cast<char*>(to) + dense, static_cast<const char*>(from) + sparse, row);
        else std::memcpy(static_cast<char*>(to) + sparse, static_cast<const char*>(from) + dense, row);
      }
}

void check_shape(const Conv2dShape& s) {
  TRAINER_CHECK(s.groups >= 1 && s.in_c % s.groups == 0 && s.out_c % s.groups == 0, "conv2d: groups ", s.groups,
                " must divide input channels ", s.in_c, " and output channels ", s.out_c);
  TRAINER_CHECK(s.out_h() > 0 && s.out_w() > 0, "conv2d: input ", s.in_h, "x", s.in_w, " is smaller than the ",
                s.kernel_h, "x", s.kernel_w, " kernel (after padding/dilation)");
}

dnnl::post_ops activation_post_op(Activation act) {
  dnnl::post_ops ops;
  switch (act) {
    case Activation::Identity: break;
    case Activation::Relu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f); break;
    case Activation::Relu6: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 6.f); break;
    case Activation::Swish: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_swish, 1.f, 0.f); break;
    case Activation::Sigmoid: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f); break;
  }
  return ops;
}

// Activations are NHWC in the framework, but oneDNN 2.x's AVX2 kernels for spatial (k > 1)
// convolutions run ~1.5x faster on its blocked layout (nChw8c): for those, the primitive picks
// its layout and the operands are reordered in and out (a few percent of the convolution's
// time). 1x1 convolutions are GEMMs over NHWC rows already and stay NHWC. The choice depends on
// the shape only, never on timing, so reruns and resumed runs compute the same bits.
tag activation_tag(const Conv2dShape& s) { return s.kernel_h > 1 || s.kernel_w > 1 ? tag::any : tag::nhwc; }

// One operand in two layouts: ours (`user`) and the primitive's (`wanted`), with the reorder
// between them when they differ. Scratch for the reordered copy comes from the pooled
// allocator, so steady-state steps do not page-fault fresh buffers.
struct Relayout {
  memory::desc user, wanted;
  std::optional<dnnl::reorder> reorder;  // user -> wanted for inputs, wanted -> user for outputs
  Relayout(const memory::desc& user_md, const memory::desc& wanted_md, bool output) : user(user_md), wanted(wanted_md) {
    if (user == wanted) return;
    reorder.emplace(output ? dnnl::reorder::primitive_desc(onednn::engine(), wanted, onednn::engine(), user)
                           : dnnl::reorder::primitive_desc(onednn::engine(), user, onednn::engine(), wanted));
  }
  // Memory in the primitive's layout, scratch held by `keep` while it is in use.
  memory wanted_memory(void* user_ptr, Tensor& keep) const {
    if (!reorder) return memory(user, onednn::engine(), user_ptr);
    keep = Tensor::empty({static_cast<int64_t>(wanted.get_size())}, DType::U8);
    return memory(wanted, onednn::engine(), keep.raw());
  }
  // Inputs: the operand as the primitive wants it.
  memory in(const void* user_ptr, Tensor& keep) const {
    memory m = wanted_memory(const_cast<void*>(user_ptr), keep);
    if (reorder) {
      memory source(user, onednn::engine(), const_cast<void*>(user_ptr));
      reorder->execute(onednn::stream(), source, m);
    }
    return m;
  }
  // Outputs: after the primitive ran into `m`, write the result back to ours.
  void out(memory m, void* user_ptr) const {
    if (!reorder) return;
    memory target(user, onednn::engine(), user_ptr);
    reorder->execute(onednn::stream(), m, target);
  }
};

// Winograd F(4x4, 3x3) pays for its input and output transforms only with enough 4x4 output
// tiles: measured on SSD320's heads at batch 8 (AVX-512), 20x20 and larger maps run 2.0-2.6x
// faster than direct, 10x10 (72 tiles) 1.0-1.2x, 5x5 and 3x3 2-4x slower.
bool winograd_candidate(const Conv2dShape& s, DType dtype, ConvAlgorithm algorithm) {
  const int64_t tiles = s.batch * ((s.out_h() + 3) / 4) * ((s.out_w() + 3) / 4);
  return algorithm == ConvAlgorithm::Winograd && dtype == DType::F32 && s.kernel_h == 3 && s.kernel_w == 3 &&
         s.stride_h == 1 && s.stride_w == 1 && s.dilation_h == 1 && s.dilation_w == 1 && s.groups == 1 &&
         tiles >= 64;
}

// Tries Winograd for a candidate shape and falls back to direct where oneDNN has no Winograd
// kernel for it (AVX2 CPUs, some channel counts): `make(algorithm)` builds a primitive descriptor.
template <class Make>
auto with_algorithm(const Conv2dShape& s, DType dtype, ConvAlgorithm algorithm, Make&& make) {
  if (winograd_candidate(s, dtype, algorithm)) {
    try {
      return make(dnnl::algorithm::convolution_winograd);
    } catch (const dnnl::error&) {
    }
  }
  return make(dnnl::algorithm::convolution_direct);
}

dnnl::convolution_forward::primitive_desc forward_pd(const Conv2dShape& s, DType dtype, bool with_bias,
                                                     Activation act, dnnl::algorithm algorithm) {
  const ConvDescs d = conv_dims(s);
  const auto dt = onednn::data_type(dtype);
  const memory::desc src(d.src, dt, activation_tag(s)), dst(d.dst, dt, activation_tag(s));
  const memory::desc weights(d.weights, dt, tag::any);
  const memory::desc bias = with_bias ? memory::desc(d.bias, memory::data_type::f32, tag::a) : memory::desc();
  dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_training, algorithm, src, weights, bias, dst,
                                       d.strides, d.dilates, d.pad_l, d.pad_r);
  dnnl::primitive_attr attr;
  attr.set_post_ops(activation_post_op(act));
  return dnnl::convolution_forward::primitive_desc(desc, attr, onednn::engine());
}

// The forward primitive for a layer, and whether its activation runs as a separate pass
// afterwards: oneDNN's Winograd kernels take ReLU as a post-op but not ReLU6's clip, and
// Winograd plus a pass over the output still beats direct with the clip fused.
struct ForwardChoice {
  dnnl::convolution_forward::primitive_desc pd;
  bool separate_activation = false;
};

ForwardChoice choose_forward(const Conv2dShape& s, DType dtype, bool with_bias, Activation act,
                             ConvAlgorithm algorithm) {
  return with_algorithm(s, dtype, algorithm, [&](dnnl::algorithm alg) {
    if (alg == dnnl::algorithm::convolution_winograd && act != Activation::Identity) {
      try {
        return ForwardChoice{forward_pd(s, dtype, with_bias, act, alg), false};
      } catch (const dnnl::error&) {
        return ForwardChoice{forward_pd(s, dtype, with_bias, Activation::Identity, alg), true};
      }
    }
    return ForwardChoice{forward_pd(s, dtype, with_bias, act, alg), false};
  });
}

memory::desc nhwc(const memory::dims& dims, memory::data_type dt) { return memory::desc(dims, dt, tag::nhwc); }

struct Forward {
  dnnl::convolution_forward::primitive_desc pd;
  bool separate_activation;
  dnnl::convolution_forward prim;
  Relayout src, weights, dst;
};

struct BackwardData {
  dnnl::convolution_backward_data prim;
  Relayout diff_dst, weights, diff_src;
};

struct BackwardWeights {
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights prim;
  Relayout src, diff_dst, diff_weights;
};

}  // namespace

std::string conv2d_implementation(const Conv2dShape& s, DType dtype, ConvAlgorithm algorithm) {
  check_shape(s);
  // The descriptor names the implementation; no primitive is built (no JIT, nothing cached).
  return onednn::call("conv2d implementation", [&] {
    return choose_forward(s, onednn::compute_dtype(dtype), false, Activation::Identity, algorithm).pd.impl_info_str();
  });
}

void conv2d_forward(const Conv2dShape& s, DType dtype, const void* x, const void* w, const float* bias,
                    Activation act, void* y, ConvAlgorithm algorithm) {
  check_shape(s);
  if (onednn::compute_dtype(dtype) != dtype) {
    Tensor y32 = Tensor::empty({s.batch * s.out_h() * s.out_w() * s.out_c}, DType::F32);
    conv2d_forward(s, DType::F32, onednn::widen(x, s.batch * s.in_h * s.in_w * s.in_c).raw(),
                   onednn::widen(w, weight_count(s)).raw(), bias, act, y32.raw(), algorithm);
    onednn::narrow(y32, y);
    return;
  }
  static onednn::PrimitiveCache<Forward> cache;
  const bool with_bias = bias != nullptr;
  auto f = onednn::call("conv2d forward", [&] {
    return cache.get(onednn::cache_key(s, dtype, with_bias, act, algorithm), [&] {
      const ConvDescs d = conv_dims(s);
      const auto dt = onednn::data_type(dtype);
      auto [pd, separate_activation] = choose_forward(s, dtype, with_bias, act, algorithm);
      return Forward{pd, separate_activation, dnnl::convolution_forward(pd),
                     Relayout(nhwc(d.src, dt), pd.src_desc(), false),
                     Relayout(user_weights(s, dt), pd.weights_desc(), false),
                     Relayout(nhwc(d.dst, dt), pd.dst_desc(), true)};
    });
  });
  onednn::call("conv2d forward", [&] {
    Tensor keep_x, keep_w, keep_y;
    const memory xm = f->src.in(x, keep_x), wm = f->weights.in(w, keep_w);
    const memory ym = f->dst.wanted_memory(y, keep_y);
    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}};
    if (with_bias) args.emplace(DNNL_ARG_BIAS, memory(f->pd.bias_desc(), onednn::engine(), const_cast<float*>(bias)));
    f->prim.execute(onednn::stream(), args);
    f->dst.out(ym, y);
    onednn::stream().wait();
  });
  if (f->separate_activation) {  // Winograd only: f32
    float* out = static_cast<float*>(y);
    activation_forward(act, out, out, s.batch * s.out_h() * s.out_w() * s.out_c);
  }
}

void conv2d_backward_data(const Conv2dShape& s, DType dtype, const void* dy, const void* w, void* dx,
                          ConvAlgorithm algorithm) {
  check_shape(s);
  if (onednn::compute_dtype(dtype) != dtype) {
    Tensor dx32 = Tensor::empty({s.batch * s.in_h * s.in_w * s.in_c}, DType::F32);
    conv2d_backward_data(s, DType::F32, onednn::widen(dy, s.batch * s.out_h() * s.out_w() * s.out_c).raw(),
                         onednn::widen(w, weight_count(s)).raw(), dx32.raw(), algorithm);
    onednn::narrow(dx32, dx);
    return;
  }
  if (pointwise_as_matmul(s, dtype)) {
    // dx[pixels, C] = dy[pixels, O] * w[O, C], over the sampled pixels
    const MatmulShape product{output_pixels(s), s.in_c, s.out_c, false, false};
    if (!strided(s)) return matmul(product, dtype, dy, w, nullptr, dtype, dx);
    const Tensor sampled = Tensor::empty({output_pixels(s) * s.in_c}, dtype);
    matmul(product, dtype, dy, w, nullptr, dtype, sampled.raw());
    sampled_pixels(s, dtype_size(dtype), sampled.raw(), dx, false);
    return;
  }
  static onednn::PrimitiveCache<BackwardData> cache;
  auto b = onednn::call("conv2d backward data", [&] {
    return cache.get(onednn::cache_key(s, dtype, algorithm), [&] {
      const ConvDescs d = conv_dims(s);
      const auto dt = onednn::data_type(dtype);
      const memory::desc dsrc(d.src, dt, activation_tag(s)), ddst(d.dst, dt, activation_tag(s));
      const memory::desc weights(d.weights, dt, tag::any);
      const auto pd = with_algorithm(s, dtype, algorithm, [&](dnnl::algorithm alg) {
        dnnl::convolution_backward_data::desc desc(alg, dsrc, weights, ddst, d.strides, d.dilates, d.pad_l, d.pad_r);
        const auto hint = forward_pd(s, dtype, false, Activation::Identity, alg);
        return dnnl::convolution_backward_data::primitive_desc(desc, onednn::engine(), hint);
      });
      return BackwardData{dnnl::convolution_backward_data(pd), Relayout(nhwc(d.dst, dt), pd.diff_dst_desc(), false),
                          Relayout(user_weights(s, dt), pd.weights_desc(), false),
                          Relayout(nhwc(d.src, dt), pd.diff_src_desc(), true)};
    });
  });
  onednn::call("conv2d backward data", [&] {
    Tensor keep_dy, keep_w, keep_dx;
    const memory dym = b->diff_dst.in(dy, keep_dy), wm = b->weights.in(w, keep_w);
    const memory dxm = b->diff_src.wanted_memory(dx, keep_dx);
    b->prim.execute(onednn::stream(), {{DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, dxm}});
    b->diff_src.out(dxm, dx);
    onednn::stream().wait();
  });
}

void conv2d_backward_weights(const Conv2dShape& s, DType dtype, const void* x, const void* dy, float* dw,
                             float* dbias, ConvAlgorithm algorithm) {
  check_shape(s);
  if (onednn::compute_dtype(dtype) != dtype) {
    conv2d_backward_weights(s, DType::F32, onednn::widen(x, s.batch * s.in_h * s.in_w * s.in_c).raw(),
                            onednn::widen(dy, s.batch * s.out_h() * s.out_w() * s.out_c).raw(), dw, dbias, algorithm);
    return;
  }
  if (depthwise(s) && dbias == nullptr) {
    if (dtype == DType::BF16)
      depthwise_backward_weights(s, static_cast<const bfloat16*>(x), static_cast<const bfloat16*>(dy), dw);
    else
      depthwise_backward_weights(s, static_cast<const float*>(x), static_cast<const float*>(dy), dw);
    return;
  }
  // oneDNN 2.6's jit_1x1 weight gradient of a strided 1x1 convolution over channels that do not
  // fill its 16-wide blocks writes past its buffers with one image (8 -> 16 channels, stride 2,
  // batch 1: heap corruption, then a crash); the product over the sampled pixels is exact there.
  const bool unblocked_strided_pointwise = s.kernel_h == 1 && s.kernel_w == 1 && strided(s) && s.groups == 1 &&
                                           s.in_c % 16 != 0 && s.pad_top == 0 && s.pad_bottom == 0 &&
                                           s.pad_left == 0 && s.pad_right == 0;
  if ((pointwise_as_matmul(s, dtype) || unblocked_strided_pointwise) && dbias == nullptr) {
    // dw[O, C] = dy[pixels, O]^T * x[pixels, C], in f32, over the sampled pixels
    const MatmulShape product{s.out_c, s.in_c, output_pixels(s), true, false};
    if (!strided(s)) return matmul(product, dtype, dy, x, nullptr, DType::F32, dw);
    const Tensor sampled = Tensor::empty({output_pixels(s) * s.in_c}, dtype);
    sampled_pixels(s, dtype_size(dtype), x, sampled.raw(), true);
    matmul(product, dtype, dy, sampled.raw(), nullptr, DType::F32, dw);
    return;
  }
  static onednn::PrimitiveCache<BackwardWeights> cache;
  const bool with_bias = dbias != nullptr;
  auto b = onednn::call("conv2d backward weights", [&] {
    return cache.get(onednn::cache_key(s, dtype, with_bias, algorithm), [&] {
      const ConvDescs d = conv_dims(s);
      const auto dt = onednn::data_type(dtype);
      const memory::desc src(d.src, dt, activation_tag(s)), ddst(d.dst, dt, activation_tag(s));
      const memory::desc dweights(d.weights, memory::data_type::f32, tag::any);
      const memory::desc dbias_md = with_bias ? memory::desc(d.bias, memory::data_type::f32, tag::a) : memory::desc();
      const auto pd = with_algorithm(s, dtype, algorithm, [&](dnnl::algorithm alg) {
        dnnl::convolution_backward_weights::desc desc(alg, src, dweights, dbias_md, ddst, d.strides, d.dilates,
                                                      d.pad_l, d.pad_r);
        const auto hint = forward_pd(s, dtype, with_bias, Activation::Identity, alg);
        return dnnl::convolution_backward_weights::primitive_desc(desc, onednn::engine(), hint);
      });
      return BackwardWeights{pd, dnnl::convolution_backward_weights(pd),
                             Relayout(nhwc(d.src, dt), pd.src_desc(), false),
                             Relayout(nhwc(d.dst, dt), pd.diff_dst_desc(), false),
                             Relayout(user_weights(s, memory::data_type::f32), pd.diff_weights_desc(), true)};
    });
  });
  onednn::call("conv2d backward weights", [&] {
    Tensor keep_x, keep_dy, keep_dw;
    const memory xm = b->src.in(x, keep_x), dym = b->diff_dst.in(dy, keep_dy);
    const memory dwm = b->diff_weights.wanted_memory(dw, keep_dw);
    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_DIFF_WEIGHTS, dwm}};
    if (with_bias) args.emplace(DNNL_ARG_DIFF_BIAS, memory(b->pd.diff_bias_desc(), onednn::engine(), dbias));
    b->prim.execute(onednn::stream(), args);
    b->diff_weights.out(dwm, dw);
    onednn::stream().wait();
  });
}

}  // namespace trainer::cpu
