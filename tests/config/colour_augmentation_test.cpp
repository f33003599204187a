// The TF OD API's colour augmentation steps in a detection config: NVIDIA's SSD320 config with
// them added validates and carries their values; an ordering outside {0, 1} and the steps still
// not implemented are named by path.
#include <gtest/gtest.h>

#include "test_util.h"
#include "trainer/config/config.h"

namespace trainer::config {
namespace {

using testing::joined;
using testing::repo_path;

const std::string kSsd = "configs/tfod/ssd320_full_8gpus.config";

// The override's list replaces the config's data_augmentation_options.
const char* const kColourSteps =
    "train_config {"
    "  data_augmentation_options { random_horizontal_flip {} }"
    "  data_augmentation_options { random_crop_image { min_object_covered: 0.0 min_area: 0.75 } }"
    "  data_augmentation_options { random_adjust_brightness { max_delta: 0.1 } }"
    "  data_augmentation_options { random_adjust_contrast { min_delta: 0.7 max_delta: 1.3 } }"
    "  data_augmentation_options { random_adjust_hue { max_delta: 0.05 } }"
    "  data_augmentation_options { random_adjust_saturation { min_delta: 0.6 max_delta: 1.4 } }"
    "  data_augmentation_options { random_rgb_to_gray { probability: 0.2 } }"
    "  data_augmentation_options { random_distort_color { color_ordering: 1 } }"
    "}";

TEST(ConfigColourAugmentation, SsdConfigWithColourStepsValidates) {
  const TrainEvalPipelineConfig config = load_pipeline_config(repo_path(kSsd), {kColourSteps});
  EXPECT_EQ(joined(validation_problems(config)), "");
  EXPECT_NO_THROW(validate(config, kSsd));
  const TrainConfig& t = config.train_config();
  ASSERT_EQ(t.data_augmentation_options_size(), 8);
  EXPECT_FLOAT_EQ(t.data_augmentation_options(2).random_adjust_brightness().max_delta(), 0.1f);
  EXPECT_FLOAT_EQ(t.data_augmentation_options(3).random_adjust_contrast().min_delta(), 0.7f);
  EXPECT_FLOAT_EQ(t.data_augmentation_options(3).random_adjust_contrast().max_delta(), 1.3f);
  EXPECT_FLOAT_EQ(t.data_augmentation_options(4).random_adjust_hue().max_delta(), 0.05f);
  EXPECT_FLOAT_EQ(t.data_augmentation_options(5).random_adjust_saturation().min_delta(), 0.6f);
  EXPECT_FLOAT_EQ(t.data_augmentation_options(5).random_adjust_saturation().max_delta(), 1.4f);
  EXPECT_FLOAT_EQ(t.data_augmentation_options(6).random_rgb_to_gray().probability(), 0.2f);
  EXPECT_EQ(t.data_augmentation_options(7).random_distort_color().color_ordering(), 1);
}

TEST(ConfigColourAugmentation, EmptyStepsTakeTheApisDefaultsAndValidate) {
  const TrainEvalPipelineConfig config = load_pipeline_config(
      repo_path(kSsd), {"train_config {"
                        "  data_augmentation_options { random_adjust_brightness {} }"
                        "  data_augmentation_options { random_adjust_contrast {} }"
                        "  data_augmentation_options { random_adjust_hue {} }"
                        "  data_augmentation_options { random_adjust_saturation {} }"
                        "  data_augmentation_options { random_rgb_to_gray {} }"
                        "  data_augmentation_options { random_distort_color {} }"
                        "}"});
  EXPECT_EQ(joined(validation_problems(config)), "");
  const TrainConfig& t = config.train_config();
  // preprocessor.py's defaults
  EXPECT_FLOAT_EQ(t.data_augmentation_options(0).random_adjust_brightness().max_delta(), 0.2f);
  EXPECT_FLOAT_EQ(t.data_augmentation_options(1).random_adjust_contrast().min_delta(), 0.8f);
  EXPECT_FLOAT_EQ(t.data_augmentation_options(1).random_adjust_contrast().max_delta(), 1.25f);
  EXPECT_FLOAT_EQ(t.data_augmentation_options(2).random_adjust_hue().max_delta(), 0.02f);
  EXPECT_FLOAT_EQ(t.data_augmentation_options(3).random_adjust_saturation().min_delta(), 0.8f);
  EXPECT_FLOAT_EQ(t.data_augmentation_options(3).random_adjust_saturation().max_delta(), 1.25f);
  EXPECT_FLOAT_EQ(t.data_augmentation_options(4).random_rgb_to_gray().probability(), 0.1f);
  EXPECT_EQ(t.data_augmentation_options(5).random_distort_color().color_ordering(), 0);
}

TEST(ConfigColourAugmentation, OtherOrderingsAndOtherStepsAreNamed) {
  const std::vector<std::string> ordering = validation_problems(load_pipeline_config(
      repo_path(kSsd), {"train_config { data_augmentation_options { random_distort_color { color_ordering: 2 } } }"}));
  ASSERT_EQ(ordering.size(), 1u) << joined(ordering);
  EXPECT_EQ(ordering[0].rfind("train_config.data_augmentation_options[0].random_distort_color.color_ordering: 2 is "
                              "valid but not implemented yet",
                              0),
            0u)
      << ordering[0];
  const std::vector<std::string> jitter = validation_problems(load_pipeline_config(
      repo_path(kSsd), {"train_config { data_augmentation_options { random_adjust_hue {} }"
                        "  data_augmentation_options { random_jitter_boxes {} } }"}));
  ASSERT_EQ(jitter.size(), 1u) << joined(jitter);
  EXPECT_EQ(jitter[0], "train_config.data_augmentation_options[1].random_jitter_boxes is valid but not implemented yet");
}

}  // namespace
}  // namespace trainer::config
