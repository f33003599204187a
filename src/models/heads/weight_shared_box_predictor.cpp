#include "trainer/models/heads/weight_shared_box_predictor.h"

#include "trainer/nn/separable_conv.h"
#include "trainer/ops/shape_ops.h"

namespace trainer::models {

// num_layers shared convolutions (plain or separable), and per level and layer a module that
// applies the shared convolution with its own batchnorm and activation.
struct WeightSharedBoxPredictor::Tower {
  std::vector<std::unique_ptr<nn::Conv2d>> convs;                  // [layer], plain
  std::vector<std::unique_ptr<nn::SeparableConv2d>> separable;     // [layer], use_depthwise
  std::vector<std::vector<std::unique_ptr<nn::Layer>>> levels;    // [level][layer]

  Tensor forward(Context& ctx, Tensor x, size_t level) const {
    for (const auto& layer : levels[level]) x = layer->forward(ctx, x);
    return x;
  }
};

// The prediction convolution: plain or separable, with a bias.
struct WeightSharedBoxPredictor::Head {
  std::unique_ptr<nn::Conv2d> plain;
  std::unique_ptr<nn::SeparableConv2d> separable;
  int64_t per_anchor = 0;

  // [N, H, W, anchors * per_anchor] as [N, H * W * anchors, per_anchor].
  Tensor forward(Context& ctx, const Tensor& x) const {
    const Tensor y = plain ? plain->forward(ctx, x) : separable->forward(ctx, x);
    return ops::reshape(ctx, y, {y.dim(0), -1, per_anchor});
  }
};

WeightSharedBoxPredictor::WeightSharedBoxPredictor(std::string name, nn::ParameterStore& store,
                                                   const BoxPredictorConfig& c)
    : nn::Module(std::move(name)), config_(c) {
  TRAINER_CHECK(c.num_levels > 0 && c.num_layers >= 0 && c.anchors_per_location > 0 && c.num_class_slots > 0,
                "box predictor ", this->name(), ": invalid configuration");
  auto conv = [&](int64_t in, int64_t out, bool bias) {
    nn::Conv2dConfig cc;
    cc.in_channels = in, cc.out_channels = out, cc.kernel = c.kernel, cc.bias = bias;
    cc.weight_init = c.conv_init;
    return cc;
  };
  auto separable = [&](int64_t in, int64_t out, bool bias) {
    nn::SeparableConv2dConfig sc;
    sc.in_channels = in, sc.out_channels = out, sc.kernel = c.kernel, sc.bias = bias;
    sc.depthwise_init = sc.pointwise_init = c.conv_init;
    return sc;
  };
  nn::BatchNormConfig bn;
  bn.channels = c.depth, bn.momentum = c.bn_momentum, bn.epsilon = c.bn_epsilon;
  auto tower = [&](const std::string& tower_name) {
    auto t = std::make_unique<Tower>();
    for (int i = 0; i < c.num_layers; ++i) {
      const std::string layer = child(tower_name + ".conv" + std::to_string(i));
      const int64_t in = i == 0 ? c.in_channels : c.depth;
      if (c.use_depthwise)
        t->separable.push_back(std::make_unique<nn::SeparableConv2d>(layer, store, separable(in, c.depth, c.conv_bias)));
      else
        t->convs.push_back(std::make_unique<nn::Conv2d>(layer, store, conv(in, c.depth, c.conv_bias)));
    }
    t->levels.resize(c.num_levels);
    for (int level = 0; level < c.num_levels; ++level)
      for (int i = 0; i < c.num_layers; ++i) {
        const std::string n = child(tower_name + ".conv" + std::to_string(i) + ".level" + std::to_string(level));
        if (c.use_depthwise)
          t->levels[level].push_back(
              std::make_unique<nn::SeparableConvBnAct>(n, store, *t->separable[i], bn, c.tower_activation));
        else
          t->levels[level].push_back(std::make_unique<nn::ConvBnAct>(n, store, *t->convs[i], bn, c.tower_activation));
      }
    return t;
  };
  box_tower_ = tower("box_tower");
  if (!c.share_prediction_tower) class_tower_ = tower("class_tower");
  const int64_t head_in = c.num_layers > 0 ? c.depth : c.in_channels;
  auto head = [&](const std::string& head_name, int64_t per_anchor, nn::Init bias_init) {
    auto h = std::make_unique<Head>();
    h->per_anchor = per_anchor;
    const int64_t out = c.anchors_per_location * per_anchor;
    if (c.use_depthwise) {
      nn::SeparableConv2dConfig sc = separable(head_in, out, true);
      sc.bias_init = bias_init;
      h->separable = std::make_unique<nn::SeparableConv2d>(child(head_name), store, sc);
    } else {
      nn::Conv2dConfig cc = conv(head_in, out, true);
      cc.bias_init = bias_init;
      h->plain = std::make_unique<nn::Conv2d>(child(head_name), store, cc);
    }
    return h;
  };
  box_head_ = head("box_head", c.box_code_size, nn::Init::zeros());
  class_head_ = head("class_head", c.num_class_slots, nn::Init::constant(c.class_bias_init));
}

WeightSharedBoxPredictor::~WeightSharedBoxPredictor() = default;

WeightSharedBoxPredictor::Output WeightSharedBoxPredictor::forward(Context& ctx,
                                                                   const std::vector<Tensor>& levels) const {
  TRAINER_CHECK(static_cast<int>(levels.size()) == config_.num_levels, "box predictor ", name(), ": ",
                levels.size(), " feature maps for ", config_.num_levels, " levels");
  std::vector<Tensor> boxes, classes;
  for (size_t level = 0; level < levels.size(); ++level) {
    TRAINER_CHECK(levels[level].rank() == 4 && levels[level].dim(3) == config_.in_channels, "box predictor ", name(),
                  ": level ", level, " is ", levels[level].describe(), ", expected ", config_.in_channels,
                  " channels");
    const Tensor box_features = box_tower_->forward(ctx, levels[level], level);
    const Tensor class_features = class_tower_ ? class_tower_->forward(ctx, levels[level], level) : box_features;
    boxes.push_back(box_head_->forward(ctx, box_features));
    classes.push_back(class_head_->forward(ctx, class_features));
  }
  return {ops::concat(ctx, boxes, 1), ops::concat(ctx, classes, 1)};
}

}  // namespace trainer::models
