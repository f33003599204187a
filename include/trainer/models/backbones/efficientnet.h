// EfficientNet (Tan & Le 2019) as a backbone, the B0 baseline scaled by width and depth
// coefficients (B1..B7 by efficientnet_scaling), as google/automl's and TF's official
// efficientnet_model build it without the top layers:
//   stem: 3x3/2 convolution (TF 'SAME') to round_filters(32) -> batchnorm -> swish;
//   7 stages of MBConv blocks (kernel, repeats, in -> out, expansion, stride):
//     (3,1,32->16,1,1) (3,2,16->24,6,2) (5,2,24->40,6,2) (3,3,40->80,6,2) (5,3,80->112,6,1)
//     (5,4,112->192,6,2) (3,1,192->320,6,1), channels through round_filters (multiples of 8 of
//     width x channels, never below 90 % of it), repeats through ceil(depth x repeats);
//   MBConv: [1x1 expansion to in x expansion -> BN -> swish, when expansion != 1] -> kxk
//     depthwise (the block's stride, the first block of a stage only) -> BN -> swish ->
//     squeeze-excite (global mean -> 1x1 conv with bias to max(1, in x se_ratio) -> swish ->
//     1x1 conv with bias back -> sigmoid -> scale) -> 1x1 projection -> BN (no activation);
//     with stride 1 and in == out, drop-connect of the branch and the identity added.
//   Drop-connect rate of block i (of B, counted over all stages): drop_connect_rate x i / B.
// BN momentum 0.99, epsilon 1e-3; convolutions without bias, initialised by variance scaling
// (2.0, fan-out), as TF's efficientnet.
// Endpoints C2..C5 (strides 4..32): the last block at each stride (stages 2, 3, 5 and 7).
// Parameters: "<name>.stem.{conv,bn}", "<name>.blocks.<i>.{expand,depthwise,project}.{conv,bn}",
// "<name>.blocks.<i>.se.{reduce,expand}.{weight,bias}" with i counted over all stages.
#pragma once

#include <memory>
#include <vector>

#include "trainer/models/backbone.h"
#include "trainer/nn/conv_bn.h"

namespace trainer::models {

struct EfficientNetConfig {
  double width_coefficient = 1.0, depth_coefficient = 1.0;  // B0
  int64_t depth_divisor = 8;
  float drop_connect_rate = 0.2f;  // the last block's; 0 turns drop-connect off
  float se_ratio = 0.25f;          // of the block's input channels
  Activation activation = Activation::Swish;
  float bn_momentum = 0.99f, bn_epsilon = 1e-3f;
  int64_t input_channels = 3;
};

// The scaled family's coefficients: B0..B7 (Tan & Le's table); an Error for another index.
EfficientNetConfig efficientnet_scaling(int variant);

// TF's round_filters: channels x width to a multiple of divisor, at least divisor and at least
// 90 % of the product.
int64_t efficientnet_round_filters(int64_t channels, double width, int64_t divisor);

class EfficientNetBackbone final : public Backbone {
 public:
  EfficientNetBackbone(std::string name, nn::ParameterStore& store, const EfficientNetConfig& config);
  ~EfficientNetBackbone() override;

  std::vector<Tensor> forward(Context& ctx, const Tensor& images) const override;
  const std::vector<Endpoint>& endpoints() const override { return endpoints_; }
  std::string architecture() const override { return "efficientnet"; }
  const EfficientNetConfig& config() const { return config_; }

  struct Block;  // one MBConv block

 private:
  EfficientNetConfig config_;
  std::unique_ptr<nn::ConvBnAct> stem_;
  std::vector<std::unique_ptr<Block>> blocks_;
  std::vector<size_t> endpoint_after_;  // per endpoint: the block index whose output it is
  std::vector<Endpoint> endpoints_;
};

}  // namespace trainer::models
