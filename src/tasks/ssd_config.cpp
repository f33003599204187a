#include "trainer/tasks/ssd_config.h"

#include <algorithm>

namespace trainer::tasks {
namespace {

Activation activation_of(config::Hyperparams::Activation a) {
  switch (a) {
    case config::Hyperparams::NONE: return Activation::Identity;
    case config::Hyperparams::RELU: return Activation::Relu;
    case config::Hyperparams::RELU_6: return Activation::Relu6;
    case config::Hyperparams::SWISH: return Activation::Swish;
  }
  return Activation::Relu;
}

// The initializer oneof; nullopt keeps the layer's variance-scaling default.
std::optional<nn::Init> init_of(const config::Hyperparams& h) {
  const config::Initializer& i = h.initializer();
  if (i.has_truncated_normal_initializer())
    return nn::Init::truncated_normal(i.truncated_normal_initializer().mean(), i.truncated_normal_initializer().stddev());
  if (i.has_random_normal_initializer())
    return nn::Init::normal(i.random_normal_initializer().mean(), i.random_normal_initializer().stddev());
  // variance_scaling_initializer (factor 2, fan in, truncated normal: all the config checks allow)
  // or none: the layers' default.
  return std::nullopt;
}

struct Extractor {
  const char* type;
  int depth;
  models::ResNetConfig::Variant variant;
  float bn_epsilon;  // the backbone's own batchnorm epsilon
};

// TF1's slim extractors (resnet_v1 with store_non_strided_activations) and TF2's Keras ones
// (tf.keras ResNet v1: the stride in the first 1x1 convolution, BN epsilon 1.001e-5).
constexpr Extractor kExtractors[] = {
    {"ssd_resnet50_v1_fpn", 50, models::ResNetConfig::Variant::SLIM_V1, 1e-5f},
    {"ssd_resnet101_v1_fpn", 101, models::ResNetConfig::Variant::SLIM_V1, 1e-5f},
    {"ssd_resnet152_v1_fpn", 152, models::ResNetConfig::Variant::SLIM_V1, 1e-5f},
    {"ssd_resnet50_v1_fpn_keras", 50, models::ResNetConfig::Variant::V1, 1.001e-5f},
    {"ssd_resnet101_v1_fpn_keras", 101, models::ResNetConfig::Variant::V1, 1.001e-5f},
    {"ssd_resnet152_v1_fpn_keras", 152, models::ResNetConfig::Variant::V1, 1.001e-5f},
};

const Extractor& extractor_of(const std::string& type) {
  for (const Extractor& e : kExtractors)
    if (type == e.type) return e;
  std::string known;
  for (const std::string& name : known_ssd_feature_extractors()) known += (known.empty() ? "" : ", ") + name;
  fail("model.ssd.feature_extractor.type \"", type, "\" is not implemented; known: ", known);
}

}  // namespace

const std::vector<std::string>& known_ssd_feature_extractors() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const Extractor& e : kExtractors) v.push_back(e.type);
    for (int b = 0; b <= 7; ++b) v.push_back("ssd_efficientnet-b" + std::to_string(b) + "_bifpn_keras");
    return v;
  }();
  return names;
}

