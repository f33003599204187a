// Parsing: the published TF OD API configs read unchanged, errors say file:line:col, and the
// printed config reads back to the same message.
#include <cmath>

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "test_util.h"
#include "trainer/config/config.h"

namespace trainer::config {
namespace {

using testing::error_of;
using testing::kTfodConfigs;
using testing::repo_path;
using testing::write_temp_config;

TEST(ConfigLoad, TfodConfigsParseUnchanged) {
  for (const char* file : kTfodConfigs) {
    SCOPED_TRACE(file);
    const TrainEvalPipelineConfig config = load_pipeline_config(repo_path(file));
    ASSERT_TRUE(config.model().has_ssd());
    EXPECT_EQ(config.model().ssd().num_classes(), 90);
    EXPECT_TRUE(config.model().ssd().anchor_generator().has_multiscale_anchor_generator());
    EXPECT_EQ(config.model().ssd().loss().classification_loss().weighted_sigmoid_focal().alpha(),
              0.25f);
    EXPECT_TRUE(config.train_config().optimizer().momentum_optimizer().learning_rate()
                    .has_cosine_decay_learning_rate());
    EXPECT_EQ(config.eval_config().metrics_set(0), "coco_detection_metrics");
    EXPECT_TRUE(config.eval_input_reader().has_tf_record_input_reader());
  }
}

TEST(ConfigLoad, TfodConfigValuesArrive) {
  const TrainEvalPipelineConfig ssd320 = load_pipeline_config(repo_path(kTfodConfigs[0]));
  EXPECT_EQ(ssd320.model().ssd().feature_extractor().type(), "ssd_resnet50_v1_fpn");
  EXPECT_EQ(ssd320.model().ssd().image_resizer().fixed_shape_resizer().height(), 320);
  EXPECT_EQ(ssd320.train_config().batch_size(), 32u);
  EXPECT_EQ(ssd320.train_config().num_steps(), 12500u);
  const CosineDecayLearningRate& lr = ssd320.train_config().optimizer().momentum_optimizer()
                                          .learning_rate().cosine_decay_learning_rate();
  EXPECT_FLOAT_EQ(lr.learning_rate_base(), 0.16f);  // written ".16000000000000000000"
  EXPECT_FLOAT_EQ(lr.warmup_learning_rate(), 0.0693312f);
  EXPECT_EQ(lr.warmup_steps(), 1000u);
  EXPECT_EQ(ssd320.model().ssd().box_predictor().weight_shared_convolutional_box_predictor()
                .conv_hyperparams().activation(),
            Hyperparams::RELU_6);
  EXPECT_EQ(ssd320.eval_input_reader().num_readers(), 1u);
  // An absent field reads as the API's default.
  EXPECT_EQ(ssd320.model().ssd().loss().localization_loss().weighted_smooth_l1().delta(), 1.0f);

  const TrainEvalPipelineConfig d0 = load_pipeline_config(repo_path(kTfodConfigs[2]));
  EXPECT_EQ(d0.model().ssd().feature_extractor().type(), "ssd_efficientnet-b0_bifpn_keras");
  EXPECT_EQ(d0.model().ssd().feature_extractor().bifpn().num_iterations(), 3);
  EXPECT_FALSE(d0.model().ssd().add_background_class());
  EXPECT_TRUE(d0.model().ssd().image_resizer().keep_aspect_ratio_resizer().pad_to_max_dimension());
  EXPECT_EQ(d0.train_config().fine_tune_checkpoint_version(), V2);
  EXPECT_EQ(d0.train_config().data_augmentation_options(1)
                .random_scale_crop_and_pad_to_square().scale_max(),
            2.0f);
  EXPECT_EQ(d0.eval_config().batch_size(), 1u);  // written "batch_size: 1;"
}

TEST(ConfigLoad, SyntaxErrorGivesFileLineColumn) {
  const std::string path = write_temp_config(
      "train_config {\n"
      "  batch_size: 32\n"
      "  num_steps 100\n"
      "}\n");
  const std::string error = error_of([&] { load_pipeline_config(path); });
  EXPECT_EQ(error.rfind(path + ":3:13: ", 0), 0u) << error;
  EXPECT_NE(error.find("\":\""), std::string::npos) << error;
}

TEST(ConfigLoad, UnclosedBlockPointsAtEndOfFile) {
  const std::string path = write_temp_config("train_config {\n  batch_size: 32\n");
  const std::string error = error_of([&] { load_pipeline_config(path); });
  EXPECT_EQ(error.rfind(path + ":3:1: ", 0), 0u) << error;
}

TEST(ConfigLoad, UnknownFieldIsNamedWithPositionAndSuggestion) {
  const std::string path = write_temp_config(
      "model {\n"
      "  classifier {\n"
      "    num_clases: 10\n"
      "  }\n"
      "}\n");
  const std::string error = error_of([&] { load_pipeline_config(path); });
  EXPECT_EQ(error.rfind(path + ":3:5: ", 0), 0u) << error;
  EXPECT_NE(error.find("unknown field \"num_clases\" in Classifier"), std::string::npos) << error;
  EXPECT_NE(error.find("did you mean \"num_classes\"?"), std::string::npos) << error;
}

TEST(ConfigLoad, ColumnsCountTabsAsProtobufDoes) {
  const std::string error = error_of([] {
    parse_pipeline_text("model {\n\tclassifier {\n\t\tnum_clases: 10\n\t}\n}\n", "tabs");
  });
  EXPECT_EQ(error.rfind("tabs:3:17: unknown field \"num_clases\"", 0), 0u) << error;
}

TEST(ConfigLoad, UnknownFieldWithoutCloseMatchHasNoSuggestion) {
  const std::string error =
      error_of([] { parse_pipeline_text("train_config { zzzzzzzz: 1 }", "inline"); });
  EXPECT_EQ(error.rfind("inline:1:16: unknown field \"zzzzzzzz\" in TrainConfig", 0), 0u)
      << error;
  EXPECT_EQ(error.find("did you mean"), std::string::npos) << error;
}

TEST(ConfigLoad, UnknownEnumValueListsTheValidOnes) {
  const std::string error = error_of([] {
    parse_pipeline_text("runtime {\n  device: TPU\n}\n", "inline");
  });
  EXPECT_EQ(error.rfind("inline:2:11: ", 0), 0u) << error;
  EXPECT_NE(error.find("unknown value TPU for field \"device\"; valid values: CPU, CUDA"),
            std::string::npos)
      << error;
}

TEST(ConfigLoad, RepeatedSingularFieldIsAnError) {
  const std::string error = error_of([] {
    parse_pipeline_text("train_config { batch_size: 1 batch_size: 2 }", "inline");
  });
  EXPECT_EQ(error.rfind("inline:1:", 0), 0u) << error;
  EXPECT_NE(error.find("batch_size"), std::string::npos) << error;
}

TEST(ConfigLoad, MissingFileIsNamed) {
  const std::string error = error_of([] { load_pipeline_config("/nonexistent/x.pbtxt"); });
  EXPECT_EQ(error, "cannot read config file /nonexistent/x.pbtxt: No such file or directory");
}

TEST(ConfigLoad, ResnetConfigRoundTripsThroughToText) {
  const TrainEvalPipelineConfig config =
      load_pipeline_config(repo_path("configs/resnet50_v1_5.pbtxt"));
  const std::string text = to_text(config);
  EXPECT_NE(text.find("batch_size: 256"), std::string::npos) << text;
  EXPECT_NE(text.find("mean: [123.68, 116.28, 103.53]"), std::string::npos) << text;
  EXPECT_NE(text.find("value: 3.0517578e-05\n"), std::string::npos) << text;
  EXPECT_NE(text.find("max_aspect_ratio: 1.3333334\n"), std::string::npos) << text;
  const TrainEvalPipelineConfig again = parse_pipeline_text(text, "printed");
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(config, again)) << text;
  EXPECT_EQ(to_text(again), text);
}

TEST(ConfigLoad, NonFiniteFloatsRoundTrip) {
  const TrainEvalPipelineConfig config = parse_pipeline_text(
      "train_config { gradient_clipping_by_norm: inf } precision { static_loss_scale: -inf } "
      "model { classifier { mixup_alpha: nan } }",
      "inline");
  const TrainEvalPipelineConfig again = parse_pipeline_text(to_text(config), "printed");
  EXPECT_EQ(again.train_config().gradient_clipping_by_norm(), config.train_config()
                                                                  .gradient_clipping_by_norm());
  EXPECT_EQ(again.precision().static_loss_scale(), config.precision().static_loss_scale());
  EXPECT_TRUE(std::isnan(again.model().classifier().mixup_alpha()));
}

TEST(ConfigLoad, TfodConfigsRoundTripThroughToText) {
  for (const char* file : kTfodConfigs) {
    const TrainEvalPipelineConfig config = load_pipeline_config(repo_path(file));
    const TrainEvalPipelineConfig again = parse_pipeline_text(to_text(config), "printed");
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(config, again)) << file;
  }
}

