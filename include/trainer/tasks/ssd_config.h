// model.ssd (the TF Object Detection API's SSD message) as the detector's, the loss's and the
// post-processing's options. What the config says that the code does not implement is refused
// earlier, by the config validation (src/config/implemented.cpp); this maps what remains.
#pragma once

#include <vector>

#include "trainer/config/config.h"
#include "trainer/data/detection_transform.h"
#include "trainer/models/detectors/postprocess.h"
#include "trainer/models/detectors/ssd.h"
#include "trainer/models/detectors/ssd_loss.h"
#include "trainer/models/detectors/target_assigner.h"

namespace trainer::tasks {

// The feature extractors the detector builds, by their config `type`.
const std::vector<std::string>& known_ssd_feature_extractors();

models::SsdConfig ssd_model_config(const config::Ssd& ssd);
models::TargetAssignerOptions ssd_target_assigner_options(const config::Ssd& ssd);
models::SsdLossOptions ssd_loss_options(const config::Ssd& ssd);
models::PostprocessOptions ssd_postprocess_options(const config::Ssd& ssd);
// The L2 weight of the hyperparams (slim's l2_regularizer(w): w * sum(x^2) / 2, so a weight
// decay of w on convolution kernels); the extractor's and the predictor's must agree.
double ssd_weight_decay(const config::Ssd& ssd);

// The network's input size from the image resizer: fixed_shape_resizer's height x width, or
// keep_aspect_ratio_resizer's max_dimension square (it pads to it). The model's image size must
// be this one.
data::ImageSize ssd_input_size(const config::Ssd& ssd);

// Whether a feature extractor type is one of the EfficientNet-BiFPN ones ("ssd_efficientnet...").
bool is_efficientnet_extractor(const std::string& type);

// The input pipeline: the train config's augmentation steps in order (train split), the image
// resizer (ssd_input_size; keep_aspect_ratio_resizer's size rule and padding), the feature
// extractor's normalisation (ResNet: minus the VGG means; EfficientNet: (x / 255 - mean) / std
// with the ImageNet statistics) and max_number_of_boxes.
data::DetectionTransformOptions ssd_transform_options(const config::TrainEvalPipelineConfig& c, bool train);

}  // namespace trainer::tasks
