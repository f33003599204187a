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
//        random_scale_crop_and_pad_to_square: the image resized by a random scale of
//          output_size over its longer side, a random output_size square cut from it, zero padding
//          to output_size x output_size at the bottom and right; boxes moved into the square's
//          frame, those completely outside dropped, the rest clipped (see its options below)
//   -> the image_resizer, bilinear on TensorFlow 1's grid:
//      fixed_shape_resizer: the window to height x width, aspect ratio not kept (the grid can be
//        changed, see SamplingGrid);
//      keep_aspect_ratio_resizer with pad_to_max_dimension: the window to resize_to_range_size,
//        zero-padded at the bottom and right to max_dimension x max_dimension, the boxes moved
//        into the padded frame (inputs.py: change_coordinate_frame by [0, 0, padded / true])
//   -> per-channel (v - mean) / stddev (SSD ResNet: minus [123.68, 116.779, 103.939], no
//      division; EfficientNet: (v / 255 - mean) / stddev) -> the first max_boxes boxes
//      (max_number_of_boxes; TensorFlow pads or clips).
// Evaluation runs only the decode, resize and normalisation. The geometry (window, mirror,
// boxes) is planned first and the pixels are resampled once, straight into the batch, from the
// source window: the same pixels as cutting and flipping the image step by step. A padding step
// (random_scale_crop_and_pad_to_square, or the keep_aspect_ratio_resizer) places the resized
// window on the output (DetectionGeometry::placement, resample_placed); flips after
// random_scale_crop_and_pad_to_square mirror the padded output. The TF OD API resizes each time
// with tf.compat.v1.image.resize_images (align_corners=False: TensorFlow 1's grid, not TF2's
// half-pixel tf.image.resize), so a resize followed by another would not be one bilinear
// resample: random_scale_crop_and_pad_to_square therefore needs a resizer that leaves its
// output_size square as it is, and only random_horizontal_flip may follow it.
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

#include <optional>
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

// preprocessor.proto RandomScaleCropAndPadToSquare (preprocessor.random_scale_crop_and_pad_to_square):
// three draws in this order, scale = uniform(scale_min, scale_max), then the offsets' uniforms
// u_y, u_x in [0, 1) (always drawn); the geometry is scale_crop_pad_geometry's.
struct RandomScaleCropAndPadToSquareOptions {
  int output_size = 512;
  float scale_min = 0.1f, scale_max = 2.0f;
};

using DetectionAugmentation =
    std::variant<RandomHorizontalFlipOptions, RandomCropImageOptions, RandomAdjustBrightnessOptions,
                 RandomAdjustContrastOptions, RandomAdjustHueOptions, RandomAdjustSaturationOptions,
                 RandomRGBtoGrayOptions, RandomDistortColorOptions, RandomScaleCropAndPadToSquareOptions>;

// The config field's name of an augmentation ("random_crop_image", ...).
const char* augmentation_name(const DetectionAugmentation& step);

// image_resizer.proto KeepAspectRatioResizer with pad_to_max_dimension: true (the only form
// implemented: a fixed model input): preprocessor.resize_to_range, then zero padding at the
// bottom and right to max_dimension x max_dimension.
struct KeepAspectRatioResizerOptions {
  int min_dimension = 600, max_dimension = 1024;
};

// preprocessor.resize_to_range's new size, as the TF OD API computes it (through
// tf.compat.v1.image.resize_images with preserve_aspect_ratio): the target is [min_dimension,
// max_dimension] for a landscape image (height < width), else [max_dimension, min_dimension];
// scale = min(target_h / height, target_w / width) in float; each side round(scale * side) in
// float, half to even (tf.round). So the shorter side becomes min_dimension unless the longer
// would exceed max_dimension, which it then becomes. A side that would round to 0 is 1 here
// (TensorFlow fails on it).
ImageSize resize_to_range_size(ImageSize image, int min_dimension, int max_dimension);

