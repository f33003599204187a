// Convolution weight gradient as an implicit GEMM over the output pixels (conv_gemm.cuh), split-K
// when the weight tensor gives too few tiles; the bias gradient is bias.h's column sum. Depthwise
// layers go to conv2d_depthwise.cu. Design and costs: include/trainer/kernels/cuda/conv2d_native.h.
#include <type_traits>

#include "conv_gemm.cuh"
#include "elementwise.cuh"
#include "gemm_core.cuh"
#include "trainer/core/error.h"
#include "trainer/kernels/cuda/bias.h"
#include "trainer/kernels/cuda/conv2d_native.h"

namespace trainer::cuda {
namespace {

using conv::ConvGeom;

template <class T>
void backward_weights_typed(const ConvGeom& g, const T* x, const T* dy, float* dw, float* dbias, Stream stream,
                            const GemmOptions& options) {
  if (conv::is_depthwise(g)) {
    conv::depthwise_backward_weights<T>(g, x, dy, dw, stream);
  } else {
    using D = device_t<T>;
    constexpr int kVec = 16 / static_cast<int>(sizeof(T));
    // A vectors run along c inside one tap (x rows), B vectors along o (dY rows).
    const bool vec = g.cg % kVec == 0 && g.og % kVec == 0 && gemm::aligned16(x) && gemm::aligned16(dy);
    const conv::BackwardWeights<D> problem{g, device_ptr(x), device_ptr(dy)};
    const gemm::Extents ext{int64_t{g.kh} * g.kw * g.cg, g.og, g.pixels_out(), g.groups};
    gemm::check_extents(ext, "conv2d_backward_weights");
    gemm::Output out;
    out.data = dw;
    out.type = gemm::OutType::F32;
    out.bias_period = ext.m;
    out.vector_ok = gemm::aligned16(dw);
    out.total = int64_t{g.o} * ext.m;
    gemm::run_gemm(problem, ext, out, !std::is_same_v<T, float> || options.allow_tf32, vec, stream);
  }
  if (dbias) bias_backward<T>(dy, g.pixels_out(), g.o, dbias, stream);
}

}  // namespace

void conv2d_backward_weights(const Conv2dShape& s, DType dtype, const void* x, const void* dy, float* dw,
                             float* dbias, Stream stream, const GemmOptions& options) {
  const conv::ConvGeom g = conv::geometry_of(s, "conv2d_backward_weights");
  auto run = [&](auto tag) {
    using T = decltype(tag);
    backward_weights_typed<T>(g, static_cast<const T*>(x), static_cast<const T*>(dy), dw, dbias, stream, options);
  };
  switch (dtype) {
    case DType::F32: return run(float{});
    case DType::F16: return run(float16{});
    case DType::BF16: return run(bfloat16{});
    default: fail("conv2d_backward_weights: unsupported dtype ", dtype_name(dtype), " (f32, f16 or bf16)");
  }
}

}  // namespace trainer::cuda
