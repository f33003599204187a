// Our convolution kernels (conv2d_native.h: implicit GEMM on SIMT f32, TF32, f16 and bf16 tensor
// cores, and the depthwise kernels) against the CPU backend (oneDNN) on the layer kinds of ResNet
// and SSD: 1x1, 3x3 stride 1 and 2, the 7x7/2 stem, TF 'SAME' asymmetric padding, dilation, groups,
// depthwise, sizes that leave partial tiles, batch > 1, and shapes that take the split-K, the
// scalar-load and the narrow/wide tile paths. Outputs start as NaN, so an element the kernels
// forget to write fails. Tolerances: gemm_test_util.h.
#include "trainer/kernels/cuda/conv2d_native.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gemm_test_util.h"
#include "trainer/core/error.h"
#include "trainer/kernels/cpu/conv2d.h"

namespace trainer::cuda {
namespace {

using testing::Mode;

struct Case {
  const char* name;
  Conv2dShape s;
  Activation act;
  bool bias;
};

Conv2dShape conv(int64_t batch, int64_t h, int64_t w, int64_t in_c, int64_t out_c, int64_t k, int64_t stride,
                 int64_t pad, int64_t dilation = 1, int64_t groups = 1) {
  Conv2dShape s;
  s.batch = batch, s.in_h = h, s.in_w = w, s.in_c = in_c, s.out_c = out_c, s.kernel_h = s.kernel_w = k;
  s.stride_h = s.stride_w = stride, s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = pad;
  s.dilation_h = s.dilation_w = dilation, s.groups = groups;
  return s;
}
// TF 'SAME': out = ceil(in / stride), the padding's odd pixel at the bottom/right.
Conv2dShape same(Conv2dShape s) {
  auto pads = [](int64_t in, int64_t k, int64_t stride, int64_t dilation, int64_t& lo, int64_t& hi) {
    const int64_t out = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>((out - 1) * stride + dilation * (k - 1) + 1 - in, 0);
    lo = total / 2, hi = total - lo;
  };
  pads(s.in_h, s.kernel_h, s.stride_h, s.dilation_h, s.pad_top, s.pad_bottom);
  pads(s.in_w, s.kernel_w, s.stride_w, s.dilation_w, s.pad_left, s.pad_right);
  return s;
}

// Small enough for the emulator (a fiber per CUDA thread) to run each in well under a second.
const Case kCases[] = {
    {"1x1", conv(2, 7, 9, 16, 24, 1, 1, 0), Activation::Relu, true},
    {"1x1_stride2_wide", conv(2, 9, 9, 16, 72, 1, 2, 0), Activation::Identity, false},  // N > 64: 128-wide tiles
    {"3x3", conv(2, 8, 8, 8, 16, 3, 1, 1), Activation::Relu6, true},
    {"3x3_stride2_odd", conv(1, 9, 11, 12, 20, 3, 2, 1), Activation::Swish, true},       // C % 8 != 0: scalar 16-bit loads
    {"3x3_stride2_same", same(conv(2, 8, 8, 16, 32, 3, 2, 0)), Activation::Relu, true},  // pad 0 top/left, 1 bottom/right
    {"stem_7x7_stride2_same", same(conv(1, 20, 18, 3, 16, 7, 2, 0)), Activation::Relu, false},  // pad 2/3
    {"3x3_dilation2", conv(1, 12, 12, 8, 8, 3, 1, 2, 2), Activation::Sigmoid, true},
    {"3x3_stride2_dilation2", conv(1, 11, 10, 8, 8, 3, 2, 2, 2), Activation::Identity, false},  // odd phases: no taps
    {"3x3_groups2", conv(2, 6, 7, 16, 32, 3, 1, 1, 1, 2), Activation::Identity, true},
    {"3x3_groups4_multiplier2", conv(1, 6, 6, 4, 8, 3, 1, 1, 1, 4), Activation::Identity, true},  // Cg = 1, Og = 2
    {"depthwise_3x3", conv(2, 10, 10, 16, 16, 3, 1, 1, 1, 16), Activation::Relu6, true},
    {"depthwise_3x3_stride2_same_odd", same(conv(1, 9, 8, 7, 7, 3, 2, 0, 1, 7)), Activation::Identity, true},
    {"partial_tiles", conv(2, 13, 11, 24, 136, 3, 1, 1), Activation::Relu, true},   // M = 286, N = 136: 3 x 2 tiles
    {"split_k", conv(1, 3, 3, 256, 40, 3, 1, 1), Activation::Identity, true},       // M = 9, K = 2304
    {"long_pixels_split_k", conv(4, 16, 16, 8, 8, 3, 1, 1), Activation::Identity, false},  // dw: P = 1024
    {"5x3_stride_2x1_dilation_1x2", [] {
       Conv2dShape s = conv(2, 11, 10, 8, 16, 5, 2, 2);
       s.kernel_w = 3, s.stride_w = 1, s.dilation_w = 2, s.pad_left = 1, s.pad_right = 3;
       return s;
     }(),
     Activation::Relu, true},
};

int64_t x_count(const Conv2dShape& s) { return s.batch * s.in_h * s.in_w * s.in_c; }
int64_t y_count(const Conv2dShape& s) { return s.batch * s.out_h() * s.out_w() * s.out_c; }
int64_t w_count(const Conv2dShape& s) { return s.out_c * s.kernel_h * s.kernel_w * (s.in_c / s.groups); }

// Operands exact in the mode's dtype, uploaded, and the CPU backend's results on them (f32 for
// f32/tf32/f16, bf16 for bf16), with the magnitudes of every output's terms (the same
// computation in f32 on absolute values).
struct Problem {
  Mode mode;
  Conv2dShape s;
  DType cpu_dtype;
  std::vector<float> x, w, dy, bias;
  Problem(const Mode& m, const Conv2dShape& shape, uint32_t seed)
      : mode(m), s(shape), cpu_dtype(testing::cpu_dtype_for(m.dtype)) {
    x = testing::values_in(m.dtype, x_count(s), 1.f, seed);
    w = testing::values_in(m.dtype, w_count(s), 0.5f, seed + 1);
    dy = testing::values_in(m.dtype, y_count(s), 1.f, seed + 2);
    bias = testing::random_values<float>(s.out_c, 0.f, 1.f, seed + 3);
  }
  std::vector<float> cpu_forward(const std::vector<float>& xv, const std::vector<float>& wv, const float* b,
                                 Activation act, DType dt) const {
    const auto hx = testing::host_bytes(dt, xv), hw = testing::host_bytes(dt, wv);
    std::vector<uint8_t> hy(y_count(s) * dtype_size(dt));
    cpu::conv2d_forward(s, dt, hx.data(), hw.data(), b, act, hy.data(), cpu::ConvAlgorithm::Direct);
    return testing::host_floats(dt, hy);
  }
  std::vector<float> cpu_backward_data(const std::vector<float>& dyv, const std::vector<float>& wv, DType dt) const {
    const auto hdy = testing::host_bytes(dt, dyv), hw = testing::host_bytes(dt, wv);
    std::vector<uint8_t> hdx(x_count(s) * dtype_size(dt));
    cpu::conv2d_backward_data(s, dt, hdy.data(), hw.data(), hdx.data(), cpu::ConvAlgorithm::Direct);
    return testing::host_floats(dt, hdx);
  }
  std::vector<float> cpu_backward_weights(const std::vector<float>& xv, const std::vector<float>& dyv, DType dt,
                                          std::vector<float>* dbias) const {
    const auto hx = testing::host_bytes(dt, xv), hdy = testing::host_bytes(dt, dyv);
    std::vector<float> dw(w_count(s));
    dbias->resize(s.out_c);
    cpu::conv2d_backward_weights(s, dt, hx.data(), hdy.data(), dw.data(), dbias->data(), cpu::ConvAlgorithm::Direct);
    return dw;
  }
};

std::string describe(const Case& c) {
  const Conv2dShape& s = c.s;
  return std::string(c.name) + ": [" + std::to_string(s.batch) + "," + std::to_string(s.in_h) + "," +
         std::to_string(s.in_w) + "," + std::to_string(s.in_c) + "] -> " + std::to_string(s.out_c) + ", k " +
         std::to_string(s.kernel_h) + "x" + std::to_string(s.kernel_w) + ", stride " + std::to_string(s.stride_h) +
         "x" + std::to_string(s.stride_w) + ", pad " + std::to_string(s.pad_top) + "/" + std::to_string(s.pad_bottom) +
         "/" + std::to_string(s.pad_left) + "/" + std::to_string(s.pad_right) + ", groups " + std::to_string(s.groups);
}

class CudaConv2dNative : public ::testing::TestWithParam<Mode> {};

// The GPU's forward result and the comparison's tolerances.
struct ForwardRun {
  std::vector<float> actual, expected;
  std::vector<double> tol;
};
ForwardRun run_forward(const Mode& mode, const Case& c, const Conv2dShape& reference_shape) {
  Problem p(mode, c.s, 11);
  const float* host_bias = c.bias ? p.bias.data() : nullptr;
  Problem ref = p;
  ref.s = reference_shape;
  ForwardRun r;
  r.expected = testing::rounded_to(mode.dtype, ref.cpu_forward(p.x, p.w, host_bias, c.act, p.cpu_dtype));
  std::vector<float> magnitude = ref.cpu_forward(testing::abs_of(p.x), testing::abs_of(p.w), nullptr,
                                                 Activation::Identity, DType::F32);
  const int64_t terms = c.s.kernel_h * c.s.kernel_w * (c.s.in_c / c.s.groups) + (c.bias ? 1 : 0);
  for (size_t i = 0; i < magnitude.size(); ++i) {
    const double mag = magnitude[i] + (c.bias ? std::fabs(p.bias[i % c.s.out_c]) : 0.f);
    r.tol.push_back(testing::tolerance(mode, mode.dtype, terms, mag, r.expected[i]));
  }
  testing::TypedDeviceArray d_x(mode.dtype, p.x), d_w(mode.dtype, p.w);
  testing::PoisonedDeviceArray d_y(mode.dtype, y_count(c.s));
  testing::DeviceArray<float> d_bias(p.bias);
  conv2d_forward(c.s, mode.dtype, d_x.get(), d_w.get(), c.bias ? d_bias.get() : nullptr, c.act, d_y.get(), nullptr,
                 mode.options());
  r.actual = d_y.download();
  return r;
}

TEST_P(CudaConv2dNative, ForwardMatchesCpu) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(describe(c));
    const ForwardRun r = run_forward(GetParam(), c, c.s);
    EXPECT_TRUE(testing::within(r.actual, r.expected, r.tol));
  }
}

