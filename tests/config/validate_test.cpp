// Validation: implemented fields come from one table, everything else is named by path;
// bad values are named by path; the recipe config is valid and carries NVIDIA's numbers.
#include <gtest/gtest.h>

#include <algorithm>

#include "test_util.h"
#include "trainer/config/config.h"

namespace trainer::config {
namespace {

using testing::error_of;
using testing::kTfodConfigs;
using testing::joined;
using testing::repo_path;

const std::string kResnet = "configs/resnet50_v1_5.pbtxt";

std::vector<std::string> problems_with(const std::string& override_text) {
  return validation_problems(load_pipeline_config(repo_path(kResnet), {override_text}));
}

TEST(ConfigValidate, ResnetConfigIsValid) {
  const TrainEvalPipelineConfig config = load_pipeline_config(repo_path(kResnet));
  EXPECT_EQ(joined(validation_problems(config)), "");
  EXPECT_NO_THROW(validate(config, kResnet));
}

TEST(ConfigValidate, ResnetConfigCarriesNvidiasRecipe) {
  const TrainEvalPipelineConfig config = load_pipeline_config(repo_path(kResnet));
  const Classifier& c = config.model().classifier();
  EXPECT_EQ(c.resnet().depth(), 50u);
  EXPECT_EQ(c.resnet().version(), ResNet::V1_5);
  EXPECT_EQ(c.num_classes(), 1000u);  // 25,557,032 parameters
  EXPECT_EQ(c.weight_decay().value(), 1.0f / 32768);
  EXPECT_FLOAT_EQ(c.label_smoothing(), 0.1f);
  const TrainConfig& t = config.train_config();
  const unsigned steps_per_epoch = 1281167 / 256;
  EXPECT_EQ(t.batch_size(), 256u);
  EXPECT_EQ(t.num_steps(), 90 * steps_per_epoch);
  const MomentumOptimizer& m = t.optimizer().momentum_optimizer();
  EXPECT_FLOAT_EQ(m.momentum_optimizer_value(), 0.875f);
  const CosineDecayLearningRate& lr = m.learning_rate().cosine_decay_learning_rate();
  EXPECT_FLOAT_EQ(lr.learning_rate_base(), 0.256f);
  EXPECT_EQ(lr.total_steps(), 90 * steps_per_epoch);
  EXPECT_EQ(lr.warmup_steps(), 8 * steps_per_epoch);
  EXPECT_EQ(lr.warmup_learning_rate(), 0.0f);
  EXPECT_TRUE(lr.cosine_from_step_zero());
  EXPECT_FALSE(t.optimizer().use_moving_average());
}

// NVIDIA's SSD320 configs, the TF2 zoo's RetinaNet (ResNet-50 FPN) and its EfficientDet-D0
// validate as published.
TEST(ConfigValidate, TfodConfigsValidate) {
  for (const char* file : kTfodConfigs) {
    const std::vector<std::string> problems = validation_problems(load_pipeline_config(repo_path(file)));
    EXPECT_TRUE(problems.empty()) << file << ": " << joined(problems);
  }
}

// The demos (classification and the two detection ones) validate as committed.
TEST(ConfigValidate, DemoConfigsValidate) {
  for (const char* file : {"configs/demo/fashion_mnist_resnet.pbtxt", "configs/demo/ssd_deepforest.pbtxt",
                           "configs/demo/efficientdet_deepforest.pbtxt"}) {
    const std::vector<std::string> problems = validation_problems(load_pipeline_config(repo_path(file)));
    EXPECT_TRUE(problems.empty()) << file << ": " << joined(problems);
  }
}

TEST(ConfigValidate, MissingModelIsNamed) {
  EXPECT_EQ(validation_problems(TrainEvalPipelineConfig{})[0].rfind("model: missing", 0), 0u);
  EXPECT_EQ(validation_problems(parse_pipeline_text("model {}", "x"))[0]
                .rfind("model: no model chosen", 0),
            0u);
}

TEST(ConfigValidate, UnimplementedFieldsAreNamedByPath) {
  struct Case {
    const char* override_text;
    const char* problem;
  };
  const Case cases[] = {
      {"train_config { optimizer { adam_optimizer {} } }",
       "train_config.optimizer.adam_optimizer is valid but not implemented yet"},
      {"train_input_reader { load_instance_masks: true }",
       "train_input_reader.load_instance_masks: true is valid but not implemented yet"},
      {"train_config { data_augmentation_options { random_jitter_boxes {} } }",
       "train_config.data_augmentation_options[0].random_jitter_boxes is valid but not implemented yet"},
      {"eval_config { include_metrics_per_category: true }",
       "eval_config.include_metrics_per_category: true is valid but not implemented yet"},
  };
  for (const Case& c : cases) {
    const std::vector<std::string> problems = problems_with(c.override_text);
    ASSERT_EQ(problems.size(), 1u) << c.override_text << "\n" << joined(problems);
    EXPECT_EQ(problems[0], c.problem);
  }
}

TEST(ConfigValidate, UnimplementedValuesAreNamedWithTheImplementedOnes) {
  EXPECT_EQ(joined(problems_with("train_input_reader { shuffle: false }")),
            "train_input_reader.shuffle: false is valid but not implemented yet (implemented: true); "
            "training always shuffles, deterministically from runtime.seed\n");
  EXPECT_EQ(joined(problems_with("eval_config { metrics_set: [\"classification_metrics\", "
                                 "\"coco_detection_metrics\"] }")),
            "eval_config.metrics_set[1]: \"coco_detection_metrics\" does not fit this model; use "
            "\"classification_metrics\"\n");
  EXPECT_EQ(joined(problems_with("eval_config { metrics_set: \"pascal_voc_detection_metrics\" }")),
            "eval_config.metrics_set[0]: \"pascal_voc_detection_metrics\" is valid but not implemented yet "
            "(implemented: classification_metrics, coco_detection_metrics)\n");
}

// batch_norm.scale defaults to false in the TF OD API; trainer's batchnorm always learns gamma.
TEST(ConfigValidate, AbsentFieldsMustHaveAnImplementedDefault) {
  TrainEvalPipelineConfig config = load_pipeline_config(repo_path("configs/tfod/ssd320_full_8gpus.config"));
  config.mutable_model()->mutable_ssd()->mutable_feature_extractor()->mutable_conv_hyperparams()
      ->mutable_batch_norm()->clear_scale();
  const std::vector<std::string> problems = validation_problems(config);
  ASSERT_EQ(problems.size(), 1u) << joined(problems);
  EXPECT_EQ(problems[0].rfind("model.ssd.feature_extractor.conv_hyperparams.batch_norm.scale: false (the default) is "
                              "valid but not implemented yet (implemented: true)",
                              0),
            0u)
      << problems[0];
}

TEST(ConfigValidate, BadValuesAreNamedByPath) {
  struct Case {
    const char* override_text;
    const char* problem;
  };
  const Case cases[] = {
      {"train_config { batch_size: 0 }", "train_config.batch_size: must be > 0, got 0"},
      {"train_config { optimizer { momentum_optimizer { learning_rate { "
       "cosine_decay_learning_rate { learning_rate_base: -0.1 } } } } }",
       "train_config.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate."
       "learning_rate_base: must be >= 0, got -0.1"},
      {"train_config { optimizer { momentum_optimizer { learning_rate { "
       "cosine_decay_learning_rate { warmup_steps: 500000 } } } } }",
       "train_config.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate."
       "total_steps: must be >= warmup_steps + hold_base_rate_steps (500000), got 450360"},
      {"train_config { optimizer { momentum_optimizer { momentum_optimizer_value: 1 } } }",
       "train_config.optimizer.momentum_optimizer.momentum_optimizer_value: must be in [0, 1), "
       "got 1"},
      {"train_config { gradient_clipping_by_norm: nan }",
       "train_config.gradient_clipping_by_norm: must be >= 0, got nan"},
      {"model { classifier { label_smoothing: 1.5 } }",
       "model.classifier.label_smoothing: must be in [0, 1), got 1.5"},
      {"model { classifier { num_classes: 1 } }",
       "model.classifier.num_classes: must be >= 2, got 1"},
      {"model { classifier { preprocessing { eval_resize: 200 } } }",
       "model.classifier.preprocessing.eval_resize: must be >= model.classifier.image_size "
       "(224), got 200"},
      {"model { classifier { preprocessing { stddev: [1, 0, 1] } } }",
       "model.classifier.preprocessing.stddev[1]: must be > 0, got 0"},
      {"model { classifier { preprocessing { mean: [1, 2] } } }",
       "model.classifier.preprocessing.mean: needs one value per input channel (3), got 2"},
      {"model { classifier { preprocessing { random_resized_crop { min_area: 0.5 max_area: "
       "0.2 } } } }",
       "model.classifier.preprocessing.random_resized_crop: needs 0 < min_area <= max_area <= 1,"
       " got 0.5 and 0.2"},
      {"train_input_reader { num_prefetch_batches: -1 }",
       "train_input_reader.num_prefetch_batches: -1 (autotune) is valid but not implemented "
       "yet; give a depth >= 1"},
      {"eval_input_reader { tf_record_input_reader { input_path: \"\" } }",
       "eval_input_reader.tf_record_input_reader.input_path[0]: is empty"},
      {"precision { compute_dtype: BF16 dynamic_loss_scale { growth_factor: 1 } }",
       "precision.dynamic_loss_scale.growth_factor: must be > 1, got 1"},
      {"precision { static_loss_scale: 0 }", "precision.static_loss_scale: must be > 0, got 0"},
      {"benchmark { steps: 0 }", "benchmark.steps: must be > 0, got 0"},
      {"train_input_reader { num_workers: 0 }",
       "train_input_reader.num_workers: must be >= 1, got 0"},
      {"train_input_reader { synthetic_input_reader { num_examples: 0 } }",
       "train_input_reader.synthetic_input_reader.num_examples: must be > 0, got 0"},
      {"eval_config { batch_size: 0 }", "eval_config.batch_size: must be > 0, got 0"},
  };
  for (const Case& c : cases) {
    const std::vector<std::string> problems = problems_with(c.override_text);
    ASSERT_EQ(problems.size(), 1u) << c.override_text << "\n" << joined(problems);
    EXPECT_EQ(problems[0], c.problem);
  }
}

TEST(ConfigValidate, MissingDataSourceIsNamed) {
  TrainEvalPipelineConfig config = parse_pipeline_text(
      "model { classifier { resnet {} } } train_input_reader { shuffle: true }", "x");
  resolve_defaults(config);
  EXPECT_EQ(joined(validation_problems(config)),
            "train_input_reader: no data source; set one of tf_record_input_reader, "
            "image_folder_input_reader, idx_input_reader or synthetic_input_reader\n");
}

TEST(ConfigValidate, AllProblemsAreReportedOnOneLine) {
  const TrainEvalPipelineConfig config = load_pipeline_config(
      repo_path(kResnet), {"train_config { batch_size: 0 } train_input_reader { load_instance_masks: true }"});
  const std::string error = error_of([&] { validate(config, "run.pbtxt"); });
  EXPECT_EQ(error,
            "run.pbtxt: train_input_reader.load_instance_masks: true is valid but not implemented yet; "
            "train_config.batch_size: must be > 0, got 0");
}

}  // namespace
}  // namespace trainer::config
