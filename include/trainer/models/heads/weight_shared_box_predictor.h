// The TF Object Detection API's WeightSharedConvolutionalBoxPredictor (RetinaNet's head), as
// NVIDIA's SSD320 configures it: for every pyramid level, a box tower and a class tower of
// `num_layers` 3x3 convolutions (no bias) -> batchnorm -> ReLU6, then a 3x3 box head to
// anchors x 4 codes and a 3x3 class head to anchors x class slots (bias initialised to
// class_bias_init, -4.6: sigmoid(-4.6) = 0.01, the focal-loss prior). The convolutions' weights
// are SHARED across levels; each level has its OWN batchnorm (TF's ".../BatchNorm/feature_<j>").
// EfficientDet's class and box nets are the same predictor with use_depthwise (every tower
// convolution and both heads separable: nn/separable_conv.h), conv_bias (force_use_bias) and
// swish in the towers.
// Outputs of the levels are concatenated in level order, each level's [H, W, anchors] flattened
// row-major, which is the anchor generator's order.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "trainer/nn/conv_bn.h"

namespace trainer::models {

struct BoxPredictorConfig {
  int64_t in_channels = 256;
  int64_t depth = 256;
  int num_layers = 4;  // num_layers_before_predictor
  int64_t kernel = 3;
  int num_levels = 5;
  int64_t anchors_per_location = 6;
  int64_t num_class_slots = 91;  // num_classes + 1 (background slot 0)
  int64_t box_code_size = 4;
  float class_bias_init = -4.6f;
  bool share_prediction_tower = false;  // one tower for both heads
  float bn_momentum = 0.997f, bn_epsilon = 0.001f;
  std::optional<nn::Init> conv_init;  // the config's initializer (random normal 0.01)
  bool use_depthwise = false;         // separable tower convolutions and heads
  bool conv_bias = false;             // a bias in the tower convolutions (before their batchnorm)
  // TF1's slim predictor hard-codes ReLU6 whatever the config says; the Keras one (TF2's
  // *_keras extractors) takes the hyperparams' activation.
  Activation tower_activation = Activation::Relu6;
};

class WeightSharedBoxPredictor final : public nn::Module {
 public:
  WeightSharedBoxPredictor(std::string name, nn::ParameterStore& store, const BoxPredictorConfig& config);
  ~WeightSharedBoxPredictor() override;

  struct Output {
    Tensor box_codes;     // [N, anchors, box_code_size]
    Tensor class_logits;  // [N, anchors, num_class_slots]
  };
  // levels: [N, H_l, W_l, in_channels] for each of num_levels levels.
  Output forward(Context& ctx, const std::vector<Tensor>& levels) const;

 private:
  struct Tower;
  struct Head;

  BoxPredictorConfig config_;
  std::unique_ptr<Tower> box_tower_, class_tower_;
  std::unique_ptr<Head> box_head_, class_head_;
};

}  // namespace trainer::models
