// Convolution forward and data gradient as implicit GEMMs (conv_gemm.cuh on gemm_core.cuh);
// depthwise layers go to conv2d_depthwise.cu. Design and costs: include/trainer/kernels/cuda/conv2d_native.h.
#include <type_traits>

#include "conv_gemm.cuh"
#include "elementwise.cuh"
#include "gemm_core.cuh"
#include "trainer/core/error.h"
#include "trainer/kernels/cuda/conv2d_native.h"

namespace trainer::cuda {
namespace {

using conv::ConvGeom;

template <class T>
constexpr int kVec = 16 / static_cast<int>(sizeof(T));

template <class T>
void forward_typed(const ConvGeom& g, const T* x, const T* w, const float* bias, Activation act, T* y,
                   Stream stream, const GemmOptions& options) {
  if (conv::is_depthwise(g)) return conv::depthwise_forward<T>(g, x, w, bias, act, y, stream);
  using D = device_t<T>;
  // 16-byte loads: a vector of channels never crosses a tap (A) and weight rows stay aligned (B).
  const bool vec = g.cg % kVec<T> == 0 && gemm::aligned16(x) && gemm::aligned16(w);
  const conv::Forward<D> problem{g, device_ptr(x), device_ptr(w)};
  const gemm::Extents ext{g.pixels_out(), g.og, int64_t{g.kh} * g.kw * g.cg, g.groups};
  gemm::check_extents(ext, "conv2d_forward");
  gemm::Output out;
  out.data = y;
  out.type = gemm::out_type_of<T>();
  out.bias = bias;
  out.bias_period = g.o;
  out.act = act;
  out.vector_ok = gemm::aligned16(y);
  out.total = g.pixels_out() * g.o;
  gemm::run_gemm(problem, ext, out, !std::is_same_v<T, float> || options.allow_tf32, vec, stream);
}

template <class T>
void backward_data_typed(const ConvGeom& g, const T* dy, const T* w, T* dx, Stream stream,
                         const GemmOptions& options) {
  if (conv::is_depthwise(g)) return conv::depthwise_backward_data<T>(g, dy, w, dx, stream);
  using D = device_t<T>;
  // A vectors run along o inside one tap (dY rows), B vectors along c (weight rows).
  const bool vec = g.og % kVec<T> == 0 && g.cg % kVec<T> == 0 && gemm::aligned16(dy) && gemm::aligned16(w);
  const conv::BackwardData<D> problem{g, device_ptr(dy), device_ptr(w)};
  // Phase 0 has the most pixels and taps; every phase's extents are at most these.
  const conv::Phase p0 = conv::phase_of(g, 0);
  const gemm::Extents ext{int64_t{g.n} * p0.hp * p0.wp, g.cg, int64_t{g.kh} * g.kw * g.og,
                          int64_t{g.groups} * g.sh * g.sw};
  gemm::check_extents(ext, "conv2d_backward_data");
  gemm::Output out;
  out.data = dx;
  out.type = gemm::out_type_of<T>();
  out.bias_period = g.c;
  out.vector_ok = gemm::aligned16(dx);
  out.total = g.pixels_in() * g.c;
  gemm::run_gemm(problem, ext, out, !std::is_same_v<T, float> || options.allow_tf32, vec, stream);
}

template <class F>
void dispatch_float(DType dtype, const char* what, F&& f) {
  switch (dtype) {
    case DType::F32: return f(float{});
    case DType::F16: return f(float16{});
    case DType::BF16: return f(bfloat16{});
    default: fail(what, ": unsupported dtype ", dtype_name(dtype), " (f32, f16 or bf16)");
  }
}

}  // namespace

void conv2d_forward(const Conv2dShape& s, DType dtype, const void* x, const void* w, const float* bias,
                    Activation act, void* y, Stream stream, const GemmOptions& options) {
  const ConvGeom g = conv::geometry_of(s, "conv2d_forward");
  dispatch_float(dtype, "conv2d_forward", [&](auto tag) {
    using T = decltype(tag);
    forward_typed<T>(g, static_cast<const T*>(x), static_cast<const T*>(w), bias, act, static_cast<T*>(y), stream,
                     options);
  });
}

void conv2d_backward_data(const Conv2dShape& s, DType dtype, const void* dy, const void* w, void* dx, Stream stream,
                          const GemmOptions& options) {
  const ConvGeom g = conv::geometry_of(s, "conv2d_backward_data");
  dispatch_float(dtype, "conv2d_backward_data", [&](auto tag) {
    using T = decltype(tag);
    backward_data_typed<T>(g, static_cast<const T*>(dy), static_cast<const T*>(w), static_cast<T*>(dx), stream,
                           options);
  });
}

}  // namespace trainer::cuda
