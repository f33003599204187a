// cuDNN convolutions (forward with bias + activation, backward data, backward weights + bias)
// against the CPU backend (oneDNN) on the kinds of layer the models use. GPU only.
#include "trainer/kernels/cuda/conv2d.h"

#include <gtest/gtest.h>

#include "gpu_test_util.h"
#include "trainer/core/error.h"
#include "trainer/kernels/cpu/conv2d.h"

namespace trainer::cuda {
namespace {

using testing::all_close;

cpu::Conv2dShape conv(int64_t batch, int64_t h, int64_t w, int64_t in_c, int64_t out_c, int64_t k, int64_t stride,
                      int64_t pad, int64_t dilation = 1, int64_t groups = 1) {
  cpu::Conv2dShape s;
  s.batch = batch, s.in_h = h, s.in_w = w, s.in_c = in_c, s.out_c = out_c, s.kernel_h = k, s.kernel_w = k;
  s.stride_h = s.stride_w = stride, s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = pad;
  s.dilation_h = s.dilation_w = dilation, s.groups = groups;
  return s;
}

const cpu::Conv2dShape kShapes[] = {
    conv(2, 7, 9, 16, 24, 1, 1, 0),          // 1x1 (bottleneck projection)
    conv(2, 8, 8, 8, 16, 3, 1, 1),           // 3x3
    conv(1, 9, 11, 12, 20, 3, 2, 1),         // strided, odd sizes
    conv(2, 10, 10, 16, 16, 3, 1, 1, 1, 16), // depthwise
    conv(1, 12, 12, 4, 8, 3, 1, 2, 2),       // dilated
};

struct Tolerance {
  double rel_rms, rtol;  // atol = rel_rms * rms(expected)
};
// f32 without TF32: the same sums in another order, or transformed (Winograd, FFT). 16-bit: rounding of the output (twice on
// the GPU when an epilogue follows) and, for dw, of the gradient before widening.
Tolerance tolerance(DType dtype) {
  switch (dtype) {
    case DType::BF16: return {2e-2, 2e-2};
    case DType::F16: return {4e-3, 4e-3};
    default: return {1e-4, 1e-4};  // Winograd and FFT algorithms are a little less exact
  }
}

class CudaConv2d : public ::testing::TestWithParam<DType> {};

TEST_P(CudaConv2d, ForwardAndBackwardMatchCpu) {
  const DType dtype = GetParam(), cpu_dtype = testing::cpu_dtype_for(dtype);
  const Tolerance tol = tolerance(dtype);
  StreamContext ctx(nullptr, LibraryOptions{.allow_tf32 = false});
  for (const cpu::Conv2dShape& s : kShapes) {
    SCOPED_TRACE(std::string(dtype_name(dtype)) + " in_c=" + std::to_string(s.in_c) + " k=" +
                 std::to_string(s.kernel_h) + " stride=" + std::to_string(s.stride_h) + " groups=" +
                 std::to_string(s.groups));
    const int64_t nx = s.batch * s.in_h * s.in_w * s.in_c, ny = s.batch * s.out_h() * s.out_w() * s.out_c,
                  nw = s.out_c * s.kernel_h * s.kernel_w * (s.in_c / s.groups);
    const auto x = testing::values_in(dtype, nx, 1.f, 1), w = testing::values_in(dtype, nw, 0.3f, 2),
               dy = testing::values_in(dtype, ny, 1.f, 3);
    const auto bias = testing::random_values<float>(s.out_c, 0.f, 1.f, 4);
    testing::TypedDeviceArray d_x(dtype, x), d_w(dtype, w), d_dy(dtype, dy), d_y(dtype, ny), d_dx(dtype, nx);
    testing::DeviceArray<float> d_bias(bias), d_dw(nw), d_dbias(s.out_c);

    // CPU reference on the same values.
    const auto hx = testing::host_bytes(cpu_dtype, x), hw = testing::host_bytes(cpu_dtype, w),
               hdy = testing::host_bytes(cpu_dtype, dy);
    std::vector<uint8_t> hy(ny * dtype_size(cpu_dtype)), hdx(nx * dtype_size(cpu_dtype));
    std::vector<float> dw(nw), dbias(s.out_c);
    cpu::conv2d_forward(s, cpu_dtype, hx.data(), hw.data(), bias.data(), Activation::Relu, hy.data(), cpu::ConvAlgorithm::Direct);
    cpu::conv2d_backward_data(s, cpu_dtype, hdy.data(), hw.data(), hdx.data(), cpu::ConvAlgorithm::Direct);
    cpu::conv2d_backward_weights(s, cpu_dtype, hx.data(), hdy.data(), dw.data(), dbias.data(), cpu::ConvAlgorithm::Direct);
    const auto y = testing::rounded_to(dtype, testing::host_floats(cpu_dtype, hy));
    const auto dx = testing::rounded_to(dtype, testing::host_floats(cpu_dtype, hdx));

    conv2d_forward(ctx, s, dtype, d_x.get(), d_w.get(), d_bias.get(), Activation::Relu, d_y.get());
    conv2d_backward_data(ctx, s, dtype, d_dy.get(), d_w.get(), d_dx.get());
    conv2d_backward_weights(ctx, s, dtype, d_x.get(), d_dy.get(), d_dw.get(), d_dbias.get());
    EXPECT_TRUE(all_close(d_y.download(), y, tol.rel_rms * testing::rms(y), tol.rtol)) << "forward";
    EXPECT_TRUE(all_close(d_dx.download(), dx, tol.rel_rms * testing::rms(dx), tol.rtol)) << "backward data";
    EXPECT_TRUE(all_close(d_dw.download(), dw, tol.rel_rms * testing::rms(dw), tol.rtol)) << "backward weights";
    EXPECT_TRUE(all_close(d_dbias.download(), dbias, tol.rel_rms * testing::rms(dbias), tol.rtol)) << "dbias";
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaConv2d, ::testing::Values(DType::F32, DType::F16, DType::BF16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(CudaConv2dLimits, AsymmetricPaddingIsAnErrorThatSaysWhatToDo) {
  StreamContext ctx;
  cpu::Conv2dShape s = conv(1, 8, 8, 4, 4, 3, 2, 0);
  s.pad_bottom = s.pad_right = 1;  // TF 'SAME' for a stride-2 3x3 on an even input
  try {
    conv2d_forward(ctx, s, DType::F32, nullptr, nullptr, nullptr, Activation::Identity, nullptr);
    FAIL() << "asymmetric padding was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pad the input explicitly"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace trainer::cuda
