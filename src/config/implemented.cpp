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
      {"ssd", true, "the SSD / RetinaNet / EfficientDet detector"},
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

      // The single-shot detector (DetectionModel.ssd): NVIDIA's SSD320 v1.2 and the TF OD API's
      // RetinaNet (ResNet + FPN, weight-shared box predictor, focal loss). src/tasks/README.md.
      {"model.ssd.num_classes"},
      {"model.ssd.feature_extractor.type",
       {"ssd_resnet50_v1_fpn", "ssd_resnet101_v1_fpn", "ssd_resnet152_v1_fpn", "ssd_resnet50_v1_fpn_keras",
        "ssd_resnet101_v1_fpn_keras", "ssd_resnet152_v1_fpn_keras", "ssd_efficientnet-b0_bifpn_keras",
        "ssd_efficientnet-b1_bifpn_keras", "ssd_efficientnet-b2_bifpn_keras", "ssd_efficientnet-b3_bifpn_keras",
        "ssd_efficientnet-b4_bifpn_keras", "ssd_efficientnet-b5_bifpn_keras", "ssd_efficientnet-b6_bifpn_keras",
        "ssd_efficientnet-b7_bifpn_keras"},
       "the ResNet-FPN and EfficientNet-BiFPN extractors are implemented"},
      {"model.ssd.feature_extractor.depth_multiplier", {"1"}, "the ResNet extractors support only 1"},
      {"model.ssd.feature_extractor.min_depth"},
      {"model.ssd.feature_extractor.pad_to_multiple", {"1"}},
      {"model.ssd.feature_extractor.use_explicit_padding", {"false"}},
      {"model.ssd.feature_extractor.use_depthwise", {"false"}},
      {"model.ssd.feature_extractor.override_base_feature_extractor_hyperparams"},
      {"model.ssd.feature_extractor.resnet.{width,blocks_per_stage}"},
      {"model.ssd.feature_extractor.backbone_batch_norm.{decay,epsilon}"},
      {"model.ssd.feature_extractor.fpn.{min_level,max_level,additional_layer_depth}"},
      {"model.ssd.feature_extractor.bifpn.{min_level,max_level,num_iterations,num_filters}"},
      {"model.ssd.feature_extractor.bifpn.combine_method", {"fast_attention"},
       "BiFPN nodes fuse by fast normalised fusion (automl's 'fastattn')"},
      // Nearest-neighbour 2x upsampling either way: the native op and the API's own give the same maps.
      {"model.ssd.feature_extractor.bifpn.use_native_resize_op"},
      {"model.ssd.feature_extractor.efficientnet.{width_coefficient,depth_coefficient,drop_connect_rate}"},
      {"model.ssd.{feature_extractor,box_predictor.weight_shared_convolutional_box_predictor}.conv_hyperparams.op",
       {"CONV"}},
      {"model.ssd.{feature_extractor,box_predictor.weight_shared_convolutional_box_predictor}.conv_hyperparams"
       ".activation",
       {"NONE", "RELU", "RELU_6", "SWISH"}},
      {"model.ssd.{feature_extractor,box_predictor.weight_shared_convolutional_box_predictor}.conv_hyperparams"
       ".regularizer.l2_regularizer.weight"},
      {"model.ssd.{feature_extractor,box_predictor.weight_shared_convolutional_box_predictor}.conv_hyperparams"
       ".initializer.{truncated_normal_initializer,random_normal_initializer}.{mean,stddev}"},
      // The layers' own default (TF's variance scaling: factor 2 over fan-in, truncated normal);
      // automl's EfficientDet heads use it instead of the API's small normals.
      {"model.ssd.{feature_extractor,box_predictor.weight_shared_convolutional_box_predictor}.conv_hyperparams"
       ".initializer.variance_scaling_initializer.factor",
       {"2"}},
      {"model.ssd.{feature_extractor,box_predictor.weight_shared_convolutional_box_predictor}.conv_hyperparams"
       ".initializer.variance_scaling_initializer.mode",
       {"FAN_IN"}},
      {"model.ssd.{feature_extractor,box_predictor.weight_shared_convolutional_box_predictor}.conv_hyperparams"
       ".initializer.variance_scaling_initializer.uniform",
       {"false"}},
      {"model.ssd.{feature_extractor,box_predictor.weight_shared_convolutional_box_predictor}.conv_hyperparams"
       ".batch_norm.{decay,epsilon}"},
      {"model.ssd.{feature_extractor,box_predictor.weight_shared_convolutional_box_predictor}.conv_hyperparams"
       ".force_use_bias"},
      {"model.ssd.{feature_extractor,box_predictor.weight_shared_convolutional_box_predictor}.conv_hyperparams"
       ".batch_norm.{scale,center,train}",
       {"true"}, "batchnorm always learns gamma and beta and trains with batch statistics here"},
      {"model.ssd.box_predictor.weight_shared_convolutional_box_predictor.{depth,num_layers_before_predictor,"
       "kernel_size,class_prediction_bias_init,share_prediction_tower}"},
      {"model.ssd.box_predictor.weight_shared_convolutional_box_predictor.box_code_size", {"4"}},
      {"model.ssd.box_predictor.weight_shared_convolutional_box_predictor.use_dropout", {"false"}},
      {"model.ssd.box_predictor.weight_shared_convolutional_box_predictor.use_depthwise"},
      {"model.ssd.box_predictor.weight_shared_convolutional_box_predictor.score_converter", {"IDENTITY"}},
      {"model.ssd.anchor_generator.multiscale_anchor_generator.{min_level,max_level,anchor_scale,aspect_ratios,"
       "scales_per_octave,normalize_coordinates}"},
      {"model.ssd.image_resizer.fixed_shape_resizer.{height,width}"},
      {"model.ssd.image_resizer.fixed_shape_resizer.resize_method", {"BILINEAR"}},
      {"model.ssd.image_resizer.fixed_shape_resizer.convert_to_grayscale", {"false"}},
      // preprocessor.resize_to_range, then zero padding to a max_dimension square: a fixed input.
      {"model.ssd.image_resizer.keep_aspect_ratio_resizer.{min_dimension,max_dimension}"},
      {"model.ssd.image_resizer.keep_aspect_ratio_resizer.pad_to_max_dimension", {"true"},
       "only a fixed model input is implemented: the resized image zero-padded to max_dimension x max_dimension"},
      {"model.ssd.image_resizer.keep_aspect_ratio_resizer.resize_method", {"BILINEAR"}},
      {"model.ssd.image_resizer.keep_aspect_ratio_resizer.convert_to_grayscale", {"false"}},
      {"model.ssd.box_coder.faster_rcnn_box_coder.{y_scale,x_scale,height_scale,width_scale}"},
      {"model.ssd.matcher.argmax_matcher.{matched_threshold,unmatched_threshold,ignore_thresholds,"
       "negatives_lower_than_unmatched,force_match_for_each_row,use_matmul_gather}"},
      {"model.ssd.similarity_calculator.iou_similarity"},
      {"model.ssd.encode_background_as_zeros", {"true"},
       "unmatched anchors get all-zero class targets (NVIDIA's and the TF2 zoo's configs)"},
      {"model.ssd.add_background_class"},
      {"model.ssd.{negative_class_weight,normalize_loss_by_num_matches,normalize_loc_loss_by_codesize}"},
      // Accepted with NVIDIA's code's meaning: the hyperparams' batch_norm.train re-enables batch
      // statistics inside the extractor and predictor, so freeze_batchnorm changes nothing there,
      // and moving averages are updated every step either way (src/tasks/README.md).
      {"model.ssd.{freeze_batchnorm,inplace_batchnorm_update}"},
      {"model.ssd.loss.classification_loss.weighted_sigmoid_focal.{alpha,gamma}"},
      {"model.ssd.loss.localization_loss.weighted_smooth_l1.delta"},
      {"model.ssd.loss.{classification_loss.weighted_sigmoid_focal,localization_loss.weighted_smooth_l1}"
       ".anchorwise_output",
       {"false"}},
      {"model.ssd.loss.{classification_weight,localization_weight}"},
      {"model.ssd.post_processing.batch_non_max_suppression.{score_threshold,iou_threshold,"
       "max_detections_per_class,max_total_detections,use_static_shapes}"},
      {"model.ssd.post_processing.batch_non_max_suppression.soft_nms_sigma"},
      {"model.ssd.post_processing.batch_non_max_suppression.use_class_agnostic_nms", {"false"}},
      {"model.ssd.post_processing.score_converter", {"SIGMOID"}},
      {"model.ssd.post_processing.logit_scale"},

      // Detection training and evaluation.
      {"train_config.fine_tune_checkpoint"},
      {"train_config.fine_tune_checkpoint_type", {"", "classification", "detection"}},
      {"train_config.fine_tune_checkpoint_version", {"V1", "V2"}},
      // Synchronous data parallelism is the only kind: these describe NVIDIA's Horovod setup.
      {"train_config.{sync_replicas,replicas_to_aggregate,startup_delay_steps}"},
      {"train_config.max_number_of_boxes"},
      // How TF pads boxes to a static shape; batches here hold each image's own boxes.
      {"train_config.unpad_groundtruth_tensors"},
      {"train_config.data_augmentation_options.random_horizontal_flip"},
      {"train_config.data_augmentation_options.random_crop_image.{min_object_covered,min_aspect_ratio,"
       "max_aspect_ratio,min_area,max_area,overlap_thresh,random_coef,clip_boxes}"},
      {"train_config.data_augmentation_options.random_adjust_brightness.max_delta"},
      {"train_config.data_augmentation_options.{random_adjust_contrast,random_adjust_saturation}.{min_delta,"
       "max_delta}"},
      {"train_config.data_augmentation_options.random_adjust_hue.max_delta"},
      {"train_config.data_augmentation_options.random_rgb_to_gray.probability"},
      {"train_config.data_augmentation_options.random_distort_color.color_ordering", {"0", "1"}},
      {"train_config.data_augmentation_options.random_scale_crop_and_pad_to_square.{output_size,scale_min,"
       "scale_max}"},
      {"{train,eval}_input_reader.label_map_path"},
      {"{train,eval}_input_reader.max_number_of_boxes"},
      {"{train,eval}_input_reader.num_readers"},
      {"{train,eval}_input_reader.coco_json_input_reader.{annotations_file,image_dir}"},
      {"eval_config.{num_examples,num_visualizations,min_score_threshold,max_num_boxes_to_visualize}"},

      // Training: momentum SGD, the TF OD API's four LR schedules, clipping.
      {"train_config.batch_size"},
      {"train_config.num_steps"},
      {"train_config.{gradient_clipping_by_norm,gradient_clipping_by_norm_per_tensor}"},
      // true: bfloat16 compute, as precision { compute_dtype: BF16 } (the TF2 zoo's TPU configs).
      {"train_config.use_bfloat16"},
      {"train_config.optimizer.use_moving_average"},
      {"train_config.optimizer.moving_average_decay"},
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
      {"{train,eval}_input_reader.max_bad_sample_fraction"},
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
      {"eval_config.metrics_set", {"classification_metrics", "coco_detection_metrics"}},
      {"eval_config.use_moving_averages"},

      // trainer's own sections.
      {"runtime.device", {"CPU", "CUDA"}},
      {"runtime.conv_backend", {"NATIVE", "CUDNN"}},
      {"runtime.cpu_conv_algorithm", {"WINOGRAD", "DIRECT"}},
      {"runtime.num_threads"},
      {"runtime.seed"},
      {"runtime.model_dir"},
      {"runtime.tensorboard_dir"},
      {"runtime.keep_checkpoint_max"},
      {"runtime.check_numerics"},
      {"runtime.checkpoint_every_n_steps"},
      {"runtime.log_every_n_steps"},
      {"runtime.collective_timeout_seconds"},
      {"runtime.allreduce_bucket_mb"},
      {"runtime.sync_batchnorm"},
      {"precision.compute_dtype"},
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
      {"benchmark.per_layer"},
  };
  return fields;
}

}  // namespace trainer::config::detail