namespace {

// "ssd_efficientnet-b<k>_bifpn_keras" -> k; -1 for another type.
int efficientnet_variant(const std::string& type) {
  static const std::string prefix = "ssd_efficientnet-b", suffix = "_bifpn_keras";
  if (type.size() != prefix.size() + 1 + suffix.size() || type.compare(0, prefix.size(), prefix) != 0 ||
      type.compare(prefix.size() + 1, suffix.size(), suffix) != 0)
    return -1;
  const char digit = type[prefix.size()];
  return digit >= '0' && digit <= '7' ? digit - '0' : -1;
}

void map_resnet_fpn(const config::Ssd& ssd, models::SsdConfig& m) {
  const config::SsdFeatureExtractor& fe = ssd.feature_extractor();
  const Extractor& e = extractor_of(fe.type());
  const config::Hyperparams& fh = fe.conv_hyperparams();
  models::ResNetConfig& r = m.resnet;
  r.depth = e.depth;
  r.variant = e.variant;
  if (fe.has_resnet()) {
    if (fe.resnet().has_width()) r.width = fe.resnet().width();
    r.blocks_per_stage.assign(fe.resnet().blocks_per_stage().begin(), fe.resnet().blocks_per_stage().end());
  }
  r.bn_epsilon = e.bn_epsilon;
  r.bn_momentum = 0.997f;  // slim's resnet_arg_scope decay (Keras: 0.99 by default, the API sets 0.997)
  if (fe.has_backbone_batch_norm()) {
    if (fe.backbone_batch_norm().has_decay()) r.bn_momentum = fe.backbone_batch_norm().decay();
    if (fe.backbone_batch_norm().has_epsilon()) r.bn_epsilon = fe.backbone_batch_norm().epsilon();
  }
  if (fe.override_base_feature_extractor_hyperparams()) {
    // The extractor's arg scope replaces the backbone's activation and initializer; the
    // backbone keeps its own batchnorm parameters (they are passed explicitly).
    r.activation = activation_of(fh.activation());
    r.conv_init = init_of(fh);
  }
  models::FpnConfig& f = m.fpn;
  f.min_level = fe.fpn().min_level();
  f.max_level = fe.fpn().max_level();
  f.depth = fe.fpn().additional_layer_depth();
  f.activation = activation_of(fh.activation());
  f.bn_momentum = fh.batch_norm().decay();
  f.bn_epsilon = fh.batch_norm().epsilon();
  f.conv_init = init_of(fh);
}

// The TF OD API's SSDEfficientNetBiFPNKerasFeatureExtractor: the EfficientNet of TF's official
// models (its own batchnorm 0.99 / 1e-3, swish, drop-connect 0.2 as that model's default), and a
// BiFPN whose layers take the extractor's conv_hyperparams.
void map_efficientnet_bifpn(const config::Ssd& ssd, int variant, models::SsdConfig& m) {
  const config::SsdFeatureExtractor& fe = ssd.feature_extractor();
  const config::Hyperparams& fh = fe.conv_hyperparams();
  m.extractor = models::SsdConfig::Extractor::EfficientNetBiFpn;
  models::EfficientNetConfig& e = m.efficientnet;
  e = models::efficientnet_scaling(variant);
  if (fe.has_efficientnet()) {
    const config::EfficientNet& x = fe.efficientnet();
    if (x.has_width_coefficient()) e.width_coefficient = x.width_coefficient();
    if (x.has_depth_coefficient()) e.depth_coefficient = x.depth_coefficient();
    if (x.has_drop_connect_rate()) e.drop_connect_rate = x.drop_connect_rate();
  }
  if (fe.has_backbone_batch_norm()) {
    if (fe.backbone_batch_norm().has_decay()) e.bn_momentum = fe.backbone_batch_norm().decay();
    if (fe.backbone_batch_norm().has_epsilon()) e.bn_epsilon = fe.backbone_batch_norm().epsilon();
  }
  models::BiFpnConfig& b = m.bifpn;
  b.min_level = fe.bifpn().min_level();
  b.max_level = fe.bifpn().max_level();
  b.depth = fe.bifpn().num_filters();
  b.num_iterations = fe.bifpn().num_iterations();
  b.activation = activation_of(fh.activation());
  b.bn_momentum = fh.batch_norm().decay();
  b.bn_epsilon = fh.batch_norm().epsilon();
  b.conv_init = init_of(fh);
}

bool is_keras_extractor(const std::string& type) {
  static const std::string suffix = "_keras";
  return type.size() > suffix.size() && type.compare(type.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

models::SsdConfig ssd_model_config(const config::Ssd& ssd) {
  models::SsdConfig m;
  const config::SsdFeatureExtractor& fe = ssd.feature_extractor();
  m.feature_extractor = fe.type();
  m.num_classes = ssd.num_classes();
  m.background_slot = ssd.add_background_class();
  const data::ImageSize input = ssd_input_size(ssd);
  m.image_height = input.height;
  m.image_width = input.width;
  if (const int variant = efficientnet_variant(fe.type()); variant >= 0) map_efficientnet_bifpn(ssd, variant, m);
  else map_resnet_fpn(ssd, m);

  const config::WeightSharedConvolutionalBoxPredictor& wp = ssd.box_predictor().weight_shared_convolutional_box_predictor();
  models::BoxPredictorConfig& p = m.predictor;
  p.depth = wp.depth();
  p.num_layers = wp.num_layers_before_predictor();
  p.kernel = wp.kernel_size();
  p.box_code_size = wp.box_code_size();
  p.class_bias_init = wp.class_prediction_bias_init();
  p.share_prediction_tower = wp.share_prediction_tower();
  p.bn_momentum = wp.conv_hyperparams().batch_norm().decay();
  p.bn_epsilon = wp.conv_hyperparams().batch_norm().epsilon();
  p.conv_init = init_of(wp.conv_hyperparams());
  p.use_depthwise = wp.use_depthwise();
  p.conv_bias = wp.conv_hyperparams().force_use_bias();
  if (is_keras_extractor(fe.type())) p.tower_activation = activation_of(wp.conv_hyperparams().activation());

  const config::MultiscaleAnchorGenerator& a = ssd.anchor_generator().multiscale_anchor_generator();
  m.anchors.min_level = a.min_level();
  m.anchors.max_level = a.max_level();
  m.anchors.anchor_scale = a.anchor_scale();
  m.anchors.aspect_ratios.assign(a.aspect_ratios().begin(), a.aspect_ratios().end());
  if (m.anchors.aspect_ratios.empty()) m.anchors.aspect_ratios = {1.0f, 2.0f, 0.5f};
  m.anchors.scales_per_octave = a.scales_per_octave();
  m.anchors.normalize_coordinates = a.normalize_coordinates();
  return m;
}

models::TargetAssignerOptions ssd_target_assigner_options(const config::Ssd& ssd) {
  models::TargetAssignerOptions o;
  const config::ArgMaxMatcher& m = ssd.matcher().argmax_matcher();
  o.matcher.ignore_thresholds = m.ignore_thresholds();
  o.matcher.matched_threshold = m.matched_threshold();
  o.matcher.unmatched_threshold = m.unmatched_threshold();
  o.matcher.negatives_lower_than_unmatched = m.negatives_lower_than_unmatched();
  o.matcher.force_match_for_each_row = m.force_match_for_each_row();
  const config::FasterRcnnBoxCoder& c = ssd.box_coder().faster_rcnn_box_coder();
  o.box_coder = {c.y_scale(), c.x_scale(), c.height_scale(), c.width_scale()};
  o.negative_class_weight = ssd.negative_class_weight();
  o.background_slot = ssd.add_background_class();
  return o;
}

models::SsdLossOptions ssd_loss_options(const config::Ssd& ssd) {
  models::SsdLossOptions o;
  const config::SigmoidFocalClassificationLoss& focal = ssd.loss().classification_loss().weighted_sigmoid_focal();
  o.focal_alpha = focal.has_alpha() ? focal.alpha() : -1.f;  // unset: no alpha factor, as TF's None
  o.focal_gamma = focal.gamma();
  o.smooth_l1_delta = ssd.loss().localization_loss().weighted_smooth_l1().delta();
  o.classification_weight = ssd.loss().classification_weight();
  o.localization_weight = ssd.loss().localization_weight();
  o.normalize_loss_by_num_matches = ssd.normalize_loss_by_num_matches();
  o.normalize_loc_loss_by_codesize = ssd.normalize_loc_loss_by_codesize();
  return o;
}

models::PostprocessOptions ssd_postprocess_options(const config::Ssd& ssd) {
  models::PostprocessOptions o;
  const config::FasterRcnnBoxCoder& c = ssd.box_coder().faster_rcnn_box_coder();
  o.box_coder = {c.y_scale(), c.x_scale(), c.height_scale(), c.width_scale()};
  o.logit_scale = ssd.post_processing().logit_scale();
  const config::BatchNonMaxSuppression& nms = ssd.post_processing().batch_non_max_suppression();
  o.score_threshold = nms.score_threshold();
  o.iou_threshold = nms.iou_threshold();
  o.max_detections_per_class = nms.max_detections_per_class();
  o.max_total_detections = nms.max_total_detections();
  o.soft_nms_sigma = nms.soft_nms_sigma();
  o.background_slot = ssd.add_background_class();
  return o;
}

double ssd_weight_decay(const config::Ssd& ssd) {
  auto l2 = [](const config::Hyperparams& h) {
    return h.regularizer().has_l2_regularizer() ? h.regularizer().l2_regularizer().weight() : 0.0f;
  };
  const float extractor = l2(ssd.feature_extractor().conv_hyperparams());
  const float predictor = l2(ssd.box_predictor().weight_shared_convolutional_box_predictor().conv_hyperparams());
  TRAINER_CHECK(extractor == predictor, "model.ssd: the feature extractor's L2 weight (", extractor,
                ") differs from the box predictor's (", predictor, "); one weight decay for both is implemented");
  return extractor;
}

data::ImageSize ssd_input_size(const config::Ssd& ssd) {
  const config::ImageResizer& r = ssd.image_resizer();
  if (r.has_keep_aspect_ratio_resizer())
    return {r.keep_aspect_ratio_resizer().max_dimension(), r.keep_aspect_ratio_resizer().max_dimension()};
  return {r.fixed_shape_resizer().height(), r.fixed_shape_resizer().width()};
}

bool is_efficientnet_extractor(const std::string& type) { return efficientnet_variant(type) >= 0; }

data::DetectionTransformOptions ssd_transform_options(const config::TrainEvalPipelineConfig& c, bool train) {
  const config::Ssd& ssd = c.model().ssd();
  data::DetectionTransformOptions o;
  o.train = train;
  const data::ImageSize input = ssd_input_size(ssd);
  o.height = input.height;
  o.width = input.width;
  if (ssd.image_resizer().has_keep_aspect_ratio_resizer()) {
    const config::KeepAspectRatioResizer& k = ssd.image_resizer().keep_aspect_ratio_resizer();
    o.keep_aspect_ratio = data::KeepAspectRatioResizerOptions{k.min_dimension(), k.max_dimension()};
  }
  if (is_efficientnet_extractor(ssd.feature_extractor().type())) {
    // SSDEfficientNetBiFPNKerasFeatureExtractor.preprocess(): ((x / 255) - mean) / std with the
    // ImageNet statistics, in that order.
    o.mean = {0.485f, 0.456f, 0.406f};
    o.stddev = {0.229f, 0.224f, 0.225f};
    o.pixel_divisor = 255.0f;
  } else {
    // The ResNet extractors' preprocess(): VGG channel means subtracted from RGB 0..255, no scaling.
    o.mean = {123.68f, 116.779f, 103.939f};
    o.stddev = {1.f, 1.f, 1.f};
  }
  if (train) {
    o.max_boxes = c.train_config().max_number_of_boxes();
    for (const config::PreprocessingStep& step : c.train_config().data_augmentation_options()) {
      if (step.has_random_horizontal_flip()) {
        o.augmentations.push_back(data::RandomHorizontalFlipOptions{});
      } else if (step.has_random_crop_image()) {
        const config::RandomCropImage& r = step.random_crop_image();
        data::RandomCropImageOptions crop;
        crop.min_object_covered = r.min_object_covered();
        crop.min_aspect_ratio = r.min_aspect_ratio(), crop.max_aspect_ratio = r.max_aspect_ratio();
        crop.min_area = r.min_area(), crop.max_area = r.max_area();
        crop.overlap_thresh = r.overlap_thresh();
        crop.clip_boxes = r.clip_boxes();
        crop.random_coef = r.random_coef();
        o.augmentations.push_back(crop);
      } else if (step.has_random_adjust_brightness()) {
        o.augmentations.push_back(data::RandomAdjustBrightnessOptions{step.random_adjust_brightness().max_delta()});
      } else if (step.has_random_adjust_contrast()) {
        const config::RandomAdjustContrast& r = step.random_adjust_contrast();
        o.augmentations.push_back(data::RandomAdjustContrastOptions{r.min_delta(), r.max_delta()});
      } else if (step.has_random_adjust_hue()) {
        o.augmentations.push_back(data::RandomAdjustHueOptions{step.random_adjust_hue().max_delta()});
      } else if (step.has_random_adjust_saturation()) {
        const config::RandomAdjustSaturation& r = step.random_adjust_saturation();
        o.augmentations.push_back(data::RandomAdjustSaturationOptions{r.min_delta(), r.max_delta()});
      } else if (step.has_random_rgb_to_gray()) {
        o.augmentations.push_back(data::RandomRGBtoGrayOptions{step.random_rgb_to_gray().probability()});
      } else if (step.has_random_distort_color()) {
        o.augmentations.push_back(data::RandomDistortColorOptions{step.random_distort_color().color_ordering()});
      } else if (step.has_random_scale_crop_and_pad_to_square()) {
        const config::RandomScaleCropAndPadToSquare& r = step.random_scale_crop_and_pad_to_square();
        o.augmentations.push_back(
            data::RandomScaleCropAndPadToSquareOptions{static_cast<int>(r.output_size()), r.scale_min(), r.scale_max()});
      } else {
        // Names the step that is not implemented yet (the oneof's field), and what is.
        const auto* chosen = step.GetReflection()->GetOneofFieldDescriptor(
            step, config::PreprocessingStep::descriptor()->FindOneofByName("preprocessing_step"));
        fail("train_config.data_augmentation_options: ", chosen ? std::string(chosen->name()) : "an empty step",
             " is not implemented yet; implemented: random_horizontal_flip, random_crop_image, "
             "random_adjust_brightness, random_adjust_contrast, random_adjust_hue, random_adjust_saturation, "
             "random_rgb_to_gray, random_distort_color, random_scale_crop_and_pad_to_square");
      }
    }
  } else {
    o.max_boxes = c.eval_input_reader().max_number_of_boxes();
  }
  return o;
}

}  // namespace trainer::tasks