// The tolerances are tight enough to see the mistake asymmetric padding invites: the same
// convolution with the odd padding pixel on the other side (top/left instead of bottom/right).
TEST_P(CudaConv2dNative, ToleranceCatchesPaddingOnTheWrongSide) {
  for (const Case& c : kCases) {
    if (c.s.pad_top == c.s.pad_bottom && c.s.pad_left == c.s.pad_right) continue;
    SCOPED_TRACE(describe(c));
    Conv2dShape swapped = c.s;
    std::swap(swapped.pad_top, swapped.pad_bottom);
    std::swap(swapped.pad_left, swapped.pad_right);
    const ForwardRun r = run_forward(GetParam(), c, swapped);
    EXPECT_FALSE(testing::within(r.actual, r.expected, r.tol));
  }
}

TEST_P(CudaConv2dNative, BackwardDataMatchesCpu) {
  const Mode mode = GetParam();
  for (const Case& c : kCases) {
    SCOPED_TRACE(describe(c));
    Problem p(mode, c.s, 21);
    const std::vector<float> expected =
        testing::rounded_to(mode.dtype, p.cpu_backward_data(p.dy, p.w, p.cpu_dtype));
    const std::vector<float> magnitude = p.cpu_backward_data(testing::abs_of(p.dy), testing::abs_of(p.w), DType::F32);
    const int64_t terms = c.s.kernel_h * c.s.kernel_w * (c.s.out_c / c.s.groups);
    std::vector<double> tol;
    for (size_t i = 0; i < expected.size(); ++i)
      tol.push_back(testing::tolerance(mode, mode.dtype, terms, magnitude[i], expected[i]));
    testing::TypedDeviceArray d_dy(mode.dtype, p.dy), d_w(mode.dtype, p.w);
    testing::PoisonedDeviceArray d_dx(mode.dtype, x_count(c.s));
    conv2d_backward_data(c.s, mode.dtype, d_dy.get(), d_w.get(), d_dx.get(), nullptr, mode.options());
    EXPECT_TRUE(testing::within(d_dx.download(), expected, tol));
  }
}

