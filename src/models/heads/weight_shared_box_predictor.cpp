#include "trainer/models/heads/weight_shared_box_predictor.h"

#include "trainer/ops/shape_ops.h"

namespace trainer::models {

// num_layers shared convolutions, and per level a ConvBnAct that applies its own batchnorm.
struct WeightSharedBoxPredictor::Tower {
  std::vector<std::unique_ptr<nn::Conv2d>> convs;                    // [layer]
  std::vector<std::vector<std::unique_ptr<nn::ConvBnAct>>> levels;  // [level][layer]

  Tensor forward(Context& ctx, Tensor x, size_t level) const {
    for (const auto& layer : levels[level]) x = layer->forward(ctx, x);
    return x;
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
  nn::BatchNormConfig bn;
  bn.channels = c.depth, bn.momentum = c.bn_momentum, bn.epsilon = c.bn_epsilon;
  auto tower = [&](const std::string& tower_name) {
    auto t = std::make_unique<Tower>();
    for (int i = 0; i < c.num_layers; ++i)
      t->convs.push_back(std::make_unique<nn::Conv2d>(
          child(tower_name + ".conv" + std::to_string(i)), store, conv(i == 0 ? c.in_channels : c.depth, c.depth, false)));
    t->levels.resize(c.num_levels);
    for (int level = 0; level < c.num_levels; ++level)
      for (int i = 0; i < c.num_layers; ++i)
        t->levels[level].push_back(std::make_unique<nn::ConvBnAct>(
            child(tower_name + ".conv" + std::to_string(i) + ".level" + std::to_string(level)), store, *t->convs[i],
            bn, Activation::Relu6));  // TF hard-codes relu6 here, whatever the config says
    return t;
  };
  box_tower_ = tower("box_tower");
  if (!c.share_prediction_tower) class_tower_ = tower("class_tower");
  const int64_t head_in = c.num_layers > 0 ? c.depth : c.in_channels;
  box_head_ = std::make_unique<nn::Conv2d>(child("box_head"), store,
                                           conv(head_in, c.anchors_per_location * c.box_code_size, true));
  nn::Conv2dConfig class_head = conv(head_in, c.anchors_per_location * c.num_class_slots, true);
  class_head.bias_init = nn::Init::constant(c.class_bias_init);
  class_head_ = std::make_unique<nn::Conv2d>(child("class_head"), store, class_head);
}

WeightSharedBoxPredictor::~WeightSharedBoxPredictor() = default;

// A head's [N, H, W, anchors * per_anchor] map as [N, H * W * anchors, per_anchor].
Tensor WeightSharedBoxPredictor::head(Context& ctx, const nn::Conv2d& conv, const Tensor& x,
                                      int64_t per_anchor) const {
  const Tensor y = conv.forward(ctx, x);
  return ops::reshape(ctx, y, {y.dim(0), -1, per_anchor});
}

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
    boxes.push_back(head(ctx, *box_head_, box_features, config_.box_code_size));
    classes.push_back(head(ctx, *class_head_, class_features, config_.num_class_slots));
  }
  return {ops::concat(ctx, boxes, 1), ops::concat(ctx, classes, 1)};
}

}  // namespace trainer::models
