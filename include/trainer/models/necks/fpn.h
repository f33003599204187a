// Feature pyramid (Lin et al. 2017) as the TF Object Detection API's SSD ResNet-FPN feature
// extractors build it (models/ssd_resnet_v1_fpn_feature_extractor.py with
// feature_map_generators.fpn_top_down_feature_maps), which NVIDIA's SSD320 uses:
//   lateral:   a 1x1 convolution of each backbone endpoint C_l (l = min_level..min(max_level, 5))
//              to `depth` channels, with a bias and no batchnorm or activation;
//   top-down:  P_top = lateral(C_top); P_l = smooth(upsample2x(P_{l+1}) + lateral(C_l)), where
//              smooth is a 3x3 convolution + batchnorm + activation (ReLU6 in the config). The
//              top level is NOT smoothed.
//   extra:     P_6 = 3x3/2 'SAME' convolution + batchnorm + activation on P_5 (not on C_5), and
//              P_7 the same on P_6, up to max_level.
// Output: P_min..P_max, all `depth` channels, strides 2^l.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "trainer/models/backbone.h"
#include "trainer/models/neck.h"
#include "trainer/nn/conv_bn.h"

namespace trainer::models {

struct FpnConfig {
  int min_level = 3, max_level = 7;
  int64_t depth = 256;  // the extractor's additional_layer_depth
  Activation activation = Activation::Relu6;
  float bn_momentum = 0.997f, bn_epsilon = 0.001f;
  std::optional<nn::Init> conv_init;  // the config's initializer; variance scaling when unset
};

class Fpn final : public Neck {
 public:
  // backbone: the endpoints C<min_level>..C<min(max_level, 5)> must exist in it.
  Fpn(std::string name, nn::ParameterStore& store, const FpnConfig& config, const Backbone& backbone);
  ~Fpn() override;

  // features: the backbone's endpoints, all of them, in its order -> P_min..P_max.
  std::vector<Tensor> forward(Context& ctx, const std::vector<Tensor>& features) const override;
  int min_level() const override { return config_.min_level; }
  int max_level() const override { return config_.max_level; }
  int64_t depth() const override { return config_.depth; }
  const FpnConfig& config() const { return config_; }

 private:
  FpnConfig config_;
  std::vector<size_t> inputs_;  // endpoint index per backbone level, min_level first
  std::vector<std::unique_ptr<nn::Conv2d>> lateral_;     // per backbone level
  std::vector<std::unique_ptr<nn::ConvBnAct>> smooth_;   // per backbone level but the top
  std::vector<std::unique_ptr<nn::ConvBnAct>> extra_;    // levels above 5
};

}  // namespace trainer::models
