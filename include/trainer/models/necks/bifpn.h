// The bidirectional feature pyramid of EfficientDet (Tan et al. 2020), as google/automl builds
// it (efficientdet_arch.py, with fpn weight_method 'fastattn'; the TF Object Detection API's
// ssd_efficientnet_bifpn extractor and the effdet package do the same):
//   inputs:  the backbone endpoints C_min..C_5; levels above 5 are made from the level below:
//            a 1x1 convolution (with bias) + batchnorm when its channels differ from `depth`,
//            then a 3x3/2 'SAME' max-pool (P6 from C5, P7 from P6);
//   a cell:  top-down for l = max-1 .. min: P_l' = node(P_l, P_{l+1}')   (P_max' = P_max)
//            bottom-up for l = min+1 .. max: P_l'' = node(P_l, P_l' (if any), P_{l-1}'')
//            (P_min'' = P_min'); the cell returns P_min''..P_max''.
//   a node:  every input resampled to the node's level — a 1x1 convolution (bias) + batchnorm
//            when its channels differ from `depth` (only raw backbone maps in the first cell; each
//            edge has its own), then nearest 2x upsampling or a 3x3/2 'SAME' max-pool per level
//            step (cut to the node's size where 'SAME' halving had rounded up: inputs need not be
//            divisible by 2^max_level) — then fast normalised fusion with a learned weight per edge (ops/fusion.h:
//            relu(w_i) / (sum relu(w) + 1e-4), weights initialised to 1), swish, a 3x3 separable
//            convolution (bias on the pointwise part) and batchnorm without activation.
//   `num_iterations` cells in sequence. Output: P_min..P_max, `depth` channels.
// Parameters: "<name>.p<l>.{conv,bn}" (extra levels' projections),
// "<name>.cell<r>.node<n>.{weights, input<j>.{conv,bn}, conv.{depthwise,pointwise}, bn}" with the
// nodes numbered top-down first, then bottom-up.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "trainer/models/backbone.h"
#include "trainer/models/neck.h"
#include "trainer/nn/separable_conv.h"

namespace trainer::models {

struct BiFpnConfig {
  int min_level = 3, max_level = 7;
  int64_t depth = 64;      // num_filters
  int num_iterations = 3;  // cells
  Activation activation = Activation::Swish;
  float bn_momentum = 0.99f, bn_epsilon = 1e-3f;
  float fusion_epsilon = 1e-4f;
  std::optional<nn::Init> conv_init;  // the config's initializer; variance scaling when unset
};

class BiFpn final : public Neck {
 public:
  // backbone: the endpoints C<min_level>..C<min(max_level, 5)> must exist in it.
  BiFpn(std::string name, nn::ParameterStore& store, const BiFpnConfig& config, const Backbone& backbone);
  ~BiFpn() override;

  std::vector<Tensor> forward(Context& ctx, const std::vector<Tensor>& features) const override;
  int min_level() const override { return config_.min_level; }
  int max_level() const override { return config_.max_level; }
  int64_t depth() const override { return config_.depth; }
  const BiFpnConfig& config() const { return config_; }

  struct Node;

 private:
  // x from its level to `to_level`, then cut to height x width where doubling overshoots by one.
  Tensor resample(Context& ctx, Tensor x, int from_level, int to_level, int64_t height, int64_t width) const;

  BiFpnConfig config_;
  std::vector<size_t> inputs_;                            // endpoint index per backbone level
  std::vector<std::unique_ptr<nn::ConvBnAct>> extra_;    // per level above the backbone's (or null)
  std::vector<std::vector<std::unique_ptr<Node>>> cells_;
};

}  // namespace trainer::models
