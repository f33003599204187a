// One detection sample to its slot in the batch, as the TF Object Detection API's input
// pipeline does it (inputs.py transform_input_data with an SSD model's preprocess):
//   decode (RGB) -> drop boxes with a NaN coordinate (filter_groundtruth_with_nan_box_coordinates)
//   -> training only: the data_augmentation_options in config order
//        random_horizontal_flip: mirror image and boxes (_flip_boxes_left_right)
//        random_crop_image: with probability 1 - random_coef, a crop window from
//          tf.image.sample_distorted_bounding_box, then boxes pruned completely outside it,
//          pruned by intersection-over-box-area < overlap_thresh (zero-area boxes give NaN and
//          go), moved into the window's frame and, with clip_boxes, clipped to [0, 1]
//        random_adjust_brightness / _contrast / _hue / _saturation, random_rgb_to_gray,
//          random_distort_color: pixels only, boxes untouched (see "Colour steps" below)
//   -> fixed_shape_resizer: the window to height x width, bilinear, aspect ratio not kept
//      (TensorFlow 1's resize_images grid by default, see SamplingGrid)
//   -> per-channel (v - mean) / stddev (SSD ResNet: minus [123.68, 116.779, 103.939], no
//      division) -> the first max_boxes boxes (max_number_of_boxes; TensorFlow pads or clips).
// Evaluation runs only the decode, resize and normalisation. The geometry (window, mirror,
// boxes) is planned first and the pixels are resampled once, straight into the batch, from the
// source window: the same pixels as cutting and flipping the image step by step.
//
// Colour steps. The API runs them on the float image (0..255) before the resizer, interleaved
// with flip and crop in config order, each drawing its value from tf.random_uniform (here: the
// sample's rng, in step order, within plan()). Where they run here, and why: on the decoded
// source pixels, converted to float, before the one resample. Planning records each colour
// step with its drawn value and the source window the image covered at that step; apply()
// then converts the window of the first colour step (plus one pixel each side, which the
// half-pixel grid's taps may read) to float, runs the colour ops in order on it, and resamples
// the final window from it. Pointwise ops (brightness, hue, saturation, gray) commute exactly
// with cutting and mirroring, and contrast takes its per-channel mean over its recorded window,
// which is exactly the image the API's contrast step sees; so the output equals "augment the
// decoded image step by step, then resize" to float rounding (contrast's mean is summed in
// double where TensorFlow folds in float). Running the ops on the resized output instead would
// be only approximate: bilinear interpolation does not commute with the [0, 255] clipping, with
// hue rotation or with saturation scaling (non-linear in RGB), and contrast would need the
// source window's mean anyway. Without colour steps (and in evaluation) the uint8 source is
// resampled directly, as before; a random_rgb_to_gray that does not fire adds no work.
#pragma once

#include <variant>
#include <vector>

#include "trainer/data/colour_ops.h"
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

// preprocessor.proto RandomAdjustBrightness: delta uniform in [-max_delta, max_delta) on the
// [0, 1] scale (255 * delta added to 0..255 pixels), then clipped.
struct RandomAdjustBrightnessOptions {
  float max_delta = 0.2f;
};

// preprocessor.proto RandomAdjustContrast: factor uniform in [min_delta, max_delta).
struct RandomAdjustContrastOptions {
  float min_delta = 0.8f, max_delta = 1.25f;
};

// preprocessor.proto RandomAdjustHue: delta uniform in [-max_delta, max_delta) of the hue circle.
struct RandomAdjustHueOptions {
  float max_delta = 0.02f;
};

// preprocessor.proto RandomAdjustSaturation: factor uniform in [min_delta, max_delta).
struct RandomAdjustSaturationOptions {
  float min_delta = 0.8f, max_delta = 1.25f;
};

// preprocessor.proto RandomRGBtoGray: gray when a uniform draw is <= probability.
struct RandomRGBtoGrayOptions {
  float probability = 0.1f;
};

// preprocessor.proto RandomDistortColor: four steps with fixed ranges, in one of two orders:
//   0: brightness (max_delta 32/255), saturation [0.5, 1.5), hue (max_delta 0.2), contrast [0.5, 1.5)
//   1: brightness, contrast, saturation, hue (the same ranges)
struct RandomDistortColorOptions {
  int color_ordering = 0;
};

using DetectionAugmentation =
    std::variant<RandomHorizontalFlipOptions, RandomCropImageOptions, RandomAdjustBrightnessOptions,
                 RandomAdjustContrastOptions, RandomAdjustHueOptions, RandomAdjustSaturationOptions,
                 RandomRGBtoGrayOptions, RandomDistortColorOptions>;

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

enum class ColourOp { kBrightness, kContrast, kHue, kSaturation, kGray };

// One colour step as planned: the op, its drawn value (brightness/hue: delta, contrast/
// saturation: factor, gray: unused) and the source window (whole pixels) that the image covered
// when the step ran: contrast's mean is taken over it.
struct ColourStep {
  ColourOp op = ColourOp::kBrightness;
  float value = 0;
  PixelWindow window;
  bool operator==(const ColourStep&) const = default;
};

// Where the output comes from: a window of the source image in whole pixels, mirrored or not,
// the boxes normalised to the output, and the colour steps to run on the pixels, in order
// (random_rgb_to_gray appears only when it fires; random_distort_color as its four steps).
struct DetectionGeometry {
  PixelWindow window;
  bool mirrored = false;
  std::vector<BoxAnnotation> boxes;
  std::vector<ColourStep> colour;
};

class DetectionTransform : public SampleTransform {
 public:
  // Throws an Error naming the option for an invalid setting.
  explicit DetectionTransform(DetectionTransformOptions options);

  const DetectionTransformOptions& options() const { return options_; }
  Shape sample_shape() const override { return {options_.height, options_.width, 3}; }  // HWC, RGB
  bool needs_class_label() const override { return false; }

  // The augmentation's plan for a source of the given size: the steps in order, each drawing
  // from rng (flip: one uniform; crop: one uniform when random_coef > 0, then the sampler's
  // draws; each colour op: one uniform, random_distort_color four). Boxes with a NaN coordinate
  // are dropped first; max_boxes is applied last.
  DetectionGeometry plan(ImageSize source, std::vector<BoxAnnotation> boxes, Philox& rng) const;

  // Decodes, plans, runs the planned colour steps on the source window (as float), resamples
  // and normalises into out (F32, BF16 or U8; U8 is left unnormalised). annotations_out gets the image id, the decoded source size and the planned
  // boxes. Throws BadSampleError for an undecodable image.
  void apply(const Sample& sample, Philox& rng, DType dtype, void* out,
             ImageAnnotations* annotations_out = nullptr) const override;

 private:
  DetectionTransformOptions options_;
  std::vector<float> inv_std_;
};

}  // namespace trainer::data