TEST_P(CudaConv2dNative, BackwardWeightsMatchesCpu) {
  const Mode mode = GetParam();
  for (const Case& c : kCases) {
    SCOPED_TRACE(describe(c));
    Problem p(mode, c.s, 31);
    std::vector<float> dbias, unused;
    const std::vector<float> expected = p.cpu_backward_weights(p.x, p.dy, p.cpu_dtype, &dbias);
    const std::vector<float> magnitude =
        p.cpu_backward_weights(testing::abs_of(p.x), testing::abs_of(p.dy), DType::F32, &unused);
    const int64_t pixels = c.s.batch * c.s.out_h() * c.s.out_w();
    std::vector<double> tol, dbias_tol;
    for (size_t i = 0; i < expected.size(); ++i)
      tol.push_back(testing::tolerance(mode, DType::F32, pixels, magnitude[i], expected[i]));
    // dbias: column sums of dy (no products, so no tf32 term).
    std::vector<double> column_abs(c.s.out_c, 0.0);
    for (size_t i = 0; i < p.dy.size(); ++i) column_abs[i % c.s.out_c] += std::fabs(p.dy[i]);
    for (int64_t o = 0; o < c.s.out_c; ++o)
      dbias_tol.push_back(testing::tolerance(testing::kModes[0], DType::F32, pixels, column_abs[o], dbias[o]));

    testing::TypedDeviceArray d_x(mode.dtype, p.x), d_dy(mode.dtype, p.dy);
    testing::DeviceArray<float> d_dw(std::vector<float>(w_count(c.s), NAN)), d_dbias(std::vector<float>(c.s.out_c, NAN));
    conv2d_backward_weights(c.s, mode.dtype, d_x.get(), d_dy.get(), d_dw.get(), d_dbias.get(), nullptr,
                            mode.options());
    EXPECT_TRUE(testing::within(d_dw.download(), expected, tol)) << "dw";
    EXPECT_TRUE(testing::within(d_dbias.download(), dbias, dbias_tol)) << "dbias";
    // Without dbias only dw is written.
    testing::DeviceArray<float> d_dw2(std::vector<float>(w_count(c.s), NAN));
    conv2d_backward_weights(c.s, mode.dtype, d_x.get(), d_dy.get(), d_dw2.get(), nullptr, nullptr, mode.options());
    EXPECT_TRUE(testing::within(d_dw2.download(), expected, tol)) << "dw without dbias";
  }
}

