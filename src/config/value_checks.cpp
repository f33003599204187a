// Range and consistency checks of the values trainer implements; each problem names its path.
#include <cmath>
#include <string>
#include <vector>

#include "support.h"
#include "trainer/core/error.h"

namespace trainer::config::detail {
namespace {

class Checker {
 public:
  explicit Checker(std::vector<std::string>& problems) : problems_(problems) {}

  template <class... Args>
  void require(bool ok, const std::string& path, Args&&... what) {
    if (!ok) problems_.push_back(str(path, ": ", std::forward<Args>(what)...));
  }
  // NaN and infinities fail every range check.
  void at_least(double value, double low, const std::string& path) {
    require(std::isfinite(value) && value >= low, path, "must be >= ", low, ", got ", value);
  }
  void above(double value, double low, const std::string& path) {
    require(std::isfinite(value) && value > low, path, "must be > ", low, ", got ", value);
  }
  // [low, high)
  void in_range(double value, double low, double high, const std::string& path) {
    require(std::isfinite(value) && value >= low && value < high, path, "must be in [", low, ", ",
            high, "), got ", value);
  }

 private:
  std::vector<std::string>& problems_;
};

void check_classifier(const Classifier& c, Checker& check) {
  const std::string at = "model.classifier";
  check.require(c.has_resnet(), at, "no architecture chosen; set e.g. resnet { depth: 50 }");
  if (c.has_resnet()) {
    const ResNet& r = c.resnet();
    if (r.blocks_per_stage_size() > 0) {
      check.require(!r.has_depth(), at + ".resnet",
                    "set either depth or blocks_per_stage, not both");
      for (int i = 0; i < r.blocks_per_stage_size(); ++i)
        check.above(r.blocks_per_stage(i), 0, str(at, ".resnet.blocks_per_stage[", i, "]"));
    } else {
      const unsigned d = r.depth();
      check.require(d == 18 || d == 34 || d == 50 || d == 101 || d == 152, at + ".resnet.depth",
                    "must be 18, 34, 50, 101 or 152, got ", d);
    }
    check.above(r.width(), 0, at + ".resnet.width");
  }
  check.at_least(c.num_classes(), 2, at + ".num_classes");
  check.above(c.image_size(), 0, at + ".image_size");
  check.above(c.input_channels(), 0, at + ".input_channels");
  check.in_range(c.batch_norm().decay(), 0, 1, at + ".batch_norm.decay");
  check.above(c.batch_norm().epsilon(), 0, at + ".batch_norm.epsilon");
  check.above(c.weight_init().scale(), 0, at + ".weight_init.scale");
  check.in_range(c.label_smoothing(), 0, 1, at + ".label_smoothing");
  check.at_least(c.mixup_alpha(), 0, at + ".mixup_alpha");
  check.at_least(c.weight_decay().value(), 0, at + ".weight_decay.value");

  const ClassificationPreprocessing& p = c.preprocessing();
  const std::string pre = at + ".preprocessing";
  const RandomResizedCrop& crop = p.random_resized_crop();
  check.require(std::isfinite(crop.min_area()) && crop.min_area() > 0 &&
                    crop.min_area() <= crop.max_area() && crop.max_area() <= 1,
                pre + ".random_resized_crop", "needs 0 < min_area <= max_area <= 1, got ",
                crop.min_area(), " and ", crop.max_area());
  check.require(std::isfinite(crop.max_aspect_ratio()) && crop.min_aspect_ratio() > 0 &&
                    crop.min_aspect_ratio() <= crop.max_aspect_ratio(),
                pre + ".random_resized_crop",
                "needs 0 < min_aspect_ratio <= max_aspect_ratio, got ", crop.min_aspect_ratio(),
                " and ", crop.max_aspect_ratio());
  check.above(crop.max_attempts(), 0, pre + ".random_resized_crop.max_attempts");
  check.require(p.eval_resize() >= c.image_size(), pre + ".eval_resize",
                "must be >= model.classifier.image_size (", c.image_size(), "), got ",
                p.eval_resize());
  const int channels = static_cast<int>(c.input_channels());
  check.require(p.mean_size() == channels, pre + ".mean", "needs one value per input channel (",
                channels, "), got ", p.mean_size());
  check.require(p.stddev_size() == channels, pre + ".stddev",
                "needs one value per input channel (", channels, "), got ", p.stddev_size());
  for (int i = 0; i < p.mean_size(); ++i)
    check.require(std::isfinite(p.mean(i)), str(pre, ".mean[", i, "]"), "must be finite, got ",
                  p.mean(i));
  for (int i = 0; i < p.stddev_size(); ++i)
    check.above(p.stddev(i), 0, str(pre, ".stddev[", i, "]"));
}

void check_learning_rate(const LearningRate& lr, const std::string& at, Checker& check) {
  check.require(lr.learning_rate_case() != LearningRate::LEARNING_RATE_NOT_SET, at,
                "no schedule chosen; set e.g. constant_learning_rate { learning_rate: 0.1 }");
  if (lr.has_constant_learning_rate())
    check.at_least(lr.constant_learning_rate().learning_rate(), 0,
                   at + ".constant_learning_rate.learning_rate");
  if (lr.has_exponential_decay_learning_rate()) {
    const ExponentialDecayLearningRate& e = lr.exponential_decay_learning_rate();
    const std::string x = at + ".exponential_decay_learning_rate";
    check.at_least(e.initial_learning_rate(), 0, x + ".initial_learning_rate");
    check.above(e.decay_steps(), 0, x + ".decay_steps");
    check.above(e.decay_factor(), 0, x + ".decay_factor");
    check.at_least(e.burnin_learning_rate(), 0, x + ".burnin_learning_rate");
    check.at_least(e.min_learning_rate(), 0, x + ".min_learning_rate");
  }
  if (lr.has_manual_step_learning_rate()) {
    // The API's manual_stepping raises on each of these.
    const ManualStepLearningRate& m = lr.manual_step_learning_rate();
    const std::string x = at + ".manual_step_learning_rate";
    check.at_least(m.initial_learning_rate(), 0, x + ".initial_learning_rate");
    check.require(m.schedule_size() > 0, x + ".schedule", "is empty; give at least one { step learning_rate }");
    for (int i = 0; i < m.schedule_size(); ++i) {
      const std::string entry = str(x, ".schedule[", i, "]");
      check.at_least(m.schedule(i).learning_rate(), 0, entry + ".learning_rate");
      if (i == 0)
        check.above(m.schedule(i).step(), 0, entry + ".step");
      else
        check.require(m.schedule(i).step() > m.schedule(i - 1).step(), entry + ".step",
                      "must be greater than the previous entry's step (", m.schedule(i - 1).step(), "), got ",
                      m.schedule(i).step());
    }
  }
  if (!lr.has_cosine_decay_learning_rate()) return;
  const CosineDecayLearningRate& cosine = lr.cosine_decay_learning_rate();
  const std::string c = at + ".cosine_decay_learning_rate";
  check.at_least(cosine.learning_rate_base(), 0, c + ".learning_rate_base");
  check.at_least(cosine.warmup_learning_rate(), 0, c + ".warmup_learning_rate");
  check.above(cosine.total_steps(), 0, c + ".total_steps");
  // The API's cosine_decay_with_warmup raises on both of these (the first is only worth
  // saying when both rates are valid on their own).
  check.require(!(cosine.learning_rate_base() >= 0 && cosine.warmup_learning_rate() >= 0) ||
                    cosine.warmup_learning_rate() <= cosine.learning_rate_base(),
                c + ".warmup_learning_rate", "must be <= learning_rate_base (",
                cosine.learning_rate_base(), "), got ", cosine.warmup_learning_rate());
  check.require(uint64_t{cosine.warmup_steps()} + cosine.hold_base_rate_steps() <=
                    cosine.total_steps(),
                c + ".total_steps", "must be >= warmup_steps + hold_base_rate_steps (",
                uint64_t{cosine.warmup_steps()} + cosine.hold_base_rate_steps(), "), got ",
                cosine.total_steps());
  check.require(!cosine.cosine_from_step_zero() || cosine.hold_base_rate_steps() == 0,
                c + ".hold_base_rate_steps", "must be 0 with cosine_from_step_zero, got ",
                cosine.hold_base_rate_steps());
}

void check_train(const TrainConfig& t, Checker& check) {
  check.above(t.batch_size(), 0, "train_config.batch_size");
  check.at_least(t.gradient_clipping_by_norm(), 0, "train_config.gradient_clipping_by_norm");
  if (!t.has_optimizer()) return;
  const Optimizer& o = t.optimizer();
  check.require(o.optimizer_case() != Optimizer::OPTIMIZER_NOT_SET, "train_config.optimizer",
                "no optimizer chosen; set e.g. momentum_optimizer { ... }");
  if (!o.has_momentum_optimizer()) return;
  const std::string at = "train_config.optimizer.momentum_optimizer";
  check.in_range(o.momentum_optimizer().momentum_optimizer_value(), 0, 1,
                 at + ".momentum_optimizer_value");
  check_learning_rate(o.momentum_optimizer().learning_rate(), at + ".learning_rate", check);
}

// train_config.data_augmentation_options: the ranges of random_scale_crop_and_pad_to_square, and
// the combinations the detection transform cannot run as one resample (detection_transform.h):
// only random_horizontal_flip after it, once, and an image resizer that leaves its
// output_size square as it is.
void check_augmentation(const TrainEvalPipelineConfig& config, Checker& check) {
  const auto& steps = config.train_config().data_augmentation_options();
  int scale_step = -1;
  for (int i = 0; i < steps.size(); ++i) {
    const std::string at = str("train_config.data_augmentation_options[", i, "]");
    if (scale_step >= 0 && !steps[i].has_random_horizontal_flip())
      check.require(false, at, "only random_horizontal_flip is implemented after random_scale_crop_and_pad_to_square",
                    " (data_augmentation_options[", scale_step, "]), whose output is zero-padded");
    if (!steps[i].has_random_scale_crop_and_pad_to_square()) continue;
    const RandomScaleCropAndPadToSquare& r = steps[i].random_scale_crop_and_pad_to_square();
    const std::string scp = at + ".random_scale_crop_and_pad_to_square";
    check.above(r.output_size(), 0, scp + ".output_size");
    check.above(r.scale_min(), 0, scp + ".scale_min");
    check.require(std::isfinite(r.scale_max()) && r.scale_min() <= r.scale_max(), scp + ".scale_max",
                  "must be >= scale_min (", r.scale_min(), "), got ", r.scale_max());
    if (scale_step < 0) scale_step = i;
    if (!config.model().has_ssd() || r.output_size() <= 0) continue;
    const ImageResizer& resizer = config.model().ssd().image_resizer();
    const int size = r.output_size();
    if (resizer.has_fixed_shape_resizer())
      check.require(resizer.fixed_shape_resizer().height() == size && resizer.fixed_shape_resizer().width() == size,
                    scp + ".output_size", size, " needs model.ssd.image_resizer.fixed_shape_resizer ", size, "x", size,
                    " (got ", resizer.fixed_shape_resizer().width(), "x", resizer.fixed_shape_resizer().height(),
                    "): resizing its output again is not implemented");
    if (resizer.has_keep_aspect_ratio_resizer())
      check.require(resizer.keep_aspect_ratio_resizer().min_dimension() == size &&
                        resizer.keep_aspect_ratio_resizer().max_dimension() == size,
                    scp + ".output_size", size,
                    " needs model.ssd.image_resizer.keep_aspect_ratio_resizer min_dimension = max_dimension = ", size,
                    " (got ", resizer.keep_aspect_ratio_resizer().min_dimension(), " and ",
                    resizer.keep_aspect_ratio_resizer().max_dimension(), "): resizing its output again is not implemented");
  }
}

void check_input(const InputReader& r, const std::string& at, Checker& check) {
  check.require(r.input_reader_case() != InputReader::INPUT_READER_NOT_SET, at,
                "no data source; set one of tf_record_input_reader, image_folder_input_reader,",
                " idx_input_reader or synthetic_input_reader");
  if (r.num_prefetch_batches() == -1)
    check.require(false, at + ".num_prefetch_batches",
                  "-1 (autotune) is valid but not implemented yet; give a depth >= 1");
  else
    check.at_least(r.num_prefetch_batches(), 1, at + ".num_prefetch_batches");
  check.at_least(r.num_workers(), 1, at + ".num_workers");
  check.in_range(r.max_bad_sample_fraction(), 0, 1, at + ".max_bad_sample_fraction");
  if (r.has_synthetic_input_reader())
    check.above(r.synthetic_input_reader().num_examples(), 0,
                at + ".synthetic_input_reader.num_examples");
  if (r.has_tf_record_input_reader()) {
    const TFRecordInputReader& tf = r.tf_record_input_reader();
    check.require(tf.input_path_size() > 0, at + ".tf_record_input_reader.input_path",
                  "needs at least one file or pattern");
    for (int i = 0; i < tf.input_path_size(); ++i)
      check.require(!tf.input_path(i).empty(),
                    str(at, ".tf_record_input_reader.input_path[", i, "]"), "is empty");
  }
  if (r.has_image_folder_input_reader())
    check.require(!r.image_folder_input_reader().root().empty(),
                  at + ".image_folder_input_reader.root", "is empty");
  if (r.has_idx_input_reader()) {
    check.require(!r.idx_input_reader().images_file().empty(),
                  at + ".idx_input_reader.images_file", "is empty");
    check.require(!r.idx_input_reader().labels_file().empty(),
                  at + ".idx_input_reader.labels_file", "is empty");
  }
}

void check_precision(const PrecisionConfig& p, Checker& check) {
  if (p.has_static_loss_scale())
    check.above(p.static_loss_scale(), 0, "precision.static_loss_scale");
  if (!p.has_dynamic_loss_scale()) return;
  const DynamicLossScale& d = p.dynamic_loss_scale();
  const std::string at = "precision.dynamic_loss_scale";
  check.above(d.initial_scale(), 0, at + ".initial_scale");
  check.above(d.growth_interval(), 0, at + ".growth_interval");
  check.above(d.growth_factor(), 1, at + ".growth_factor");
  check.require(std::isfinite(d.backoff_factor()) && d.backoff_factor() > 0 &&
                    d.backoff_factor() < 1,
                at + ".backoff_factor", "must be in (0, 1), got ", d.backoff_factor());
}

}  // namespace

void check_ssd(const Ssd& ssd, Checker& check) {
  const std::string at = "model.ssd";
  check.above(ssd.num_classes(), 0, at + ".num_classes");
  const ImageResizer& resizer = ssd.image_resizer();
  check.require(resizer.has_fixed_shape_resizer() || resizer.has_keep_aspect_ratio_resizer(), at + ".image_resizer",
                "set fixed_shape_resizer or keep_aspect_ratio_resizer");
  if (resizer.has_fixed_shape_resizer()) {
    check.above(resizer.fixed_shape_resizer().height(), 0, at + ".image_resizer.fixed_shape_resizer.height");
    check.above(resizer.fixed_shape_resizer().width(), 0, at + ".image_resizer.fixed_shape_resizer.width");
  }
  if (resizer.has_keep_aspect_ratio_resizer()) {
    // image_resizer_builder raises on min_dimension > max_dimension.
    const KeepAspectRatioResizer& k = resizer.keep_aspect_ratio_resizer();
    const std::string keep = at + ".image_resizer.keep_aspect_ratio_resizer";
    check.above(k.min_dimension(), 0, keep + ".min_dimension");
    check.require(k.min_dimension() <= k.max_dimension(), keep + ".max_dimension", "must be >= min_dimension (",
                  k.min_dimension(), "), got ", k.max_dimension());
  }
  const auto& fe = ssd.feature_extractor();
  const bool efficientnet = fe.type().rfind("ssd_efficientnet", 0) == 0;
  if (efficientnet) {
    check.require(fe.has_bifpn(), at + ".feature_extractor", fe.type(), " needs a bifpn { } section");
    check.above(fe.bifpn().num_iterations(), 0, at + ".feature_extractor.bifpn.num_iterations");
    check.above(fe.bifpn().num_filters(), 0, at + ".feature_extractor.bifpn.num_filters");
    check.require(fe.bifpn().min_level() >= 2 && fe.bifpn().min_level() < 5 &&
                      fe.bifpn().max_level() >= fe.bifpn().min_level(),
                  at + ".feature_extractor.bifpn", "levels ", fe.bifpn().min_level(), "..", fe.bifpn().max_level(),
                  " (need 2 <= min_level < 5 and min_level <= max_level)");
    if (fe.has_efficientnet()) {
      const std::string e = at + ".feature_extractor.efficientnet";
      if (fe.efficientnet().has_width_coefficient()) check.above(fe.efficientnet().width_coefficient(), 0, e + ".width_coefficient");
      if (fe.efficientnet().has_depth_coefficient()) check.above(fe.efficientnet().depth_coefficient(), 0, e + ".depth_coefficient");
      check.in_range(fe.efficientnet().drop_connect_rate(), 0, 1, e + ".drop_connect_rate");
    }
  } else {
    check.require(fe.has_fpn(), at + ".feature_extractor", "needs an fpn { } section");
    check.require(!fe.has_efficientnet(), at + ".feature_extractor.efficientnet", "applies to the ssd_efficientnet-* types");
    // The FPN's smoothing and extra convolutions are followed by batchnorm and have no bias.
    check.require(!fe.conv_hyperparams().force_use_bias(), at + ".feature_extractor.conv_hyperparams.force_use_bias",
                  "true is implemented for the EfficientNet-BiFPN extractors only");
  }
  check.require(ssd.box_predictor().has_weight_shared_convolutional_box_predictor(), at + ".box_predictor",
                "weight_shared_convolutional_box_predictor is implemented");
  check.require(ssd.anchor_generator().has_multiscale_anchor_generator(), at + ".anchor_generator",
                "multiscale_anchor_generator is implemented");
  check.require(ssd.box_coder().has_faster_rcnn_box_coder(), at + ".box_coder", "faster_rcnn_box_coder is implemented");
  check.require(ssd.matcher().has_argmax_matcher(), at + ".matcher", "argmax_matcher is implemented");
  check.require(ssd.similarity_calculator().has_iou_similarity(), at + ".similarity_calculator",
                "iou_similarity is implemented");
  check.require(ssd.loss().classification_loss().has_weighted_sigmoid_focal(), at + ".loss.classification_loss",
                "weighted_sigmoid_focal is implemented");
  check.require(ssd.loss().localization_loss().has_weighted_smooth_l1(), at + ".loss.localization_loss",
                "weighted_smooth_l1 is implemented");
  check.require(ssd.post_processing().has_batch_non_max_suppression(), at + ".post_processing",
                "needs batch_non_max_suppression { }");
  const int min_level = efficientnet ? fe.bifpn().min_level() : fe.fpn().min_level();
  const int max_level = efficientnet ? fe.bifpn().max_level() : fe.fpn().max_level();
  const auto& anchors = ssd.anchor_generator().multiscale_anchor_generator();
  check.require(min_level == anchors.min_level() && max_level == anchors.max_level(),
                at + ".anchor_generator.multiscale_anchor_generator", "levels ", anchors.min_level(), "..",
                anchors.max_level(), " differ from the feature pyramid's ", min_level, "..", max_level);
  const auto& m = ssd.matcher().argmax_matcher();
  check.require(m.unmatched_threshold() <= m.matched_threshold(), at + ".matcher.argmax_matcher",
                "unmatched_threshold (", m.unmatched_threshold(), ") must be <= matched_threshold (",
                m.matched_threshold(), ")");
  check.in_range(ssd.post_processing().batch_non_max_suppression().iou_threshold(), 0, 1.000001,
                 at + ".post_processing.batch_non_max_suppression.iou_threshold");
}

void check_values(const TrainEvalPipelineConfig& config, std::vector<std::string>& problems) {
  Checker check(problems);
  if (config.model().has_classifier()) check_classifier(config.model().classifier(), check);
  if (config.model().has_ssd()) check_ssd(config.model().ssd(), check);
  const char* metrics = config.model().has_ssd() ? "coco_detection_metrics" : "classification_metrics";
  for (int i = 0; i < config.eval_config().metrics_set_size(); ++i) {
    const std::string& set = config.eval_config().metrics_set(i);
    const bool implemented = set == "classification_metrics" || set == "coco_detection_metrics";  // else named already
    check.require(!implemented || set == metrics, str("eval_config.metrics_set[", i, "]"), "\"", set,
                  "\" does not fit this model; use \"", metrics, "\"");
  }
  if (config.has_train_config()) {
    check_train(config.train_config(), check);
    check_augmentation(config, check);
  }
  if (config.has_train_input_reader())
    check_input(config.train_input_reader(), "train_input_reader", check);
  if (config.has_eval_input_reader())
    check_input(config.eval_input_reader(), "eval_input_reader", check);
  if (config.has_eval_config()) check.above(config.eval_config().batch_size(), 0, "eval_config.batch_size");
  check.above(config.runtime().log_every_n_steps(), 0, "runtime.log_every_n_steps");
  if (config.has_precision()) check_precision(config.precision(), check);
  check.above(config.benchmark().steps(), 0, "benchmark.steps");
  check.above(config.benchmark().inference_steps(), 0, "benchmark.inference_steps");
}

}  // namespace trainer::config::detail