// random_scale_crop_and_pad_to_square's geometry for its drawn values, in float32 and TensorFlow's
// order: max_dim = float(max(h, w)); scaled_height = int(scale * output_size * (float(h) /
// max_dim)) (products left to right, truncated), likewise the width; offset_y = int(max(0,
// float(scaled_height - output_size)) * u_y), likewise x. The image is resized to the scaled size,
// rows and columns from the offset on are kept (output_size of them at most) and the rest of the
// output_size square is zero padding. A scaled side that would be 0 is 1 here (TensorFlow fails).
struct ScaleCropPad {
  int scaled_height = 0, scaled_width = 0, offset_y = 0, offset_x = 0;
  bool operator==(const ScaleCropPad&) const = default;
};
ScaleCropPad scale_crop_pad_geometry(ImageSize image, int output_size, float scale, float u_y, float u_x);

struct DetectionTransformOptions {
  bool train = true;  // false: no augmentation (evaluation, prediction)
  std::vector<DetectionAugmentation> augmentations;  // train_config.data_augmentation_options, in order
  int height = 320, width = 320;                     // the output: fixed_shape_resizer's size, or max x max
  // Set: the keep_aspect_ratio_resizer (height and width must be its max_dimension); else the
  // fixed_shape_resizer.
  std::optional<KeepAspectRatioResizerOptions> keep_aspect_ratio;
  SamplingGrid grid = SamplingGrid::kTf1Legacy;      // tf.image.resize_images, align_corners=False
  // RGB 0..255 statistics; one value per channel, or both empty for none. SSD ResNet-50 FPN's
  // feature extractor subtracts the ImageNet means and does not divide. With pixel_divisor != 1
  // the values are (v / pixel_divisor - mean) / stddev in that order (the EfficientNet
  // extractors: 255 and ImageNet statistics on the 0..1 scale).
  std::vector<float> mean = {123.68f, 116.779f, 103.939f};
  std::vector<float> stddev = {1.0f, 1.0f, 1.0f};
  float pixel_divisor = 1.0f;
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

// Where the window lands in the output: resized to scaled_height x scaled_width, the rows and
// columns from the offsets on fill the output from its top-left corner, the rest is zero padding;
// `mirrored` mirrors the whole output afterwards (flips after random_scale_crop_and_pad_to_square).
// Without a padding step: scaled = the output size, offsets 0, not mirrored.
struct OutputPlacement {
  int scaled_height = 0, scaled_width = 0;
  int offset_y = 0, offset_x = 0;
  bool mirrored = false;
  bool operator==(const OutputPlacement&) const = default;
};

// Where the output comes from: a window of the source image in whole pixels, mirrored or not
// (flips before any padding step), its placement in the output, the boxes normalised to the
// output, the colour steps to run on the pixels, in order (random_rgb_to_gray appears only when
// it fires; random_distort_color as its four steps), and TF's true_image_shape: the part of the
// output the resizer filled (the output size unless keep_aspect_ratio_resizer padded).
struct DetectionGeometry {
  PixelWindow window;
  bool mirrored = false;
  OutputPlacement placement;
  std::vector<BoxAnnotation> boxes;
  std::vector<ColourStep> colour;
  ImageSize true_size;
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
  // draws; each colour op: one uniform, random_distort_color four; scale-crop-pad: three), then
  // the resizer. Boxes with a NaN coordinate are dropped first; max_boxes is applied last.
  DetectionGeometry plan(ImageSize source, std::vector<BoxAnnotation> boxes, Philox& rng) const;

  // Decodes, plans, runs the planned colour steps on the source window (as float), resamples
  // and normalises into out (F32, BF16 or U8; U8 is left unnormalised). annotations_out gets the
  // image id, the decoded source size, the planned boxes and the true-image fractions. Throws
  // BadSampleError for an undecodable image.
  void apply(const Sample& sample, Philox& rng, DType dtype, void* out,
             ImageAnnotations* annotations_out = nullptr) const override;

 private:
  DetectionTransformOptions options_;
  std::vector<float> inv_std_;
};

}  // namespace trainer::data
