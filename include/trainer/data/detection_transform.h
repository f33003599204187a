// One detection sample to its slot in the batch, as the TF Object Detection API's input
// pipeline does it (inputs.py transform_input_data with an SSD model's preprocess):
//   decode (RGB) -> drop boxes with a NaN coordinate (filter_groundtruth_with_nan_box_coordinates)
//   -> training only: the data_augmentation_options in config order
//        random_horizontal_flip: mirror image and boxes (_flip_boxes_left_right)
//        random_crop_image: with probability 1 - random_coef, a crop window from
//          tf.image.sample_distorted_bounding_box, then boxes pruned completely outside it,
//          pruned by intersection-over-box-area < overlap_thresh (zero-area boxes give NaN and
//          go), moved into the window's frame and, with clip_boxes, clipped to [0, 1]
//   -> fixed_shape_resizer: the window to height x width, bilinear, aspect ratio not kept
//      (TensorFlow 1's resize_images grid by default, see SamplingGrid)
//   -> per-channel (v - mean) / stddev (SSD ResNet: minus [123.68, 116.779, 103.939], no
//      division) -> the first max_boxes boxes (max_number_of_boxes; TensorFlow pads or clips).
// Evaluation runs only the decode, resize and normalisation. The geometry (window, mirror,
// boxes) is planned first and the pixels are resampled once, straight into the batch, from the
// source window: the same pixels as cutting and flipping the image step by step.
#pragma once

#include <variant>
#include <vector>

#include "trainer/data/distorted_bounding_box.h"
#include "trainer/data/resample.h"
#include "trainer/data/sample_transform.h"

namespace trainer::data {

// preprocessor.proto RandomHorizontalFlip: TensorFlow flips half of the images.
struct RandomHorizontalFlipOptions {
  float probability = 0.5f;
};

// preprocessor.proto RandomCropImage, with its defaults.
struct RandomCropImageOptions {
  float min_object_covered = 1.0f;
  float min_aspect_ratio = 0.75f, max_aspect_ratio = 1.33f;  // width / height of the crop
  float min_area = 0.1f, max_area = 1.0f;                    // fraction of the image
  float overlap_thresh = 0.3f;  // boxes keeping less of their area are dropped
  float random_coef = 0.0f;     // probability of leaving the image uncropped
  bool clip_boxes = true;
  int max_attempts = 100;  // fixed at 100 by the TF OD API
};

using DetectionAugmentation = std::variant<RandomHorizontalFlipOptions, RandomCropImageOptions>;

struct DetectionTransformOptions {
  bool train = true;  // false: no augmentation (evaluation, prediction)
  std::vector<DetectionAugmentation> augmentations;  // train_config.data_augmentation_options, in order
  int height = 320, width = 320;                     // fixed_shape_resizer
  SamplingGrid grid = SamplingGrid::kTf1Legacy;      // tf.image.resize_images, align_corners=False
  // RGB 0..255 statistics; one value per channel, or both empty for none. SSD ResNet-50 FPN's
  // feature extractor subtracts the ImageNet means and does not divide.
  std::vector<float> mean = {123.68f, 116.779f, 103.939f};
  std::vector<float> stddev = {1.0f, 1.0f, 1.0f};
  int max_boxes = 100;  // max_number_of_boxes: keep the first N after augmentation; 0 keeps all
};

// Where the output comes from: a window of the source image in whole pixels, mirrored or not,
// and the boxes normalised to the output.
struct DetectionGeometry {
  PixelWindow window;
  bool mirrored = false;
  std::vector<BoxAnnotation> boxes;
};

class DetectionTransform : public SampleTransform {
 public:
  // Throws an Error naming the option for an invalid setting.
  explicit DetectionTransform(DetectionTransformOptions options);

  const DetectionTransformOptions& options() const { return options_; }
  Shape sample_shape() const override { return {options_.height, options_.width, 3}; }  // HWC, RGB
  bool needs_class_label() const override { return false; }

  // The augmentation's geometry for a source of the given size: the steps in order, each
  // drawing from rng (flip: one uniform; crop: one uniform when random_coef > 0, then the
  // sampler's draws). Boxes with a NaN coordinate are dropped first; max_boxes is applied last.
  DetectionGeometry plan(ImageSize source, std::vector<BoxAnnotation> boxes, Philox& rng) const;

  // Decodes, plans, resamples and normalises into out (F32, BF16 or U8; U8 is left
  // unnormalised). annotations_out gets the image id, the decoded source size and the planned
  // boxes. Throws BadSampleError for an undecodable image.
  void apply(const Sample& sample, Philox& rng, DType dtype, void* out,
             ImageAnnotations* annotations_out = nullptr) const override;

 private:
  DetectionTransformOptions options_;
  std::vector<float> inv_std_;
};

}  // namespace trainer::data
