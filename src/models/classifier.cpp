#include "trainer/models/classifier.h"

#include "trainer/ops/pooling.h"
#include "trainer/ops/shape_ops.h"

namespace trainer::models {

Classifier::Classifier(const ClassifierConfig& c, uint64_t seed) : config_(c) {
  backbone_ = std::make_unique<ResNetBackbone>("backbone", store_, c.backbone);
  fc_ = std::make_unique<nn::Linear>(
      "fc", store_, nn::LinearConfig{backbone_->endpoints().back().channels, c.num_classes, true, c.backbone.init_scale});
  store_.finalize(seed);
}

Tensor Classifier::forward(Context& ctx, const Tensor& images) const {
  const Tensor features = backbone_->forward(ctx, images).back();
  // In the activations' dtype: the loss and the metrics are f32 islands that widen what they read
  // (trainer/ops/precision.h).
  return fc_->forward(ctx, ops::global_avg_pool(ctx, features));
}

}  // namespace trainer::models