TEST(ConfigLoad, ResolveDefaultsFillsImageNetNormalisation) {
  TrainEvalPipelineConfig config =
      parse_pipeline_text("model { classifier { resnet {} } }", "inline");
  resolve_defaults(config);
  const ClassificationPreprocessing& p = config.model().classifier().preprocessing();
  ASSERT_EQ(p.mean_size(), 3);
  ASSERT_EQ(p.stddev_size(), 3);
  EXPECT_FLOAT_EQ(p.mean(0), 123.68f);
  EXPECT_FLOAT_EQ(p.mean(2), 103.53f);
  EXPECT_FLOAT_EQ(p.stddev(1), 57.12f);
  resolve_defaults(config);  // idempotent
  EXPECT_EQ(config.model().classifier().preprocessing().mean_size(), 3);

  // Given values stay; other channel counts get nothing to guess from.
  TrainEvalPipelineConfig given = parse_pipeline_text(
      "model { classifier { preprocessing { mean: [1, 2, 3] stddev: [4, 5, 6] } } }", "inline");
  resolve_defaults(given);
  EXPECT_EQ(given.model().classifier().preprocessing().mean(0), 1.0f);
  TrainEvalPipelineConfig gray =
      parse_pipeline_text("model { classifier { input_channels: 1 } }", "inline");
  resolve_defaults(gray);
  EXPECT_EQ(gray.model().classifier().preprocessing().mean_size(), 0);
}

