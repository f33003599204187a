// The single-shot detector of the TF Object Detection API's `ssd` model as NVIDIA's SSD320 v1.2
// configures it: a backbone (TF-slim ResNet-50 v1), an FPN over C3..C5 giving P3..P7, and the
// weight-shared box predictor; anchors from the multiscale grid generator for the fixed input
// size. forward() gives the raw predictions; the detection task turns them into a loss (target
// assignment, focal and smooth-L1 losses) or detections (decode, sigmoid, NMS).
// Parameters: "backbone.*", "fpn.*", "predictor.*".
#pragma once

#include <memory>

#include "trainer/models/backbones/resnet.h"
#include "trainer/models/detectors/anchors.h"
#include "trainer/models/heads/weight_shared_box_predictor.h"
#include "trainer/models/model.h"
#include "trainer/models/necks/fpn.h"

namespace trainer::models {

struct SsdConfig {
  std::string feature_extractor = "ssd_resnet50_v1_fpn";
  ResNetConfig backbone;
  FpnConfig fpn;
  BoxPredictorConfig predictor;  // num_levels and anchors_per_location follow fpn and anchors
  MultiscaleAnchorOptions anchors;
  int64_t num_classes = 90;      // without the background slot
  int64_t image_height = 320, image_width = 320;
};

class SsdDetector final : public Model {
 public:
  SsdDetector(const SsdConfig& config, uint64_t seed);
  ~SsdDetector() override;

  struct Output {
    Tensor box_codes;     // [N, A, 4] F32: [ty, tx, th, tw] against anchors()
    Tensor class_logits;  // [N, A, num_classes + 1] F32, slot 0 the background
  };
  // images: [N, image_height, image_width, 3], preprocessed (channel means subtracted).
  Output forward(Context& ctx, const Tensor& images) const;

  const Tensor& anchors() const { return anchors_; }  // [A, 4] normalised [ymin, xmin, ymax, xmax]
  const SsdConfig& config() const { return config_; }
  const Backbone& backbone() const { return *backbone_; }
  std::string architecture() const override { return config_.feature_extractor; }

 private:
  SsdConfig config_;
  std::unique_ptr<Backbone> backbone_;
  std::unique_ptr<Fpn> fpn_;
  std::unique_ptr<WeightSharedBoxPredictor> predictor_;
  Tensor anchors_;
};

}  // namespace trainer::models
