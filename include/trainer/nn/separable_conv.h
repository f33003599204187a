// Depthwise-separable convolution (Keras SeparableConv2D; MobileNet, EfficientDet's BiFPN and
// heads): a k x k depthwise convolution (one filter per channel, no bias) then a 1x1 pointwise
// convolution to the output channels (with the layer's bias, if any). Parameters
// "<name>.depthwise.weight" [C, k, k, 1], "<name>.pointwise.weight" [Cout, 1, 1, C] and
// "<name>.pointwise.bias".
//
// SeparableConvBnAct follows it with a batchnorm and an activation; like ConvBnAct it may share
// its convolution with other modules (EfficientDet's heads: one convolution per layer for all
// pyramid levels, a batchnorm per level), and in inference the batchnorm is folded into the
// pointwise convolution (nn/conv_bn.h).
#pragma once

#include <memory>
#include <optional>

#include "trainer/nn/conv_bn.h"

namespace trainer::nn {

struct SeparableConv2dConfig {
  int64_t in_channels = 0, out_channels = 0, kernel = 3, stride = 1;
  bool bias = false;  // the pointwise convolution's
  // Initialisers of the two convolutions (variance scaling over fan-in when unset, as Conv2d).
  std::optional<Init> depthwise_init, pointwise_init;
  Init bias_init = Init::zeros();
};

class SeparableConv2d : public Module {
 public:
  SeparableConv2d(std::string name, ParameterStore& store, const SeparableConv2dConfig& config);
  Tensor forward(Context& ctx, const Tensor& x) const;  // [N,H,W,Cin] -> [N,OH,OW,Cout]

  const Conv2d& depthwise() const { return depthwise_; }
  const Conv2d& pointwise() const { return pointwise_; }

 private:
  Conv2d depthwise_, pointwise_;
};

class SeparableConvBnAct : public Layer {
 public:
  // With the convolution `shared`, owned elsewhere and outliving this module; the batchnorm is
  // "<name>.bn".
  SeparableConvBnAct(std::string name, ParameterStore& store, const SeparableConv2d& shared, const BatchNormConfig& bn,
                     Activation act);
  // With a convolution of its own, "<name>.conv".
  SeparableConvBnAct(std::string name, ParameterStore& store, const SeparableConv2dConfig& conv,
                     const BatchNormConfig& bn, Activation act);
  Tensor forward(Context& ctx, const Tensor& x) const override;

 private:
  std::unique_ptr<SeparableConv2d> own_;
  const SeparableConv2d& conv_;
  ConvBnAct pointwise_bn_;  // the pointwise convolution (shared) with this module's batchnorm
};

}  // namespace trainer::nn