TEST(ConfigLoad, ClassifierDefaultsAreNvidiasRecipe) {
  const Classifier c;
  EXPECT_EQ(c.num_classes(), 1000u);
  EXPECT_EQ(c.image_size(), 224u);
  EXPECT_FLOAT_EQ(c.batch_norm().decay(), 0.9f);
  EXPECT_FLOAT_EQ(c.batch_norm().epsilon(), 1e-5f);
  EXPECT_EQ(c.weight_init().mode(), WeightInit::FAN_IN);
  EXPECT_FLOAT_EQ(c.label_smoothing(), 0.1f);
  EXPECT_EQ(c.mixup_alpha(), 0.0f);
  EXPECT_EQ(c.weight_decay().value(), 1.0f / 32768);
  EXPECT_TRUE(c.weight_decay().exclude_batch_norm());
  EXPECT_FALSE(c.weight_decay().exclude_bias());
  EXPECT_FLOAT_EQ(c.preprocessing().random_resized_crop().min_area(), 0.05f);
  EXPECT_FLOAT_EQ(c.preprocessing().random_resized_crop().max_aspect_ratio(), 4.0f / 3);
  EXPECT_EQ(c.preprocessing().eval_resize(), 256u);
  EXPECT_EQ(c.resnet().depth(), 50u);
  EXPECT_EQ(c.resnet().version(), ResNet::V1_5);
}

}  // namespace
}  // namespace trainer::config
