#include "trainer/nn/separable_conv.h"

namespace trainer::nn {
namespace {

Conv2dConfig depthwise_config(const SeparableConv2dConfig& c) {
  Conv2dConfig d;
  d.in_channels = d.out_channels = d.groups = c.in_channels;
  d.kernel = c.kernel, d.stride = c.stride;
  d.weight_init = c.depthwise_init;
  return d;  // TF 'SAME' padding, no bias
}

Conv2dConfig pointwise_config(const SeparableConv2dConfig& c) {
  Conv2dConfig p;
  p.in_channels = c.in_channels, p.out_channels = c.out_channels, p.kernel = 1;
  p.bias = c.bias, p.bias_init = c.bias_init;
  p.weight_init = c.pointwise_init;
  return p;
}

}  // namespace

SeparableConv2d::SeparableConv2d(std::string name, ParameterStore& store, const SeparableConv2dConfig& c)
    : Module(std::move(name)),
      depthwise_(child("depthwise"), store, depthwise_config(c)),
      pointwise_(child("pointwise"), store, pointwise_config(c)) {}

Tensor SeparableConv2d::forward(Context& ctx, const Tensor& x) const {
  return pointwise_.forward(ctx, depthwise_.forward(ctx, x));
}

SeparableConvBnAct::SeparableConvBnAct(std::string name, ParameterStore& store, const SeparableConv2d& shared,
                                       const BatchNormConfig& bn, Activation act)
    : Layer(name), conv_(shared), pointwise_bn_(std::move(name), store, shared.pointwise(), bn, act) {}

SeparableConvBnAct::SeparableConvBnAct(std::string name, ParameterStore& store, const SeparableConv2dConfig& conv,
                                       const BatchNormConfig& bn, Activation act)
    : Layer(name),
      own_(std::make_unique<SeparableConv2d>(name + ".conv", store, conv)),
      conv_(*own_),
      pointwise_bn_(std::move(name), store, own_->pointwise(), bn, act) {}

Tensor SeparableConvBnAct::forward(Context& ctx, const Tensor& x) const {
  return pointwise_bn_.forward(ctx, conv_.depthwise().forward(ctx, x));
}

}  // namespace trainer::nn
