#include "trainer/models/backbones/efficientnet.h"

#include <cmath>

#include "trainer/ops/activation.h"
#include "trainer/ops/drop_connect.h"
#include "trainer/ops/elementwise.h"
#include "trainer/ops/part_scope.h"
#include "trainer/ops/pooling.h"
#include "trainer/ops/shape_ops.h"

namespace trainer::models {

using nn::BatchNormConfig;
using nn::Conv2d;
using nn::Conv2dConfig;
using nn::ConvBnAct;

namespace {

struct StageSpec {
  int64_t kernel, repeats, in, out, expansion, stride;
};
// EfficientNet-B0's stages (Tan & Le 2019, table 1; automl's _DEFAULT_BLOCKS_ARGS).
constexpr StageSpec kB0Stages[] = {{3, 1, 32, 16, 1, 1},  {3, 2, 16, 24, 6, 2},  {5, 2, 24, 40, 6, 2},
                                   {3, 3, 40, 80, 6, 2},  {5, 3, 80, 112, 6, 1}, {5, 4, 112, 192, 6, 2},
                                   {3, 1, 192, 320, 6, 1}};
constexpr int64_t kB0StemChannels = 32;

}  // namespace

EfficientNetConfig efficientnet_scaling(int variant) {
  // (width, depth) of B0..B7; the resolutions and dropout of the table are the detector's business.
  static constexpr double kCoefficients[8][2] = {{1.0, 1.0}, {1.0, 1.1}, {1.1, 1.2}, {1.2, 1.4},
                                                 {1.4, 1.8}, {1.6, 2.2}, {1.8, 2.6}, {2.0, 3.1}};
  TRAINER_CHECK(variant >= 0 && variant <= 7, "efficientnet-b", variant, " is not one of b0..b7");
  EfficientNetConfig c;
  c.width_coefficient = kCoefficients[variant][0];
  c.depth_coefficient = kCoefficients[variant][1];
  return c;
}

int64_t efficientnet_round_filters(int64_t channels, double width, int64_t divisor) {
  const double scaled = static_cast<double>(channels) * width;
  int64_t rounded = std::max<int64_t>(divisor, static_cast<int64_t>(scaled + divisor / 2.0) / divisor * divisor);
  if (static_cast<double>(rounded) < 0.9 * scaled) rounded += divisor;
  return rounded;
}

struct EfficientNetBackbone::Block {
  std::unique_ptr<ConvBnAct> expand, depthwise, project;
  std::unique_ptr<Conv2d> se_reduce, se_expand;
  Activation activation = Activation::Swish;
  bool residual = false;
  float drop_rate = 0;

