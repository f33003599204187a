// The detection task's input pipeline from the config (ssd_transform_options): the TF2 zoo's
// EfficientDet-D0 config gives its 512 padded resizer, flip then random_scale_crop_and_pad_to_square,
// and the EfficientNet extractors' normalisation; NVIDIA's SSD320 keeps its fixed resizer and the
// ResNet means. Pixels through the transform are checked against the API's formulas. Then the way
// back: detections and ground truth normalised to the padded input, mapped to the original image
// as the API does with true_image_shape, on hand-computed boxes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "trainer/config/config.h"
#include "trainer/data/detection_transform.h"
#include "trainer/tasks/coco_results.h"
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


// ---- the way back from the padded input (coco_results.h) ----

models::DetectedBox detected(float ymin, float xmin, float ymax, float xmax, int32_t id, float score = 0.5f) {
  return {{ymin, xmin, ymax, xmax}, score, id};
}

// A 480x640 image in the 512 square: resized to 384x512, true fractions 0.75 and 1.
data::ImageAnnotations padded_row() {
  data::ImageAnnotations a;
  a.image_id = 7;
  a.original_height = 480;
  a.original_width = 640;
  a.true_height_fraction = 384.0f / 512.0f;
  return a;
}

TEST(TrueImage, DetectionsAreClippedToTheImageAndMovedIntoItsFrame) {
  const data::ImageAnnotations row = padded_row();
  EXPECT_EQ(true_image_window(row), (std::array<float, 4>{0.0f, 0.0f, 0.75f, 1.0f}));
  const std::vector<models::DetectedBox> found = {
      detected(0.375f, 0.25f, 0.75f, 0.5f, 1),  // inside: y * (1 / 0.75)
      detected(0.8f, 0.0f, 0.9f, 0.5f, 2),      // wholly in the padding: no area after clipping, dropped
      detected(0.5f, 0.0f, 0.9f, 0.5f, 3)};     // partly: clipped at 0.75, then moved
  const std::vector<models::DetectedBox> back = detections_in_original_image(found, row);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].class_id, 1);
  EXPECT_EQ(std::vector<float>(back[0].box, back[0].box + 4), (std::vector<float>{0.5f, 0.25f, 1.0f, 0.5f}));
  EXPECT_EQ(back[1].class_id, 3);
  EXPECT_EQ(std::vector<float>(back[1].box, back[1].box + 4), (std::vector<float>{0.6666667f, 0.0f, 1.0f, 0.5f}));
  EXPECT_EQ(back[1].score, 0.5f);
  // In COCO pixels of the original 640x480: x 0.25 * 640, y 0.5 * 480.
  CocoResults results;
  results.add(row, found);
  ASSERT_EQ(results.detections().size(), 2u);
  const eval::BBox px = results.detections()[0].bbox;
  EXPECT_EQ(px.x, 160.0);
  EXPECT_EQ(px.y, 240.0);
  EXPECT_EQ(px.w, 160.0);
  EXPECT_EQ(px.h, 240.0);
}

TEST(TrueImage, GroundTruthThroughTheTransformComesBackInOriginalPixels) {
  // The eval transform moves the boxes into the padded frame (y * 0.75), CocoResults moves them
  // back (y * (1 / 0.75)): TensorFlow's round trip, exact here, one float step off for 0.1.
  const config::TrainEvalPipelineConfig c = config::load_pipeline_config(repo_path(kEfficientDet));
  const data::DetectionTransform t(ssd_transform_options(c, false));
  data::Sample s;
  s.name = "gt";
  s.image = data::Image(480, 640, 3);
  s.annotations.image_id = 7;
  s.annotations.boxes = {{0.5f, 0.25f, 0.75f, 0.5f, 1, false, -1}, {0.1f, 0.0f, 0.2f, 0.1f, 2, false, -1}};
  std::vector<float> out(512 * 512 * 3);
  data::ImageAnnotations row;
  Philox rng(0, 0);
  t.apply(s, rng, DType::F32, out.data(), &row);
  EXPECT_EQ(row.true_height_fraction, 0.75f);
  EXPECT_EQ(row.true_width_fraction, 1.0f);
  EXPECT_EQ(row.boxes[0].ymin, 0.375f);
  EXPECT_EQ(row.boxes[0].ymax, 0.5625f);
  const std::vector<data::BoxAnnotation> back = ground_truth_in_original_image(row.boxes, row);
  EXPECT_EQ(back[0].ymin, 0.5f);
  EXPECT_EQ(back[0].ymax, 0.75f);
  EXPECT_EQ(back[1].ymin, 0.10000001f);  // 0.1 * 0.75 = 0.075, * 1.3333334
  EXPECT_EQ(back[1].xmax, 0.1f);         // x untouched (fraction 1)
  CocoResults results;
  row.original_height = 480;
  row.original_width = 640;
  results.add(row, {});
  const eval::CocoDataset gt = results.ground_truth(nullptr, 90);
  ASSERT_EQ(gt.annotations().size(), 2u);
  const eval::BBox b = gt.annotations()[0].bbox;
  EXPECT_EQ(b.x, 160.0);
  EXPECT_EQ(b.y, 240.0);
  EXPECT_EQ(b.w, 160.0);
  EXPECT_EQ(b.h, 120.0);
}

TEST(TrueImage, UnpaddedRowsAreLeftExactlyAsTheyAre) {
  data::ImageAnnotations row;  // fractions 1: a fixed_shape_resizer row
  row.image_id = 1;
  row.original_height = 300;
  row.original_width = 500;
  row.boxes = {{0.1f, 0.2f, 0.3f, 0.4f, 1, false, -1}};
  const std::vector<models::DetectedBox> found = {detected(0.1234567f, 0.2f, 0.9876543f, 0.7f, 4, 0.9f),
                                                  detected(0.3f, 0.3f, 0.3f, 0.6f, 5)};  // no area: kept as it is
  const std::vector<models::DetectedBox> back = detections_in_original_image(found, row);
  ASSERT_EQ(back.size(), found.size());
  for (size_t i = 0; i < found.size(); ++i)
    EXPECT_EQ(std::vector<float>(back[i].box, back[i].box + 4), std::vector<float>(found[i].box, found[i].box + 4));
  EXPECT_EQ(ground_truth_in_original_image(row.boxes, row), row.boxes);
  CocoResults results;
  results.add(row, found);
  const eval::BBox want = to_coco_box(0.1234567f, 0.2f, 0.9876543f, 0.7f, 500, 300);
  EXPECT_EQ(results.detections()[0].bbox.x, want.x);
  EXPECT_EQ(results.detections()[0].bbox.y, want.y);
  EXPECT_EQ(results.detections()[0].bbox.w, want.w);
  EXPECT_EQ(results.detections()[0].bbox.h, want.h);
}

}  // namespace
}  // namespace trainer::tasks
