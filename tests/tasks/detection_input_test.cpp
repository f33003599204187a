// The detection task's input pipeline from the config (ssd_transform_options): the TF2 zoo's
// EfficientDet-D0 config gives its 512 padded resizer, flip then random_scale_crop_and_pad_to_square,
// and the EfficientNet extractors' normalisation; NVIDIA's SSD320 keeps its fixed resizer and the
// ResNet means. Pixels through the transform are checked against the API's formulas.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "trainer/config/config.h"
#include "trainer/data/detection_transform.h"
#include "trainer/tasks/ssd_config.h"

namespace trainer::tasks {
namespace {

std::string repo_path(const std::string& relative) {
  const char* dir = std::getenv("TRAINER_SOURCE_DIR");
  return std::string(dir ? dir : ".") + "/" + relative;
}

const char* const kEfficientDet = "configs/tfod/ssd_efficientdet_d0_512x512_coco17_tpu-8.config";
const char* const kSsd320 = "configs/tfod/ssd320_full_8gpus.config";

TEST(SsdTransformOptions, EfficientDetD0) {
  const config::TrainEvalPipelineConfig c = config::load_pipeline_config(repo_path(kEfficientDet));
  EXPECT_TRUE(is_efficientnet_extractor(c.model().ssd().feature_extractor().type()));
  const data::ImageSize input = ssd_input_size(c.model().ssd());
  EXPECT_EQ(input.height, 512);
  EXPECT_EQ(input.width, 512);
  const data::DetectionTransformOptions train = ssd_transform_options(c, true);
  EXPECT_EQ(train.height, 512);
  EXPECT_EQ(train.width, 512);
  ASSERT_TRUE(train.keep_aspect_ratio.has_value());
  EXPECT_EQ(train.keep_aspect_ratio->min_dimension, 512);
  EXPECT_EQ(train.keep_aspect_ratio->max_dimension, 512);
  ASSERT_EQ(train.augmentations.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<data::RandomHorizontalFlipOptions>(train.augmentations[0]));
  const auto& scp = std::get<data::RandomScaleCropAndPadToSquareOptions>(train.augmentations[1]);
  EXPECT_EQ(scp.output_size, 512);
  EXPECT_EQ(scp.scale_min, 0.1f);
  EXPECT_EQ(scp.scale_max, 2.0f);
  EXPECT_EQ(train.mean, (std::vector<float>{0.485f, 0.456f, 0.406f}));
  EXPECT_EQ(train.stddev, (std::vector<float>{0.229f, 0.224f, 0.225f}));
  EXPECT_EQ(train.pixel_divisor, 255.0f);
  EXPECT_EQ(train.max_boxes, 100);
  EXPECT_NO_THROW(data::DetectionTransform{train});  // a combination the transform runs
  const data::DetectionTransformOptions eval = ssd_transform_options(c, false);
  EXPECT_TRUE(eval.augmentations.empty());
  EXPECT_TRUE(eval.keep_aspect_ratio.has_value());
}

TEST(SsdTransformOptions, Ssd320KeepsItsFixedResizerAndTheResNetMeans) {
  const config::TrainEvalPipelineConfig c = config::load_pipeline_config(repo_path(kSsd320));
  EXPECT_FALSE(is_efficientnet_extractor(c.model().ssd().feature_extractor().type()));
  const data::DetectionTransformOptions o = ssd_transform_options(c, true);
  EXPECT_EQ(o.height, 320);
  EXPECT_EQ(o.width, 320);
  EXPECT_FALSE(o.keep_aspect_ratio.has_value());
  EXPECT_EQ(o.mean, (std::vector<float>{123.68f, 116.779f, 103.939f}));
  EXPECT_EQ(o.stddev, (std::vector<float>{1.f, 1.f, 1.f}));
  EXPECT_EQ(o.pixel_divisor, 1.0f);
}

TEST(SsdTransformOptions, EfficientNetNormalisationThroughTheTransform) {
  // A 256x512 gray-128 image in evaluation: resized to 256x512 in the 512 square (no change of
  // its pixels), the rest zero padding; (x / 255 - mean) / std per channel, TF's order.
  const config::TrainEvalPipelineConfig c = config::load_pipeline_config(repo_path(kEfficientDet));
  const data::DetectionTransform t(ssd_transform_options(c, false));
  data::Sample s;
  s.name = "gray";
  s.image = data::Image(256, 512, 3);
  std::fill(s.image.pixels.begin(), s.image.pixels.end(), uint8_t{128});
  std::vector<float> out(512 * 512 * 3);
  data::ImageAnnotations a;
  Philox rng(0, 0);
  t.apply(s, rng, DType::F32, out.data(), &a);
  EXPECT_EQ(a.true_height_fraction, 0.5f);
  EXPECT_EQ(a.true_width_fraction, 1.0f);
  const float mean[3] = {0.485f, 0.456f, 0.406f}, stddev[3] = {0.229f, 0.224f, 0.225f};
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(out[c], (128.0f / 255.0f - mean[c]) / stddev[c]) << c;                     // the image
    EXPECT_EQ(out[(300 * 512 + 7) * 3 + c], (0.0f / 255.0f - mean[c]) / stddev[c]) << c;  // padding
  }
  EXPECT_NEAR(out[0], 0.0740646f, 1e-6);  // (128/255 - 0.485) / 0.229
  EXPECT_NEAR(out[(300 * 512 + 7) * 3], -2.1179039f, 1e-6);
}

}  // namespace
}  // namespace trainer::tasks
