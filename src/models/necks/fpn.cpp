#include "trainer/models/necks/fpn.h"

#include <algorithm>

#include "trainer/ops/elementwise.h"
#include "trainer/ops/upsample.h"

namespace trainer::models {

Fpn::Fpn(std::string name, nn::ParameterStore& store, const FpnConfig& c, const Backbone& backbone)
    : Neck(std::move(name)), config_(c) {
  const int top = std::min(c.max_level, 5);
  TRAINER_CHECK(c.min_level >= 2 && c.min_level <= top && c.max_level >= c.min_level, "fpn ", this->name(),
                ": levels ", c.min_level, "..", c.max_level, " (need 2 <= min_level <= 5 and min_level <= max_level)");
  auto conv = [&](int64_t in, int64_t k, int64_t stride, bool bias) {
    nn::Conv2dConfig cc;
    cc.in_channels = in, cc.out_channels = c.depth, cc.kernel = k, cc.stride = stride, cc.bias = bias;
    cc.weight_init = c.conv_init;
    return cc;
  };
  nn::BatchNormConfig bn;
  bn.channels = c.depth, bn.momentum = c.bn_momentum, bn.epsilon = c.bn_epsilon;
  for (int level = c.min_level; level <= top; ++level) {
    const size_t index = backbone.endpoint_index("C" + std::to_string(level));
    inputs_.push_back(index);
    lateral_.push_back(std::make_unique<nn::Conv2d>(child("lateral" + std::to_string(level)), store,
                                                    conv(backbone.endpoints()[index].channels, 1, 1, true)));
    if (level < top)
      smooth_.push_back(std::make_unique<nn::ConvBnAct>(child("smooth" + std::to_string(level)), store,
                                                        conv(c.depth, 3, 1, false), bn, c.activation));
  }
  for (int level = top + 1; level <= c.max_level; ++level)
    extra_.push_back(std::make_unique<nn::ConvBnAct>(child("extra" + std::to_string(level)), store,
                                                     conv(c.depth, 3, 2, false), bn, c.activation));
}

Fpn::~Fpn() = default;

std::vector<Tensor> Fpn::forward(Context& ctx, const std::vector<Tensor>& features) const {
  const size_t n = inputs_.size();
  std::vector<Tensor> out(n);
  Tensor top_down = lateral_[n - 1]->forward(ctx, features[inputs_[n - 1]]);
  out[n - 1] = top_down;
  for (size_t i = n - 1; i-- > 0;) {
    const Tensor lateral = lateral_[i]->forward(ctx, features[inputs_[i]]);
    const Tensor up = ops::upsample_nearest2x(ctx, top_down);
    TRAINER_CHECK(up.dim(1) == lateral.dim(1) && up.dim(2) == lateral.dim(2), "fpn ", name(), ": level ",
                  config_.min_level + static_cast<int>(i), " is ", lateral.dim(1), "x", lateral.dim(2),
                  " but the level above upsamples to ", up.dim(1), "x", up.dim(2),
                  "; the input size must be divisible by the top backbone stride");
    top_down = ops::add(ctx, up, lateral);
    out[i] = smooth_[i]->forward(ctx, top_down);
  }
  Tensor last = out[n - 1];
  for (const auto& conv : extra_) {
    last = conv->forward(ctx, last);
    out.push_back(last);
  }
  return out;
}

}  // namespace trainer::models
