// The TF2 zoo EfficientDet's input pipeline in a detection config: keep_aspect_ratio_resizer with
// pad_to_max_dimension and random_scale_crop_and_pad_to_square validate (on NVIDIA's SSD320 and
// in the EfficientDet-D0 config itself); pad_to_max_dimension false, bad ranges and the
// combinations the transform cannot run as one resample are named by path.
#include <gtest/gtest.h>

#include "test_util.h"
#include "trainer/config/config.h"

namespace trainer::config {
namespace {

using testing::joined;
using testing::repo_path;

const std::string kSsd = "configs/tfod/ssd320_full_8gpus.config";

std::vector<std::string> problems_with(const std::vector<std::string>& overrides) {
  return validation_problems(load_pipeline_config(repo_path(kSsd), overrides));
}

const char* const kKeepAspect320 =
    "model { ssd { image_resizer { keep_aspect_ratio_resizer { min_dimension: 320 max_dimension: 320 "
    "pad_to_max_dimension: true } } } }";
const char* const kEfficientDetSteps =
    "train_config {"
    "  data_augmentation_options { random_horizontal_flip {} }"
    "  data_augmentation_options { random_scale_crop_and_pad_to_square { output_size: 320 scale_min: 0.1 "
    "scale_max: 2.0 } }"
    "}";

TEST(ConfigPadding, KeepAspectRatioResizerAndScaleCropPadValidate) {
  EXPECT_EQ(joined(problems_with({kKeepAspect320, kEfficientDetSteps})), "");
  // With the fixed resizer of the same size too.
  EXPECT_EQ(joined(problems_with({kEfficientDetSteps})), "");
  const TrainEvalPipelineConfig c = load_pipeline_config(repo_path(kSsd), {kKeepAspect320, kEfficientDetSteps});
  EXPECT_EQ(c.model().ssd().image_resizer().keep_aspect_ratio_resizer().max_dimension(), 320);
  EXPECT_FLOAT_EQ(c.train_config().data_augmentation_options(1).random_scale_crop_and_pad_to_square().scale_min(),
                  0.1f);
}

TEST(ConfigPadding, EfficientDetConfigNoLongerNamesItsInputPipeline) {
  const std::string all =
      joined(validation_problems(load_pipeline_config(repo_path(testing::kTfodConfigs[2]))));
  EXPECT_EQ(all.find("image_resizer"), std::string::npos) << all;
  EXPECT_EQ(all.find("data_augmentation_options"), std::string::npos) << all;
}

TEST(ConfigPadding, PadToMaxDimensionFalseIsRefusedByName) {
  const char* expected =
      "model.ssd.image_resizer.keep_aspect_ratio_resizer.pad_to_max_dimension: false%s is valid but not implemented "
      "yet (implemented: true); only a fixed model input is implemented: the resized image zero-padded to "
      "max_dimension x max_dimension\n";
  char with_default[512], set[512];
  std::snprintf(with_default, sizeof with_default, expected, " (the default)");
  std::snprintf(set, sizeof set, expected, "");
  EXPECT_EQ(joined(problems_with({"model { ssd { image_resizer { keep_aspect_ratio_resizer { min_dimension: 320 "
                                  "max_dimension: 320 } } } }"})),
            with_default);
  EXPECT_EQ(joined(problems_with({"model { ssd { image_resizer { keep_aspect_ratio_resizer { min_dimension: 320 "
                                  "max_dimension: 320 pad_to_max_dimension: false } } } }"})),
            set);
}

TEST(ConfigPadding, BadValuesAndCombinationsAreNamedByPath) {
  struct Case {
    std::vector<std::string> overrides;
    const char* problem;
  };
  const Case cases[] = {
      {{"model { ssd { image_resizer { keep_aspect_ratio_resizer { min_dimension: 600 max_dimension: 512 "
        "pad_to_max_dimension: true } } } }"},
       "model.ssd.image_resizer.keep_aspect_ratio_resizer.max_dimension: must be >= min_dimension (600), got 512"},
      {{"model { ssd { image_resizer { keep_aspect_ratio_resizer { min_dimension: 0 max_dimension: 512 "
        "pad_to_max_dimension: true } } } }"},
       "model.ssd.image_resizer.keep_aspect_ratio_resizer.min_dimension: must be > 0, got 0"},
      {{"train_config { data_augmentation_options { random_scale_crop_and_pad_to_square { output_size: 320 "
        "scale_min: 0 } } }"},
       "train_config.data_augmentation_options[0].random_scale_crop_and_pad_to_square.scale_min: must be > 0, got 0"},
      {{"train_config { data_augmentation_options { random_scale_crop_and_pad_to_square { output_size: 320 "
        "scale_min: 1.5 scale_max: 1.2 } } }"},
       "train_config.data_augmentation_options[0].random_scale_crop_and_pad_to_square.scale_max: must be >= "
       "scale_min (1.5), got 1.2"},
      {{"train_config { data_augmentation_options { random_scale_crop_and_pad_to_square { output_size: 0 } } }"},
       "train_config.data_augmentation_options[0].random_scale_crop_and_pad_to_square.output_size: must be > 0, "
       "got 0"},
      {{"train_config { data_augmentation_options { random_scale_crop_and_pad_to_square { output_size: 512 } } }"},
       "train_config.data_augmentation_options[0].random_scale_crop_and_pad_to_square.output_size: 512 needs "
       "model.ssd.image_resizer.fixed_shape_resizer 512x512 (got 320x320): resizing its output again is not "
       "implemented"},
      {{kKeepAspect320,
        "train_config { data_augmentation_options { random_scale_crop_and_pad_to_square { output_size: 256 } } }"},
       "train_config.data_augmentation_options[0].random_scale_crop_and_pad_to_square.output_size: 256 needs "
       "model.ssd.image_resizer.keep_aspect_ratio_resizer min_dimension = max_dimension = 256 (got 320 and 320): "
       "resizing its output again is not implemented"},
      {{"train_config { data_augmentation_options { random_scale_crop_and_pad_to_square { output_size: 320 } } "
        "data_augmentation_options { random_adjust_brightness {} } }"},
       "train_config.data_augmentation_options[1]: only random_horizontal_flip is implemented after "
       "random_scale_crop_and_pad_to_square (data_augmentation_options[0]), whose output is zero-padded"},
  };
  for (const Case& c : cases) {
    const std::vector<std::string> problems = problems_with(c.overrides);
    ASSERT_EQ(problems.size(), 1u) << c.overrides.back() << "\n" << joined(problems);
    EXPECT_EQ(problems[0], c.problem);
  }
}

}  // namespace
}  // namespace trainer::config
