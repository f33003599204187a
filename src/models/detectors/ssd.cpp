#include "trainer/models/detectors/ssd.h"

#include "trainer/ops/shape_ops.h"

namespace trainer::models {

SsdDetector::SsdDetector(const SsdConfig& c, uint64_t seed) : config_(c) {
  backbone_ = std::make_unique<ResNetBackbone>("backbone", store_, c.backbone);
  fpn_ = std::make_unique<Fpn>("fpn", store_, c.fpn, *backbone_);
  TRAINER_CHECK(c.anchors.min_level == c.fpn.min_level && c.anchors.max_level == c.fpn.max_level, architecture(),
                ": anchor levels ", c.anchors.min_level, "..", c.anchors.max_level, " differ from the FPN's ",
                c.fpn.min_level, "..", c.fpn.max_level);
  BoxPredictorConfig p = c.predictor;
  p.in_channels = c.fpn.depth;
  p.num_levels = c.fpn.max_level - c.fpn.min_level + 1;
  p.anchors_per_location = anchors_per_location(c.anchors);
  p.num_class_slots = c.num_classes + 1;
  predictor_ = std::make_unique<WeightSharedBoxPredictor>("predictor", store_, p);
  anchors_ = multiscale_grid_anchors(c.anchors, c.image_height, c.image_width);
  store_.finalize(seed);
}

SsdDetector::~SsdDetector() = default;

SsdDetector::Output SsdDetector::forward(Context& ctx, const Tensor& images) const {
  TRAINER_CHECK(images.rank() == 4 && images.dim(1) == config_.image_height && images.dim(2) == config_.image_width,
                architecture(), ": expected images [N,", config_.image_height, ",", config_.image_width,
                ",3], got ", images.describe());
  const std::vector<Tensor> levels = fpn_->forward(ctx, backbone_->forward(ctx, images));
  WeightSharedBoxPredictor::Output raw = predictor_->forward(ctx, levels);
  TRAINER_CHECK(raw.box_codes.dim(1) == anchors_.dim(0), architecture(), ": ", raw.box_codes.dim(1),
                " predictions for ", anchors_.dim(0), " anchors");
  // In the activations' dtype: the losses and the post-processing are f32 islands that widen what
  // they read (trainer/ops/precision.h).
  return {raw.box_codes, raw.class_logits};
}

}  // namespace trainer::models
