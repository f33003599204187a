#include "trainer/models/backbones/resnet.h"

#include "trainer/ops/elementwise.h"
#include "trainer/ops/pooling.h"

namespace trainer::models {

using nn::BatchNormConfig;
using nn::Conv2dConfig;
using nn::ConvBnAct;
using Variant = ResNetConfig::Variant;

struct ResNetBackbone::Unit {
  std::vector<std::unique_ptr<ConvBnAct>> path;  // the last one has no activation
  std::unique_ptr<ConvBnAct> shortcut;           // projection, or null for identity

  Tensor forward(Context& ctx, const Tensor& x) const {
    Tensor h = x;
    for (const auto& layer : path) h = layer->forward(ctx, h);
    const Tensor s = shortcut ? shortcut->forward(ctx, x) : x;
    return ops::add_relu(ctx, h, s);
  }
};

namespace {

std::vector<int> stage_layout(const ResNetConfig& c, bool& bottleneck) {
  bottleneck = c.depth >= 50 || !c.blocks_per_stage.empty();
  if (!c.blocks_per_stage.empty()) return c.blocks_per_stage;
  switch (c.depth) {
    case 18: return {2, 2, 2, 2};
    case 34: return {3, 4, 6, 3};
    case 50: return {3, 4, 6, 3};
    case 101: return {3, 4, 23, 3};
    case 152: return {3, 8, 36, 3};
  }
  fail("resnet depth ", c.depth, " is not one of 18, 34, 50, 101, 152 (or set blocks_per_stage)");
}

const char* variant_suffix(Variant v) {
  switch (v) {
    case Variant::V1_5: return "_v1.5";
    case Variant::V1: return "_v1";
    case Variant::SLIM_V1: return "_v1_slim";
  }
  return "";
}

}  // namespace

ResNetBackbone::ResNetBackbone(std::string name, nn::ParameterStore& store, const ResNetConfig& c)
    : Backbone(std::move(name)), config_(c) {
  bool bottleneck = false;
  const std::vector<int> layout = stage_layout(c, bottleneck);
  TRAINER_CHECK(c.variant != Variant::SLIM_V1 || bottleneck, "resnet", c.depth,
                ": the TF-slim layout (SLIM_V1) has bottleneck units only (depth 50, 101 or 152)");
  architecture_ = "resnet" + (c.blocks_per_stage.empty() ? std::to_string(c.depth) : std::string("_custom")) +
                  variant_suffix(c.variant);
  const bool slim = c.variant == Variant::SLIM_V1;
  auto conv = [&](int64_t in, int64_t out, int64_t k, int64_t stride) {
    Conv2dConfig cc;
    cc.in_channels = in, cc.out_channels = out, cc.kernel = k, cc.stride = stride;
    cc.init_scale = c.init_scale, cc.init_fan_out = c.init_fan_out, cc.weight_init = c.conv_init;
    return cc;  // padding: TF 'SAME'
  };
  auto bn = [&](int64_t ch) {
    BatchNormConfig b;
    b.channels = ch, b.momentum = c.bn_momentum, b.epsilon = c.bn_epsilon;
    return b;
  };
  Conv2dConfig stem = conv(c.input_channels, c.width, c.small_image_stem ? 3 : 7, c.small_image_stem ? 1 : 2);
  if (slim && !c.small_image_stem) stem.padding = ops::Padding::symmetric(3);  // slim's conv2d_same
  stem_ = std::make_unique<ConvBnAct>(child("conv1"), store, stem, bn(c.width), c.activation);

  const int64_t expansion = bottleneck ? 4 : 1;
  int64_t in = c.width;
  int64_t stride_so_far = c.small_image_stem ? 1 : 4;
  for (size_t stage = 0; stage < layout.size(); ++stage) {
    const int64_t width = c.width << stage;
    // v1/v1.5: stages 2..4 halve the resolution in their first unit. slim: blocks 1..3 halve it
    // after their last unit (the decimation below), block 4 keeps it.
    const int64_t stage_stride = slim ? (stage + 1 < layout.size() ? 2 : 1) : (stage > 0 ? 2 : 1);
    std::vector<std::unique_ptr<Unit>> units;
    for (int i = 0; i < layout[stage]; ++i) {
      const int64_t stride = !slim && i == 0 ? stage_stride : 1;
      const std::string prefix = child("layer" + std::to_string(stage + 1) + "." + std::to_string(i));
      auto unit = std::make_unique<Unit>();
      auto add = [&](const std::string& n, const Conv2dConfig& cc, Activation act) {
        unit->path.push_back(std::make_unique<ConvBnAct>(prefix + "." + n, store, cc, bn(cc.out_channels), act));
      };
      if (bottleneck) {
        const bool stride_in_3x3 = c.variant == Variant::V1_5;
        add("conv1", conv(in, width, 1, stride_in_3x3 ? 1 : stride), c.activation);
        add("conv2", conv(width, width, 3, stride_in_3x3 ? stride : 1), c.activation);
        add("conv3", conv(width, width * expansion, 1, 1), Activation::Identity);
      } else {
        add("conv1", conv(in, width, 3, stride), c.activation);
        add("conv2", conv(width, width, 3, 1), Activation::Identity);
      }
      if (stride != 1 || in != width * expansion)
        unit->shortcut = std::make_unique<ConvBnAct>(prefix + ".shortcut", store, conv(in, width * expansion, 1, stride),
                                                     bn(width * expansion), Activation::Identity);
      units.push_back(std::move(unit));
      in = width * expansion;
    }
    stages_.push_back(std::move(units));
    if (!slim) stride_so_far *= stage_stride;
    endpoints_.push_back({"C" + std::to_string(stage + 2), stride_so_far, in});
    decimation_.push_back(slim ? stage_stride : 1);
    if (slim) stride_so_far *= stage_stride;
  }
}

ResNetBackbone::~ResNetBackbone() = default;

std::vector<Tensor> ResNetBackbone::forward(Context& ctx, const Tensor& images) const {
  TRAINER_CHECK(images.rank() == 4 && images.dim(3) == config_.input_channels, architecture_,
                ": expected images [N,H,W,", config_.input_channels, "], got ", images.describe());
  Tensor h = stem_->forward(ctx, images);
  if (!config_.small_image_stem) h = ops::max_pool2d(ctx, h, {3, 3, 2, 2});  // 3x3/2 'SAME'
  std::vector<Tensor> out;
  for (size_t stage = 0; stage < stages_.size(); ++stage) {
    for (const auto& unit : stages_[stage]) h = unit->forward(ctx, h);
    out.push_back(h);
    // slim's subsample: a 1x1 max-pool with the stride keeps every other row and column.
    if (decimation_[stage] > 1)
      h = ops::max_pool2d(ctx, h, {1, 1, decimation_[stage], decimation_[stage], ops::Padding{}});
  }
  return out;
}

size_t Backbone::endpoint_index(const std::string& name) const {
  std::string known;
  for (size_t i = 0; i < endpoints().size(); ++i) {
    if (endpoints()[i].name == name) return i;
    known += (i ? ", " : "") + endpoints()[i].name;
  }
  fail(architecture(), " has no endpoint ", name, " (it has ", known, ")");
}

}  // namespace trainer::models
