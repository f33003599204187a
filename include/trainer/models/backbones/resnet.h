// ResNet (He et al. 2015) as a backbone, in the three layouts the recipes use:
//   V1_5    NVIDIA's and torchvision's: a stage's stride in the 3x3 convolution of its first
//           unit; projection shortcuts (1x1 conv + BN) where the shape changes.
//   V1      the original: the stride in the first 1x1 convolution instead.
//   SLIM_V1 TF-slim's resnet_v1 as the TF Object Detection API's SSD feature extractors build it
//           (store_non_strided_activations=True): blocks 1..3 carry their stride on their LAST
//           unit, which runs at stride 1; the block's output is the endpoint and is then
//           decimated by a 1x1 max-pool with stride 2 (slim's `subsample`). So every convolution
//           after the stem has stride 1, all shortcuts are identity or 1x1 projections at stride
//           1, and the stem convolution pads 3 pixels on every side (slim's conv2d_same) where
//           the others use TF 'SAME'.
// All: ReLU after the residual add; the stem and the first two convolutions of a bottleneck take
// `activation` (ReLU; SSD's config overrides it with ReLU6), the last one and the shortcut none.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "trainer/models/backbone.h"
#include "trainer/nn/conv_bn.h"

namespace trainer::models {

struct ResNetConfig {
  enum class Variant { V1_5, V1, SLIM_V1 };
  int depth = 50;                     // 18, 34 (basic blocks), 50, 101, 152 (bottlenecks)
  std::vector<int> blocks_per_stage;  // overrides depth's layout (bottleneck blocks)
  Variant variant = Variant::V1_5;
  int64_t width = 64;                 // stem and first-stage width; stages double it
  bool small_image_stem = false;      // 3x3/1 conv and no max-pool, for 28-64 px inputs
  int64_t input_channels = 3;
  Activation activation = Activation::Relu;
  float bn_momentum = 0.9f, bn_epsilon = 1e-5f;
  double init_scale = 2.0;            // TF variance scaling over fan-in (or fan-out) ...
  bool init_fan_out = false;
  std::optional<nn::Init> conv_init;  // ... unless a config names another initialiser
};

class ResNetBackbone final : public Backbone {
 public:
  ResNetBackbone(std::string name, nn::ParameterStore& store, const ResNetConfig& config);
  ~ResNetBackbone() override;

  std::vector<Tensor> forward(Context& ctx, const Tensor& images) const override;
  const std::vector<Endpoint>& endpoints() const override { return endpoints_; }
  std::string architecture() const override { return architecture_; }
  const ResNetConfig& config() const { return config_; }

  struct Unit;  // a basic or bottleneck residual unit

 private:
  ResNetConfig config_;
  std::string architecture_;
  std::unique_ptr<nn::ConvBnAct> stem_;
  std::vector<std::vector<std::unique_ptr<Unit>>> stages_;
  std::vector<int64_t> decimation_;  // per stage: the stride applied after it (SLIM_V1), else 1
  std::vector<Endpoint> endpoints_;
};

}  // namespace trainer::models
