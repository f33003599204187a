#include "trainer/models/detectors/ssd.h"

#include "trainer/ops/shape_ops.h"

namespace trainer::models {

SsdDetector::SsdDetector(const SsdConfig& c, uint64_t seed) : config_(c) {
  switch (c.extractor) {
    case SsdConfig::Extractor::ResNetFpn:
      backbone_ = std::make_unique<ResNetBackbone>("backbone", store_, c.resnet);
      neck_ = std::make_unique<Fpn>("fpn", store_, c.fpn, *backbone_);
      break;
    case SsdConfig::Extractor::EfficientNetBiFpn:
      backbone_ = std::make_unique<EfficientNetBackbone>("backbone", store_, c.efficientnet);
      neck_ = std::make_unique<BiFpn>("bifpn", store_, c.bifpn, *backbone_);
      break;
  }
  TRAINER_CHECK(c.anchors.min_level == neck_->min_level() && c.anchors.max_level == neck_->max_level(),
                architecture(), ": anchor levels ", c.anchors.min_level, "..", c.anchors.max_level,
                " differ from the feature pyramid's ", neck_->min_level(), "..", neck_->max_level());
  BoxPredictorConfig p = c.predictor;
  p.in_channels = neck_->depth();
  p.num_levels = neck_->max_level() - neck_->min_level() + 1;
  p.anchors_per_location = anchors_per_location(c.anchors);
  p.num_class_slots = c.num_class_slots();
  predictor_ = std::make_unique<WeightSharedBoxPredictor>("predictor", store_, p);
  anchors_ = multiscale_grid_anchors(c.anchors, c.image_height, c.image_width);
  store_.finalize(seed);
}

SsdDetector::~SsdDetector() = default;

SsdDetector::Output SsdDetector::forward(Context& ctx, const Tensor& images) const {
  TRAINER_CHECK(images.rank() == 4 && images.dim(1) == config_.image_height && images.dim(2) == config_.image_width,
                architecture(), ": expected images [N,", config_.image_height, ",", config_.image_width,
                ",3], got ", images.describe());
  const std::vector<Tensor> levels = neck_->forward(ctx, backbone_->forward(ctx, images));
  WeightSharedBoxPredictor::Output raw = predictor_->forward(ctx, levels);
  TRAINER_CHECK(raw.box_codes.dim(1) == anchors_.dim(0), architecture(), ": ", raw.box_codes.dim(1),
                " predictions for ", anchors_.dim(0), " anchors");
  // In the activations' dtype: the losses and the post-processing are f32 islands that widen what
  // they read (trainer/ops/precision.h).
  return {raw.box_codes, raw.class_logits};
}

}  // namespace trainer::models