  Tensor forward(Context& ctx, const Tensor& x) const {
    Tensor h = expand ? expand->forward(ctx, x) : x;
    h = depthwise->forward(ctx, h);
    {
      // Squeeze-excite: a per-sample channel scale from the map's mean.
      const ops::PartScope part(ctx, "squeeze-excite");
      Tensor s = ops::global_avg_pool(ctx, h);
      s = ops::reshape(ctx, s, {s.dim(0), 1, 1, s.dim(1)});
      s = ops::activation(ctx, se_reduce->forward(ctx, s), activation);
      s = ops::sigmoid(ctx, se_expand->forward(ctx, s));
      h = ops::mul(ctx, h, s);
    }
    h = project->forward(ctx, h);
    if (!residual) return h;
    return ops::add(ctx, ops::drop_connect(ctx, h, drop_rate), x);
  }
};

EfficientNetBackbone::EfficientNetBackbone(std::string name, nn::ParameterStore& store, const EfficientNetConfig& c)
    : Backbone(std::move(name)), config_(c) {
  TRAINER_CHECK(c.width_coefficient > 0 && c.depth_coefficient > 0 && c.depth_divisor > 0 && c.se_ratio > 0 &&
                    c.drop_connect_rate >= 0 && c.drop_connect_rate < 1,
                "efficientnet: invalid configuration (width ", c.width_coefficient, ", depth ", c.depth_coefficient,
                ", divisor ", c.depth_divisor, ", se_ratio ", c.se_ratio, ", drop_connect_rate ", c.drop_connect_rate,
                ")");
  auto filters = [&](int64_t ch) { return efficientnet_round_filters(ch, c.width_coefficient, c.depth_divisor); };
  auto repeats = [&](int64_t r) {
    return static_cast<int64_t>(std::ceil(c.depth_coefficient * static_cast<double>(r)));
  };
  auto conv = [&](int64_t in, int64_t out, int64_t k, int64_t stride, int64_t groups = 1, bool bias = false) {
    Conv2dConfig cc;
    cc.in_channels = in, cc.out_channels = out, cc.kernel = k, cc.stride = stride, cc.groups = groups, cc.bias = bias;
    cc.init_scale = 2.0, cc.init_fan_out = true;
    return cc;  // padding: TF 'SAME'
  };
  auto bn = [&](int64_t ch) {
    BatchNormConfig b;
    b.channels = ch, b.momentum = c.bn_momentum, b.epsilon = c.bn_epsilon;
    return b;
  };
  const int64_t stem = filters(kB0StemChannels);
  stem_ = std::make_unique<ConvBnAct>(child("stem"), store, conv(c.input_channels, stem, 3, 2), bn(stem), c.activation);

  int64_t total = 0;
  for (const StageSpec& s : kB0Stages) total += repeats(s.repeats);
  int64_t in = stem, stride_so_far = 2;
  for (size_t stage = 0; stage < std::size(kB0Stages); ++stage) {
    const StageSpec& s = kB0Stages[stage];
    const int64_t out = filters(s.out);
    for (int64_t r = 0; r < repeats(s.repeats); ++r) {
      const int64_t stride = r == 0 ? s.stride : 1, mid = in * s.expansion;
      const int64_t index = static_cast<int64_t>(blocks_.size());
      const std::string prefix = child("blocks." + std::to_string(index));
      auto block = std::make_unique<Block>();
      block->activation = c.activation;
      if (s.expansion != 1)
        block->expand = std::make_unique<ConvBnAct>(prefix + ".expand", store, conv(in, mid, 1, 1), bn(mid), c.activation);
      block->depthwise = std::make_unique<ConvBnAct>(prefix + ".depthwise", store, conv(mid, mid, s.kernel, stride, mid),
                                                     bn(mid), c.activation);
      const int64_t squeezed = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(in) * c.se_ratio));
      block->se_reduce = std::make_unique<Conv2d>(prefix + ".se.reduce", store, conv(mid, squeezed, 1, 1, 1, true));
      block->se_expand = std::make_unique<Conv2d>(prefix + ".se.expand", store, conv(squeezed, mid, 1, 1, 1, true));
      block->project = std::make_unique<ConvBnAct>(prefix + ".project", store, conv(mid, out, 1, 1), bn(out),
                                                   Activation::Identity);
      block->residual = stride == 1 && in == out;
      block->drop_rate = static_cast<float>(c.drop_connect_rate * static_cast<double>(index) / static_cast<double>(total));
      blocks_.push_back(std::move(block));
      in = out;
    }
    stride_so_far *= s.stride;
    // An endpoint per stride from 4 on: the last stage at that stride.
    const bool last_at_stride = stage + 1 == std::size(kB0Stages) || kB0Stages[stage + 1].stride != 1;
    if (stride_so_far >= 4 && last_at_stride) {
      const int level = static_cast<int>(std::log2(static_cast<double>(stride_so_far)));
      endpoints_.push_back({"C" + std::to_string(level), stride_so_far, out});
      endpoint_after_.push_back(blocks_.size() - 1);
    }
  }
}

EfficientNetBackbone::~EfficientNetBackbone() = default;

std::vector<Tensor> EfficientNetBackbone::forward(Context& ctx, const Tensor& images) const {
  TRAINER_CHECK(images.rank() == 4 && images.dim(3) == config_.input_channels, architecture(),
                ": expected images [N,H,W,", config_.input_channels, "], got ", images.describe());
  Tensor h = stem_->forward(ctx, images);
  std::vector<Tensor> out;
  size_t next = 0;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    h = blocks_[i]->forward(ctx, h);
    if (next < endpoint_after_.size() && endpoint_after_[next] == i) {
      out.push_back(h);
      ++next;
    }
  }
  return out;
}

}  // namespace trainer::models