// Same inputs, same bits: the split-K partials and the depthwise reductions add in a fixed order.
TEST_P(CudaConv2dNative, ResultsAreBitwiseReproducible) {
  const Mode mode = GetParam();
  for (const char* name : {"split_k", "long_pixels_split_k", "depthwise_3x3"}) {
    const Case* c = nullptr;
    for (const Case& k : kCases)
      if (std::string(k.name) == name) c = &k;
    ASSERT_NE(c, nullptr);
    SCOPED_TRACE(describe(*c));
    Problem p(mode, c->s, 41);
    testing::TypedDeviceArray d_x(mode.dtype, p.x), d_w(mode.dtype, p.w), d_dy(mode.dtype, p.dy);
    testing::TypedDeviceArray d_y(mode.dtype, y_count(c->s)), d_dx(mode.dtype, x_count(c->s));
    testing::DeviceArray<float> d_dw(w_count(c->s));
    std::vector<std::vector<float>> runs[3];
    for (int run = 0; run < 2; ++run) {
      conv2d_forward(c->s, mode.dtype, d_x.get(), d_w.get(), nullptr, Activation::Identity, d_y.get(), nullptr,
                     mode.options());
      conv2d_backward_data(c->s, mode.dtype, d_dy.get(), d_w.get(), d_dx.get(), nullptr, mode.options());
      conv2d_backward_weights(c->s, mode.dtype, d_x.get(), d_dy.get(), d_dw.get(), nullptr, nullptr, mode.options());
      runs[0].push_back(d_y.download());
      runs[1].push_back(d_dx.download());
      runs[2].push_back(d_dw.download());
    }
    for (auto& r : runs) EXPECT_TRUE(testing::all_close(r[0], r[1], 0, 0));
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, CudaConv2dNative, ::testing::ValuesIn(testing::kModes), testing::mode_name);

TEST(CudaConv2dNativeErrors, BadShapesAndDtypesAreErrorsThatSayWhy) {
  Conv2dShape s = conv(1, 8, 8, 6, 8, 3, 1, 1, 1, 4);  // 4 groups do not divide 6 channels
  try {
    conv2d_forward(s, DType::F32, nullptr, nullptr, nullptr, Activation::Identity, nullptr, nullptr);
    FAIL() << "bad groups accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("groups 4 must divide"), std::string::npos) << e.what();
  }
  s = conv(1, 8, 8, 8, 8, 3, 1, 1);
  try {
    conv2d_backward_data(s, DType::I32, nullptr, nullptr, nullptr, nullptr);
    FAIL() << "i32 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported dtype i32"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace trainer::cuda
