// THE table of what trainer implements. Every field of a config is either listed here or an
// error ("... is valid but not implemented yet"): nothing is ignored silently.
//
// When a feature lands, add its field paths here (and range checks to value_checks.cpp) in the
// same commit. Listing "a.b.c" also makes messages "a" and "a.b" usable. Paths and values are
// checked against the schema on first use, so a typo here fails every validation loudly.
#include "support.h"

namespace trainer::config::detail {

std::span<const ModelSupport> model_support() {
  static const ModelSupport models[] = {
      {"classifier", true, "the image classifier"},
      {"ssd", false, "the SSD / RetinaNet / EfficientDet detector"},
  };
  return models;
}

std::span<const ImplementedField> implemented_fields() {
  static const ImplementedField fields[] = {
      // The classifier (DetectionModel.classifier): ResNet-50 v1.5 and NVIDIA's recipe.
      {"model.classifier.resnet.depth", {"18", "34", "50", "101", "152"}},
      {"model.classifier.resnet.version", {"V1", "V1_5"}},
      {"model.classifier.resnet.width"},
      {"model.classifier.resnet.blocks_per_stage"},
      {"model.classifier.resnet.stem"},
      {"model.classifier.num_classes"},
      {"model.classifier.image_size"},
      {"model.classifier.input_channels"},
      {"model.classifier.batch_norm.decay"},
      {"model.classifier.batch_norm.epsilon"},
      {"model.classifier.weight_init.mode"},
      {"model.classifier.weight_init.scale"},
      {"model.classifier.label_smoothing"},
      {"model.classifier.mixup_alpha"},
      {"model.classifier.weight_decay.value"},
      {"model.classifier.weight_decay.exclude_batch_norm"},
      {"model.classifier.weight_decay.exclude_bias"},
      {"model.classifier.preprocessing.train_crop"},
      {"model.classifier.preprocessing.random_resized_crop.min_area"},
      {"model.classifier.preprocessing.random_resized_crop.max_area"},
      {"model.classifier.preprocessing.random_resized_crop.min_aspect_ratio"},
      {"model.classifier.preprocessing.random_resized_crop.max_aspect_ratio"},
      {"model.classifier.preprocessing.random_resized_crop.max_attempts"},
      {"model.classifier.preprocessing.random_horizontal_flip"},
      {"model.classifier.preprocessing.eval_resize"},
      {"model.classifier.preprocessing.mean"},
      {"model.classifier.preprocessing.stddev"},

      // Training: momentum SGD, the TF OD API's four LR schedules, clipping.
      {"train_config.batch_size"},
      {"train_config.num_steps"},
      {"train_config.gradient_clipping_by_norm"},
      {"train_config.use_bfloat16", {"false"}, "set precision { compute_dtype: BF16 } instead"},
      {"train_config.optimizer.use_moving_average", {"false"},
       "moving averages of the weights (EMA) come with the detectors; set it to false"},
      {"train_config.optimizer.momentum_optimizer.momentum_optimizer_value"},
      {"train_config.optimizer.momentum_optimizer.use_nesterov"},
      {"train_config.optimizer.momentum_optimizer.learning_rate.constant_learning_rate"
       ".learning_rate"},
      {"train_config.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate"
       ".learning_rate_base"},
      {"train_config.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate"
       ".total_steps"},
      {"train_config.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate"
       ".warmup_learning_rate"},
      {"train_config.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate"
       ".warmup_steps"},
      {"train_config.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate"
       ".hold_base_rate_steps"},
      {"train_config.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate"
       ".cosine_from_step_zero"},
      {"train_config.optimizer.momentum_optimizer.learning_rate.exponential_decay_learning_rate"
       ".{initial_learning_rate,decay_steps,decay_factor,staircase,burnin_learning_rate,burnin_steps,"
       "min_learning_rate}"},
      {"train_config.optimizer.momentum_optimizer.learning_rate.manual_step_learning_rate"
       ".{initial_learning_rate,schedule.step,schedule.learning_rate,warmup}"},

      // Input: classification sources, order and loader depth.
      // Evaluation order does not change its metrics; training always shuffles.
      {"train_input_reader.shuffle", {"true"}, "training always shuffles, deterministically from runtime.seed"},
      {"eval_input_reader.shuffle"},
      {"{train,eval}_input_reader.num_prefetch_batches"},
      {"{train,eval}_input_reader.num_workers"},
      {"{train,eval}_input_reader.tf_record_input_reader.input_path"},
      {"{train,eval}_input_reader.tf_record_input_reader.label_offset"},
      {"{train,eval}_input_reader.image_folder_input_reader.root"},
      {"{train,eval}_input_reader.idx_input_reader.images_file"},
      {"{train,eval}_input_reader.idx_input_reader.labels_file"},
      {"{train,eval}_input_reader.synthetic_input_reader.num_examples"},
      // Training reads its data endlessly and num_steps ends it.
      {"train_input_reader.num_epochs", {"0"}, "training ends after train_config.num_steps"},
      // Evaluation reads its data once; 0 (the default) means once too, as in the TF OD API,
      // which overrides it to 1 for evaluation.
      {"eval_input_reader.num_epochs", {"0", "1"}, "evaluation reads its data once"},

      // Evaluation: top-1 / top-5 accuracy.
      {"eval_config.batch_size"},
      {"eval_config.metrics_set", {"classification_metrics"}},
      {"eval_config.use_moving_averages", {"false"}},

      // trainer's own sections.
      {"runtime.device", {"CPU"},
       "the CUDA kernels are built and tested, but the training pipeline does not dispatch to them yet"},
      {"runtime.num_threads"},
      {"runtime.seed"},
      {"runtime.model_dir"},
      {"runtime.keep_checkpoint_max"},
      {"runtime.checkpoint_every_n_steps"},
      {"runtime.log_every_n_steps"},
      {"precision.compute_dtype", {"FP32", "TF32", "BF16"},
       "FP16 needs the CUDA pipeline (CPUs have no fp16 convolutions); use BF16"},
      {"precision.static_loss_scale"},
      {"precision.dynamic_loss_scale.initial_scale"},
      {"precision.dynamic_loss_scale.growth_interval"},
      {"precision.dynamic_loss_scale.growth_factor"},
      {"precision.dynamic_loss_scale.backoff_factor"},
      {"benchmark.warmup_steps"},
      {"benchmark.steps"},
      {"benchmark.inference_warmup_steps"},
      {"benchmark.inference_steps"},
      {"benchmark.inference_batch_size"},
      {"benchmark.synthetic_data"},
  };
  return fields;
}

}  // namespace trainer::config::detail
