// The photometric half of the TF Object Detection API's augmentation (core/preprocessor.py):
// the TensorFlow image ops its random_adjust_* / random_rgb_to_gray steps call, on a float
// image, plus a bilinear resample of such an image into the batch. The API holds the image as
// float32 on the 0..255 scale between its steps; each step divides by 255, runs the
// TensorFlow op on [0, 1] values, multiplies by 255 and clips to [0, 255] (rgb_to_gray, which
// cannot leave the range, does not clip there). These functions do the same, in float, in
// that order, so their values are TensorFlow's to float rounding.
#pragma once

#include <cstdint>
#include <vector>

#include "trainer/core/dtype.h"
#include "trainer/data/distorted_bounding_box.h"
#include "trainer/data/image.h"
#include "trainer/data/resample.h"

namespace trainer::data {

// RGB pixels as float32 on the 0..255 scale, row-major HWC (3 channels).
struct FloatImage {
  int height = 0, width = 0, channels = 0;
  std::vector<float> pixels;

  FloatImage() = default;
  FloatImage(int height, int width, int channels)
      : height(height), width(width), channels(channels),
        pixels(static_cast<size_t>(height) * width * channels) {}

  size_t row_values() const { return static_cast<size_t>(width) * channels; }
  const float* row(int y) const { return pixels.data() + y * row_values(); }
  float* row(int y) { return pixels.data() + y * row_values(); }
  float* at(int y, int x) { return row(y) + static_cast<size_t>(x) * channels; }
  const float* at(int y, int x) const { return row(y) + static_cast<size_t>(x) * channels; }
};

// The pixels of `region` (inside src, which must be RGB) as floats, as tf.to_float does.
FloatImage to_float(const Image& src, const PixelWindow& region);

// tf.image.adjust_brightness: v / 255 + delta, times 255, clipped.
void adjust_brightness(FloatImage& image, float delta);

// tf.image.adjust_contrast (AdjustContrastv2): per channel, m + factor * (v / 255 - m) with m the
// channel's mean of v / 255 over `mean_window` (in image coordinates: the image the API's step
// sees), then times 255 and clipped. Every pixel of `image` is changed with that mean. The
// mean is summed in double and rounded to float (TensorFlow sums in float by halving folds;
// the two differ by float rounding only).
void adjust_contrast(FloatImage& image, float factor, const PixelWindow& mean_window);

// tf.image.adjust_hue (AdjustHue's kernel): hue (in sixths of the circle) plus 6 * delta,
// wrapped into [0, 6), with the pixel's max and min channel kept; times 255, clipped.
void adjust_hue(FloatImage& image, float delta);

// tf.image.adjust_saturation (AdjustSaturation's kernel): HSV saturation times factor, clamped
// to [0, 1], hue and value kept; times 255, clipped.
void adjust_saturation(FloatImage& image, float factor);

// preprocessor._rgb_to_grayscale then tf.image.grayscale_to_rgb: every channel becomes
// 0.2989 R + 0.5870 G + 0.1140 B.
void rgb_to_gray(FloatImage& image);

// resample() of a float image: the same taps, the same order of operations and the same store
// as the uint8 version in resample.h, so a float image holding whole numbers resamples to
// exactly the bytes (or floats) the uint8 image does.
void resample(const FloatImage& src, const CropBox& box, int out_height, int out_width, bool flip,
              const Normalization& norm, DType dtype, void* dst, SamplingGrid grid = SamplingGrid::kHalfPixel);
// resample_placed() of a float image, likewise.
void resample_placed(const FloatImage& src, const AxisPlacement& y, const AxisPlacement& x, int out_height,
                     int out_width, const Normalization& norm, DType dtype, void* dst);

}  // namespace trainer::data
