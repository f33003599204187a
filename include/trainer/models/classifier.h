// An image classifier: a backbone, global average pooling of its last endpoint, and a dense
// layer to the class logits. Parameters: "backbone.*" and "fc.*".
#pragma once

#include <memory>

#include "trainer/models/backbones/resnet.h"
#include "trainer/models/model.h"
#include "trainer/nn/linear.h"

namespace trainer::models {

struct ClassifierConfig {
  ResNetConfig backbone;
  int64_t num_classes = 1000;
};

class Classifier final : public Model {
 public:
  Classifier(const ClassifierConfig& config, uint64_t seed);
  // images: [N,H,W,C] (F32 or the compute dtype) -> logits [N, num_classes] (F32)
  Tensor forward(Context& ctx, const Tensor& images) const;
  int64_t num_classes() const { return config_.num_classes; }
  std::string architecture() const override { return backbone_->architecture(); }
  const Backbone& backbone() const { return *backbone_; }

 private:
  ClassifierConfig config_;
  std::unique_ptr<Backbone> backbone_;
  std::unique_ptr<nn::Linear> fc_;
};

}  // namespace trainer::models
