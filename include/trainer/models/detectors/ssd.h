// The single-shot detector of the TF Object Detection API's `ssd` model: a backbone, a feature
// pyramid over its endpoints (the neck) and the weight-shared box predictor; anchors from the
// multiscale grid generator for the fixed input size. Two feature extractors:
//   ResNetFpn          NVIDIA's SSD320 v1.2 and RetinaNet: ResNet (TF-slim or Keras) + FPN
//                      (parameters "backbone.*", "fpn.*", "predictor.*");
//   EfficientNetBiFpn  EfficientDet: EfficientNet + BiFPN + the predictor with separable
//                      convolutions ("backbone.*", "bifpn.*", "predictor.*").
// forward() gives the raw predictions; the detection task turns them into a loss (target
// assignment, focal and smooth-L1 or Huber losses) or detections (decode, sigmoid, NMS).
#pragma once

#include <memory>

#include "trainer/models/backbones/efficientnet.h"
#include "trainer/models/backbones/resnet.h"
#include "trainer/models/detectors/anchors.h"
#include "trainer/models/heads/weight_shared_box_predictor.h"
#include "trainer/models/model.h"
#include "trainer/models/neck.h"
#include "trainer/models/necks/bifpn.h"
#include "trainer/models/necks/fpn.h"

namespace trainer::models {

struct SsdConfig {
  std::string feature_extractor = "ssd_resnet50_v1_fpn";  // the config's type, for messages
  enum class Extractor { ResNetFpn, EfficientNetBiFpn } extractor = Extractor::ResNetFpn;
  ResNetConfig resnet;              // ResNetFpn
  FpnConfig fpn;
  EfficientNetConfig efficientnet;  // EfficientNetBiFpn
  BiFpnConfig bifpn;
  BoxPredictorConfig predictor;  // in_channels, num_levels, anchors_per_location and slots follow the rest
  MultiscaleAnchorOptions anchors;
  int64_t num_classes = 90;      // without the background slot
  bool background_slot = true;   // add_background_class: class slot 0 is the background
  int64_t image_height = 320, image_width = 320;

  int64_t num_class_slots() const { return num_classes + (background_slot ? 1 : 0); }
};

class SsdDetector final : public Model {
 public:
  SsdDetector(const SsdConfig& config, uint64_t seed);
  ~SsdDetector() override;

  struct Output {
    Tensor box_codes;     // [N, A, 4] F32: [ty, tx, th, tw] against anchors()
    Tensor class_logits;  // [N, A, num_class_slots()], slot 0 the background if there is one
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
  std::unique_ptr<Neck> neck_;
  std::unique_ptr<WeightSharedBoxPredictor> predictor_;
  Tensor anchors_;
};

}  // namespace trainer::models
