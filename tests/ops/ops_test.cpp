// Every op: forward against tests/ops/reference.h and gradients against finite differences,
// in f32 and bf16.
#include <gtest/gtest.h>

#include <cmath>

#include "op_harness.h"
#include "reference.h"
#include "trainer/ops/activation.h"
#include "trainer/ops/batchnorm.h"
#include "trainer/ops/conv2d.h"
#include "trainer/ops/drop_connect.h"
#include "trainer/ops/elementwise.h"
#include "trainer/ops/fusion.h"
#include "trainer/ops/linear.h"
#include "trainer/ops/loss.h"
#include "trainer/ops/mixup.h"
#include "trainer/ops/pooling.h"
#include "trainer/ops/reduce.h"
#include "trainer/ops/shape_ops.h"
#include "trainer/ops/tensor_math.h"
#include "trainer/ops/upsample.h"

namespace trainer::testing {
namespace {

InputSpec f32_param(Shape s, InputKind kind = InputKind::Uniform) {
  InputSpec spec{std::move(s), kind};
  spec.keep_f32 = true;
  return spec;
}

struct ConvCase {
  const char* name;
  Shape x, w;
  ops::Conv2dOptions options;
  ref::ConvGeom geom;
  bool bias;
};
void PrintTo(const ConvCase& c, std::ostream* os) { *os << c.name; }  // short CTest names

class Conv2dTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(Conv2dTest, ForwardAndGradients) {
  const ConvCase& p = GetParam();
  OpCase c;
  c.name = p.name;
  c.inputs = {{p.x}, f32_param(p.w)};
  if (p.bias) c.inputs.push_back(f32_param({p.w[0]}));
  c.ours = [&](Context& ctx, std::vector<Tensor>& in) {
    return ops::conv2d(ctx, in[0], in[1], p.bias ? in[2] : Tensor(), p.options);
  };
  c.reference = [&](const std::vector<DTensor>& in) {
    return ref::conv2d(in[0], in[1], p.bias ? &in[2] : nullptr, p.geom);
  };
  check_all_dtypes(c);
}

ops::Conv2dOptions conv_opts(int64_t stride, ops::Padding pad, int64_t dil = 1, int64_t groups = 1) {
  ops::Conv2dOptions o;
  o.stride_h = o.stride_w = stride;
  o.dilation_h = o.dilation_w = dil;
  o.groups = groups;
  o.padding = pad;
  return o;
}

ops::Conv2dOptions same_opts(int64_t stride, int64_t groups = 1) {
  ops::Conv2dOptions o;
  o.stride_h = o.stride_w = stride;
  o.groups = groups;
  return o;  // padding = nullopt: TF SAME
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Conv2dTest,
    ::testing::Values(
        ConvCase{"3x3 pad1", {2, 5, 6, 3}, {4, 3, 3, 3}, conv_opts(1, {1, 1, 1, 1}), {1, 1, 1, 1, 1, 1}, true},
        ConvCase{"1x1 stride2", {2, 6, 5, 4}, {3, 1, 1, 4}, conv_opts(2, {}), {2, 2}, false},
        // One image through a 1x1 stride-2 projection of 8 -> 16 channels (a ResNet of width 8 at
        // batch 1): oneDNN 2.6's jit_1x1 weight gradient crashed here.
        ConvCase{"1x1 stride2 batch1", {1, 28, 28, 8}, {16, 1, 1, 8}, conv_opts(2, {}), {2, 2}, false},
        // 1x1 convolutions: in bf16 on CPUs with native bf16 their gradients run as matmuls
        // (kernels/cpu/conv2d.cpp), with a bias through the convolution kernels.
        ConvCase{"1x1", {2, 3, 5, 6}, {5, 1, 1, 6}, conv_opts(1, {}), {1, 1}, false},
        ConvCase{"1x1 bias", {2, 3, 5, 6}, {5, 1, 1, 6}, conv_opts(1, {}), {1, 1}, true},
        ConvCase{"7x7 stride2 pad3", {1, 9, 9, 3}, {2, 7, 7, 3}, conv_opts(2, {3, 3, 3, 3}), {2, 2, 3, 3, 3, 3},
                 false},
        // TF 'SAME' with stride 2 on an even input: pads 0 before, 1 after (asymmetric).
        ConvCase{"SAME stride2 asymmetric", {1, 6, 6, 2}, {3, 3, 3, 2}, same_opts(2), {2, 2, 0, 1, 0, 1}, true},
        ConvCase{"dilation2", {1, 7, 7, 2}, {2, 3, 3, 2}, conv_opts(1, {2, 2, 2, 2}, 2), {1, 1, 2, 2, 2, 2, 2, 2},
                 false},
        ConvCase{"groups2", {1, 5, 5, 4}, {6, 3, 3, 2}, conv_opts(1, {1, 1, 1, 1}, 1, 2),
                 {1, 1, 1, 1, 1, 1, 1, 1, 2}, false},
        ConvCase{"depthwise SAME stride2", {2, 5, 5, 3}, {3, 3, 3, 1}, same_opts(2, 3), {2, 2, 1, 1, 1, 1, 1, 1, 3},
                 true},
        // Depthwise without a bias: the weight gradient by our own kernel (kernels/cpu/conv2d.cpp),
        // EfficientNet's 5x5 stride 2 with TF's asymmetric SAME padding (1 before, 2 after), and dilated.
        ConvCase{"depthwise 5x5 SAME stride2", {2, 8, 8, 5}, {5, 5, 5, 1}, same_opts(2, 5), {2, 2, 1, 2, 1, 2, 1, 1, 5},
                 false},
        ConvCase{"depthwise dilation2", {1, 7, 7, 4}, {4, 3, 3, 1}, conv_opts(1, {2, 2, 2, 2}, 2, 4),
                 {1, 1, 2, 2, 2, 2, 2, 2, 4}, false}),
    [](const auto& info) {
      std::string n = info.param.name;
      for (char& ch : n) if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

TEST(Ops, SamePaddingMatchesTensorFlow) {
  EXPECT_EQ(ops::same_padding(224, 7, 2, 1), (std::pair<int64_t, int64_t>{2, 3}));
  EXPECT_EQ(ops::same_padding(5, 3, 2, 1), (std::pair<int64_t, int64_t>{1, 1}));
  EXPECT_EQ(ops::same_padding(6, 1, 2, 1), (std::pair<int64_t, int64_t>{0, 0}));
  EXPECT_EQ(ops::same_padding(7, 3, 1, 2), (std::pair<int64_t, int64_t>{2, 2}));
}

struct BnCase {
  const char* name;
  bool training;
  bool frozen;
  Activation act;
  int ref_kind;
};
void PrintTo(const BnCase& c, std::ostream* os) { *os << c.name; }  // short CTest names

class BatchNormTest : public ::testing::TestWithParam<BnCase> {};

TEST_P(BatchNormTest, ForwardAndGradients) {
  const BnCase& p = GetParam();
  OpCase c;
  c.name = p.name;
  c.training = p.training;
  c.inputs = {{{3, 2, 3, 5}}, f32_param({5}, InputKind::Positive), f32_param({5}), f32_param({5}),
              f32_param({5}, InputKind::Positive)};
  c.inputs[3].differentiable = c.inputs[4].differentiable = false;
  const float eps = 1e-3f;
  c.ours = [&](Context& ctx, std::vector<Tensor>& in) {
    ops::BatchNormOptions o;
    o.epsilon = eps;
    o.frozen = p.frozen;
    o.activation = p.act;
    Tensor rm = in[3].clone(), rv = in[4].clone();  // the op updates running stats in place
    return ops::batch_norm(ctx, in[0], in[1], in[2], rm, rv, o);
  };
  c.reference = [&](const std::vector<DTensor>& in) {
    return ref::batchnorm(in[0], in[1], in[2], eps, p.training && !p.frozen, in[3], in[4], p.ref_kind);
  };
  c.grad_tol = 5e-3;
  check_all_dtypes(c);
}

INSTANTIATE_TEST_SUITE_P(Modes, BatchNormTest,
                         ::testing::Values(BnCase{"train", true, false, Activation::Identity, 0},
                                           BnCase{"train_relu", true, false, Activation::Relu, 1},
                                           BnCase{"train_relu6", true, false, Activation::Relu6, 2},
                                           BnCase{"train_swish", true, false, Activation::Swish, 3},
                                           BnCase{"frozen", true, true, Activation::Identity, 0},
                                           BnCase{"frozen_sigmoid", true, true, Activation::Sigmoid, 4}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Ops, BatchNormUpdatesRunningStatisticsWithUnbiasedVariance) {
  Tape tape;
  Context ctx{&tape, true};
  Tensor x = Tensor::from_floats({4, 1}, {1, 2, 3, 6});  // mean 3, biased var 3.5, unbiased 14/3
  Tensor gamma = Tensor::full({1}, 1.0, DType::F32), beta = Tensor::zeros({1}, DType::F32);
  Tensor rm = Tensor::zeros({1}, DType::F32), rv = Tensor::full({1}, 1.0, DType::F32);
  ops::BatchNormOptions o;
  o.momentum = 0.9f;
  ops::batch_norm(ctx, x, gamma, beta, rm, rv, o);
  EXPECT_NEAR(rm.item(), 0.1 * 3.0, 1e-6);
  EXPECT_NEAR(rv.item(), 0.9 + 0.1 * 14.0 / 3.0, 1e-6);
}

struct ActCase {
  const char* name;
  Activation act;
  int kind;
};
void PrintTo(const ActCase& c, std::ostream* os) { *os << c.name; }  // short CTest names
class ActivationTest : public ::testing::TestWithParam<ActCase> {};

TEST_P(ActivationTest, ForwardAndGradients) {
  const ActCase& p = GetParam();
  OpCase c;
  c.name = p.name;
  InputSpec x{{2, 3, 4, 5}, InputKind::Wide};  // wide, so relu6's upper clip is exercised too
  x.avoid = {0.0, 6.0};
  c.inputs = {x};
  c.ours = [&](Context& ctx, std::vector<Tensor>& in) { return ops::activation(ctx, in[0], p.act); };
  c.reference = [&](const std::vector<DTensor>& in) { return ref::map(in[0], p.kind); };
  check_all_dtypes(c);
}

INSTANTIATE_TEST_SUITE_P(Kinds, ActivationTest,
                         ::testing::Values(ActCase{"relu", Activation::Relu, 1}, ActCase{"relu6", Activation::Relu6, 2},
                                           ActCase{"swish", Activation::Swish, 3},
                                           ActCase{"sigmoid", Activation::Sigmoid, 4}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Ops, MaxPool3x3Stride2Pad1) {
  OpCase c{"max_pool", {{{2, 7, 6, 3}}}};
  c.ours = [](Context& ctx, std::vector<Tensor>& in) {
    return ops::max_pool2d(ctx, in[0], {3, 3, 2, 2, ops::Padding::symmetric(1)});
  };
  c.reference = [](const std::vector<DTensor>& in) { return ref::pool(in[0], 3, 2, 1, 1, 1, 1, true, false); };
  check_all_dtypes(c);
}

TEST(Ops, MaxPoolSame) {
  OpCase c{"max_pool SAME", {{{1, 6, 6, 2}}}};
  c.ours = [](Context& ctx, std::vector<Tensor>& in) { return ops::max_pool2d(ctx, in[0], {3, 3, 2, 2}); };
  c.reference = [](const std::vector<DTensor>& in) { return ref::pool(in[0], 3, 2, 0, 1, 0, 1, true, false); };
  check_all_dtypes(c);
}

TEST(Ops, AvgPoolSameExcludesPadding) {
  OpCase c{"avg_pool SAME", {{{2, 5, 5, 3}}}};
  c.ours = [](Context& ctx, std::vector<Tensor>& in) { return ops::avg_pool2d(ctx, in[0], {3, 3, 2, 2}); };
  c.reference = [](const std::vector<DTensor>& in) { return ref::pool(in[0], 3, 2, 1, 1, 1, 1, false, false); };
  check_all_dtypes(c);
}

TEST(Ops, AvgPoolCountIncludePad) {
  OpCase c{"avg_pool include_pad", {{{1, 5, 4, 2}}}};
  c.ours = [](Context& ctx, std::vector<Tensor>& in) {
    ops::Pool2dOptions o{3, 3, 2, 2, ops::Padding::symmetric(1), true};
    return ops::avg_pool2d(ctx, in[0], o);
  };
  c.reference = [](const std::vector<DTensor>& in) { return ref::pool(in[0], 3, 2, 1, 1, 1, 1, false, true); };
  check_all_dtypes(c);
}

TEST(Ops, GlobalAvgPool) {
  OpCase c{"global_avg_pool", {{{3, 4, 5, 6}}}};
  c.ours = [](Context& ctx, std::vector<Tensor>& in) { return ops::global_avg_pool(ctx, in[0]); };
  c.reference = [](const std::vector<DTensor>& in) {
    const Shape& s = in[0].shape;
    DTensor y({s[0], s[3]});
    for (int64_t n = 0; n < s[0]; ++n)
      for (int64_t p = 0; p < s[1] * s[2]; ++p)
        for (int64_t ch = 0; ch < s[3]; ++ch) y[n * s[3] + ch] += in[0][(n * s[1] * s[2] + p) * s[3] + ch] / (s[1] * s[2]);
    return y;
  };
  check_all_dtypes(c);
}

TEST(Ops, LinearWithBias) {
  OpCase c{"linear", {{{4, 7}}, f32_param({5, 7}), f32_param({5})}};
  c.ours = [](Context& ctx, std::vector<Tensor>& in) { return ops::linear(ctx, in[0], in[1], in[2]); };
  c.reference = [](const std::vector<DTensor>& in) {
    DTensor y({4, 5});
    for (int i = 0; i < 4; ++i)
      for (int o = 0; o < 5; ++o) {
        y[i * 5 + o] = in[2][o];
        for (int k = 0; k < 7; ++k) y[i * 5 + o] += in[0][i * 7 + k] * in[1][o * 7 + k];
      }
    return y;
  };
  check_all_dtypes(c);
}

TEST(Ops, Matmul) {
  OpCase c{"matmul", {{{3, 4}}, {{4, 6}}}};
  c.ours = [](Context& ctx, std::vector<Tensor>& in) { return ops::matmul(ctx, in[0], in[1]); };
  c.reference = [](const std::vector<DTensor>& in) {
    DTensor y({3, 6});
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 6; ++j)
        for (int k = 0; k < 4; ++k) y[i * 6 + j] += in[0][i * 4 + k] * in[1][k * 6 + j];
    return y;
  };
  check_all_dtypes(c);
}

// General broadcasting reference: b's shape right-aligned against a's.
DTensor broadcast_ref(const DTensor& a, const DTensor& b, int op) {
  DTensor y(a.shape);
  const int rank = static_cast<int>(a.shape.size()), brank = static_cast<int>(b.shape.size());
  for (int64_t i = 0; i < a.numel(); ++i) {
    int64_t rem = i, bi = 0, bstride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t idx = rem % a.shape[d];
      rem /= a.shape[d];
      const int bd = d - (rank - brank);
      if (bd >= 0) {
        if (b.shape[bd] != 1) bi += idx * bstride;
        bstride *= b.shape[bd];
      }
    }
    y[i] = op == 0 ? a[i] + b[bi] : op == 1 ? a[i] - b[bi] : op == 2 ? a[i] * b[bi] : std::max(a[i] + b[bi], 0.0);
  }
  return y;
}

struct BinCase {
  const char* name;
  Shape a, b;
  int op;
};
void PrintTo(const BinCase& c, std::ostream* os) { *os << c.name; }  // short CTest names
class BinaryTest : public ::testing::TestWithParam<BinCase> {};

TEST_P(BinaryTest, ForwardAndGradients) {
  const BinCase& p = GetParam();
  OpCase c{p.name, {{p.a}, {p.b}}};
  c.ours = [&](Context& ctx, std::vector<Tensor>& in) {
    return p.op == 0   ? ops::add(ctx, in[0], in[1])
           : p.op == 1 ? ops::sub(ctx, in[0], in[1])
           : p.op == 2 ? ops::mul(ctx, in[0], in[1])
                       : ops::add_relu(ctx, in[0], in[1]);
  };
  c.reference = [&](const std::vector<DTensor>& in) { return broadcast_ref(in[0], in[1], p.op); };
  check_all_dtypes(c);
}

INSTANTIATE_TEST_SUITE_P(
    Broadcasts, BinaryTest,
    ::testing::Values(BinCase{"add_same", {2, 3, 4, 5}, {2, 3, 4, 5}, 0}, BinCase{"sub_same", {2, 3, 4}, {2, 3, 4}, 1},
                      BinCase{"mul_same", {2, 3, 4}, {2, 3, 4}, 2}, BinCase{"add_channel", {2, 3, 4, 5}, {5}, 0},
                      BinCase{"mul_se_scale", {2, 3, 4, 5}, {2, 1, 1, 5}, 2}, BinCase{"sub_scalar", {2, 3}, {1}, 1},
                      BinCase{"mul_channel", {3, 4, 6}, {6}, 2}, BinCase{"add_relu_same", {2, 3, 4, 5}, {2, 3, 4, 5}, 3}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Ops, ConcatAndSliceAlongChannels) {
  OpCase c{"concat+slice", {{{2, 3, 3, 2}}, {{2, 3, 3, 4}}}};
  c.ours = [](Context& ctx, std::vector<Tensor>& in) {
    Tensor cat = ops::concat(ctx, {in[0], in[1]}, -1);
    return ops::slice(ctx, cat, 3, 1, 5);
  };
  c.reference = [](const std::vector<DTensor>& in) {
    DTensor y({2, 3, 3, 4});
    for (int64_t p = 0; p < 18; ++p)
      for (int ch = 0; ch < 4; ++ch) {
        const int src = ch + 1;
        y[p * 4 + ch] = src < 2 ? in[0][p * 2 + src] : in[1][p * 4 + src - 2];
      }
    return y;
  };
  check_all_dtypes(c);
}

// BiFPN's fast normalised fusion: y = sum relu(w_i) x_i / (sum relu(w) + eps), 2 and 3 inputs,
// weights of both signs (a negative one contributes nothing and gets no gradient).
class WeightedFusionTest : public ::testing::TestWithParam<int> {};

TEST_P(WeightedFusionTest, ForwardAndGradients) {
  const int n = GetParam();
  OpCase c{"weighted_fusion" + std::to_string(n), {}};
  for (int i = 0; i < n; ++i) c.inputs.push_back({{2, 3, 4, 5}});
  InputSpec w = f32_param({n});
  w.avoid = {0.0};
  c.inputs.push_back(w);
  c.ours = [n](Context& ctx, std::vector<Tensor>& in) {
    return ops::weighted_fusion(ctx, std::vector<Tensor>(in.begin(), in.begin() + n), in[n], 1e-4f);
  };
  c.reference = [n](const std::vector<DTensor>& in) {
    const DTensor& w = in[n];
    double sum = 1e-4;
    for (int i = 0; i < n; ++i) sum += std::max(w[i], 0.0);
    DTensor y(in[0].shape);
    for (int64_t e = 0; e < y.numel(); ++e)
      for (int i = 0; i < n; ++i) y[e] += std::max(w[i], 0.0) * in[i][e] / sum;
    return y;
  };
  check_all_dtypes(c);
}

INSTANTIATE_TEST_SUITE_P(Inputs, WeightedFusionTest, ::testing::Values(2, 3),
                         [](const auto& info) { return std::to_string(info.param) + "_inputs"; });

TEST(Ops, WeightedFusionRefusesMismatchedInputs) {
  Context ctx;
  const Device d = test_device();
  const Tensor a = Tensor::zeros({1, 2, 2, 3}, DType::F32).to(d), b = Tensor::zeros({1, 2, 2, 4}, DType::F32).to(d);
  const Tensor w = Tensor::full({2}, 1.0, DType::F32).to(d);
  EXPECT_THROW(ops::weighted_fusion(ctx, {a, b}, w), Error);
  EXPECT_THROW(ops::weighted_fusion(ctx, {a, a}, Tensor::full({3}, 1.0, DType::F32).to(d)), Error);
}

// EfficientNet's drop-connect: per sample, zero or x / survival; identity outside training.
TEST(Ops, DropConnectDropsWholeSamplesAndKeepsTheExpectation) {
  const Device d = test_device();
  const int64_t n = 4000;
  Tensor x = Tensor::full({n, 2, 2, 3}, 1.0, DType::F32).to(d);
  Philox rng(7, 0);
  Context ctx(nullptr, true);
  ctx.rng = &rng;
  const Tensor y = ops::drop_connect(ctx, x, 0.2f).to(Device::cpu());
  int64_t kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* s = y.data<float>() + i * 12;
    for (int j = 1; j < 12; ++j) ASSERT_EQ(s[j], s[0]) << "sample " << i << " is not dropped as a whole";
    ASSERT_TRUE(s[0] == 0.f || std::fabs(s[0] - 1.25f) < 1e-6f) << s[0];
    kept += s[0] != 0.f;
  }
  EXPECT_NEAR(static_cast<double>(kept) / n, 0.8, 0.03);
  Context eval;
  eval.rng = &rng;
  EXPECT_EQ(ops::drop_connect(eval, x, 0.2f).data<float>(), x.data<float>());  // inference: x itself
}

// Mixup (ops/mixup.h): each sample blended with the reversed batch by the spelled-out FMA in f32
// and rounded once to the images' dtype, the smoothed one-hots blended alike, in every dtype the
// device computes in: the same bits as this reference. Odd batch (the middle sample blends with
// itself), lambdas 0 and 1, a pair with one label.
TEST(Ops, MixupBlendsWithTheReversedBatchAndRoundsOnce) {
  const Device d = test_device();
  const int64_t n = 5, per = 12, k = 4;
  const float smoothing = 0.1f;
  Philox rng(3, 1);
  std::vector<float> pixels(n * per);
  for (float& v : pixels) v = static_cast<float>(rng.uniform(-4, 4));
  const std::vector<int32_t> y = {2, 0, 3, 0, 1};
  const std::vector<float> lam = {0.3f, 1.f, 0.625f, 0.f, 0.9f};
  std::vector<float> targets(n * k, smoothing / static_cast<float>(k));
  for (int64_t i = 0; i < n; ++i) {
    float* row = &targets[i * k];
    row[y[i]] = std::fma(lam[i], 1.f - smoothing, row[y[i]]);
    row[y[n - 1 - i]] = std::fma(1.f - lam[i], 1.f - smoothing, row[y[n - 1 - i]]);
  }
  std::vector<DType> dtypes = {DType::F32, DType::BF16};
  if (!d.is_cpu()) dtypes.push_back(DType::F16);
  for (const DType dtype : dtypes) {
    SCOPED_TRACE(dtype_name(dtype));
    const Tensor images = math::cast(Tensor::from_floats({n, 2, 2, 3}, pixels), dtype);
    const std::vector<float> x = images.to_floats();
    std::vector<float> blend(n * per);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t e = 0; e < per; ++e)
        blend[i * per + e] = std::fma(lam[i], x[i * per + e], (1.f - lam[i]) * x[(n - 1 - i) * per + e]);
    Context ctx;
    const ops::MixedBatch out = ops::mixup(ctx, images.to(d), Tensor::from_vector<int32_t>({n}, y).to(d),
                                           Tensor::from_floats({n}, lam).to(d), k, smoothing);
    ASSERT_EQ(out.images.dtype(), dtype);
    ASSERT_EQ(out.images.shape(), images.shape());
    ASSERT_EQ(out.targets.shape(), (Shape{n, k}));
    EXPECT_EQ(out.images.device(), d);
    EXPECT_EQ(out.images.to(Device::cpu()).to_floats(),
              math::cast(Tensor::from_floats(images.shape(), blend), dtype).to_floats());
    EXPECT_EQ(out.targets.to(Device::cpu()).to_floats(), targets);
  }
}

TEST(Ops, MixupRefusesMismatchedInputs) {
  const Device d = test_device();
  Context ctx;
  const Tensor images = Tensor::zeros({3, 2, 2, 1}, DType::F32).to(d);
  const Tensor labels = Tensor::zeros({3}, DType::I32).to(d), lambdas = Tensor::zeros({3}, DType::F32).to(d);
  EXPECT_NO_THROW(ops::mixup(ctx, images, labels, lambdas, 2, 0.1f));
  EXPECT_THROW(ops::mixup(ctx, images, Tensor::zeros({3}, DType::F32).to(d), lambdas, 2, 0.1f), Error);
  EXPECT_THROW(ops::mixup(ctx, images, Tensor::zeros({2}, DType::I32).to(d), lambdas, 2, 0.1f), Error);
  EXPECT_THROW(ops::mixup(ctx, images, labels, Tensor::zeros({4}, DType::F32).to(d), 2, 0.1f), Error);
  EXPECT_THROW(ops::mixup(ctx, images, labels, lambdas, 0, 0.1f), Error);
  EXPECT_THROW(ops::mixup(ctx, images, labels, lambdas, 2, 1.f), Error);
  // A label outside the classes: an Error on the CPU, a NaN target row on CUDA (cuda/mixup.h).
  if (d.is_cpu()) {
    EXPECT_THROW(ops::mixup(ctx, images, Tensor::full({3}, 2, DType::I32), lambdas, 2, 0.1f), Error);
  }
  Tape tape;
  Tensor tracked = images.clone();
  tape.track(tracked);
  EXPECT_THROW(ops::mixup(ctx, tracked, labels, lambdas, 2, 0.1f), Error);  // it has no gradient to give
}

// A depthwise-separable convolution (nn/separable_conv.h) is a depthwise 3x3 'SAME' convolution
// then a 1x1 one with a bias: both through conv2d, checked as one chain.
TEST(Ops, SeparableConvolutionChain) {
  OpCase c{"separable_conv", {{{2, 5, 5, 3}}, f32_param({3, 3, 3, 1}), f32_param({4, 1, 1, 3}), f32_param({4})}};
  c.ours = [](Context& ctx, std::vector<Tensor>& in) {
    ops::Conv2dOptions dw;
    dw.groups = 3;  // padding: TF 'SAME'
    const Tensor h = ops::conv2d(ctx, in[0], in[1], Tensor(), dw);
    return ops::conv2d(ctx, h, in[2], in[3], ops::Conv2dOptions{});
  };
  c.reference = [](const std::vector<DTensor>& in) {
    const DTensor &x = in[0], &dw = in[1], &pw = in[2], &b = in[3];
    DTensor h(x.shape);
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t y = 0; y < 5; ++y)
        for (int64_t xx = 0; xx < 5; ++xx)
          for (int64_t ch = 0; ch < 3; ++ch) {
            double acc = 0;
            for (int64_t i = 0; i < 3; ++i)
              for (int64_t j = 0; j < 3; ++j) {
                const int64_t sy = y + i - 1, sx = xx + j - 1;
                if (sy < 0 || sy >= 5 || sx < 0 || sx >= 5) continue;
                acc += x[((n * 5 + sy) * 5 + sx) * 3 + ch] * dw[(ch * 3 + i) * 3 + j];
              }
            h[((n * 5 + y) * 5 + xx) * 3 + ch] = acc;
          }
    DTensor out({2, 5, 5, 4});
    for (int64_t p = 0; p < 50; ++p)
      for (int64_t o = 0; o < 4; ++o) {
        double acc = b[o];
        for (int64_t ch = 0; ch < 3; ++ch) acc += h[p * 3 + ch] * pw[o * 3 + ch];
        out[p * 4 + o] = acc;
      }
    return out;
  };
  check_all_dtypes(c);
}

TEST(Ops, UpsampleNearest2x) {
  OpCase c{"upsample", {{{2, 3, 2, 3}}}};
  c.ours = [](Context& ctx, std::vector<Tensor>& in) { return ops::upsample_nearest2x(ctx, in[0]); };
  c.reference = [](const std::vector<DTensor>& in) {
    DTensor y({2, 6, 4, 3});
    for (int n = 0; n < 2; ++n)
      for (int h = 0; h < 6; ++h)
        for (int w = 0; w < 4; ++w)
          for (int ch = 0; ch < 3; ++ch) y[ref::at4(y.shape, n, h, w, ch)] = in[0][ref::at4(in[0].shape, n, h / 2, w / 2, ch)];
    return y;
  };
  check_all_dtypes(c);
}

DTensor cross_entropy_ref(const DTensor& z, const DTensor& labels, double s) {
  const int64_t n = z.shape[0], k = z.shape[1];
  DTensor y(Shape{});
  for (int64_t i = 0; i < n; ++i) {
    double mx = -1e300, denom = 0;
    for (int64_t j = 0; j < k; ++j) mx = std::max(mx, z[i * k + j]);
    for (int64_t j = 0; j < k; ++j) denom += std::exp(z[i * k + j] - mx);
    for (int64_t j = 0; j < k; ++j) {
      const double t = (j == static_cast<int64_t>(labels[i]) ? 1 - s : 0) + s / k;
      y[0] -= t * (z[i * k + j] - mx - std::log(denom)) / n;
    }
  }
  return y;
}

TEST(Ops, SoftmaxCrossEntropyWithLabelSmoothing) {
  InputSpec labels{{5}, InputKind::Labels, false, 7};
  OpCase c{"softmax_ce", {{{5, 7}}, labels}};
  c.ours = [](Context& ctx, std::vector<Tensor>& in) {
    return ops::softmax_cross_entropy(ctx, ops::scale(ctx, in[0], 3.f), in[1], 0.1f);
  };
  c.reference = [](const std::vector<DTensor>& in) {
    DTensor z = in[0];
    for (double& v : z.v) v *= 3;
    return cross_entropy_ref(z, in[1], 0.1);
  };
  check_all_dtypes(c);
}

TEST(Ops, SoftmaxCrossEntropyRejectsOutOfRangeLabels) {
  Context ctx;
  try {
    ops::softmax_cross_entropy(ctx, Tensor::zeros({2, 3}, DType::F32), Tensor::from_vector<int32_t>({2}, {1, 3}), 0);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("label 3 of sample 1 is outside [0, 3)"), std::string::npos) << e.what();
  }
}

TEST(Ops, SumAndMean) {
  OpCase c{"sum+mean", {{{3, 4, 5}}}};
  c.ours = [](Context& ctx, std::vector<Tensor>& in) {
    return ops::add(ctx, ops::sum(ctx, in[0]), ops::scale(ctx, ops::mean(ctx, in[0]), 2.f));
  };
  c.reference = [](const std::vector<DTensor>& in) {
    DTensor y(Shape{});
    for (double v : in[0].v) y[0] += v + 2 * v / in[0].numel();
    return y;
  };
  check_all_dtypes(c);
}

TEST(Ops, TapeSumsGradientsOfAReusedTensor) {
  // y = x*x + x: the DAG case (a shortcut) — x feeds three uses.
  OpCase c{"dag", {{{3, 4}}}};
  c.ours = [](Context& ctx, std::vector<Tensor>& in) { return ops::add(ctx, ops::mul(ctx, in[0], in[0]), in[0]); };
  c.reference = [](const std::vector<DTensor>& in) {
    DTensor y(in[0].shape);
    for (int64_t i = 0; i < y.numel(); ++i) y[i] = in[0][i] * in[0][i] + in[0][i];
    return y;
  };
  check_all_dtypes(c);
}

TEST(Ops, ConvShapeErrorsNameTheTensors) {
  Context ctx;
  try {
    ops::conv2d(ctx, Tensor::zeros({1, 5, 5, 3}, DType::F32), Tensor::zeros({4, 3, 3, 2}, DType::F32), Tensor(), {});
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input f32[1,5,5,3] has 3 channels but weight f32[4,3,3,2]"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace trainer::testing

namespace trainer::testing {
namespace {

// Batch statistics must not cancel catastrophically when a channel's mean dwarfs its spread.
TEST(Ops, BatchNormStatisticsWithALargeMean) {
  const int64_t rows = 4096;
  std::vector<float> v(rows);
  Philox rng(5, 0);
  for (float& x : v) x = 1000.f + rng.normal();
  double m = 0, var = 0;
  for (float x : v) m += x;
  m /= rows;
  for (float x : v) var += (x - m) * (x - m);
  var /= rows;
  Tape tape;
  Context ctx{&tape, true};
  Tensor gamma = Tensor::full({1}, 1.0, DType::F32), beta = Tensor::zeros({1}, DType::F32);
  Tensor rm = Tensor::zeros({1}, DType::F32), rv = Tensor::zeros({1}, DType::F32);
  ops::BatchNormOptions o;
  o.momentum = 0.f;  // running stats = this batch's (unbiased) statistics
  ops::batch_norm(ctx, Tensor::from_floats({rows, 1}, v), gamma, beta, rm, rv, o);
  EXPECT_NEAR(rm.item(), m, 1e-4);
  EXPECT_NEAR(rv.item(), var * rows / (rows - 1), 1e-3 * var);
}

}  // namespace
}  // namespace trainer::testing
