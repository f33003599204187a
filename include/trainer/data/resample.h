// The per-pixel half of the augmentation, fused into one pass that writes straight into the
// batch: bilinear resampling of a crop box to the output size, an optional horizontal mirror,
// per-channel normalisation, and the store in the batch's dtype.
#pragma once

#include "trainer/core/dtype.h"
#include "trainer/data/crop.h"
#include "trainer/data/image.h"

namespace trainer::data {

// Where output pixels sample the source.
enum class SamplingGrid {
  // Half-pixel centres with edge clamping (OpenCV's INTER_LINEAR, TensorFlow 2's resize,
  // torchvision without antialias): output pixel (oy, ox) samples the source at
  //   y = box.y + (oy + 0.5) * box.height / out_height - 0.5   (likewise x),
  // so resampling the whole image and then cropping equals resampling the crop box directly.
  // Taps are clamped to the source image.
  kHalfPixel,
  // TensorFlow 1's tf.image.resize_images / resize_bilinear with align_corners=False (the
  // default, half_pixel_centers=False), which the TF Object Detection API's resizers use: the
  // box (whole pixels) is cut out first and then resized, output pixel oy sampling the cut-out
  // at y = oy * (box.height / out_height), computed in float as TensorFlow does, with taps
  // clamped to the cut-out (not the source).
  kTf1Legacy,
};

struct Normalization {
  const float* mean = nullptr;     // per channel; null: no normalisation (values stay 0..255)
  const float* inv_std = nullptr;  // per channel, 1 / std
};

// dst: [out_height, out_width, src.channels] of dtype (F32, BF16 or U8), contiguous.
// Bilinear on the given grid (half-pixel centres unless told otherwise, see SamplingGrid).
// flip mirrors the result left-right, i.e. equals resampling the mirrored box of the mirrored
// image. Each output value is top + fy * (bottom - top) of two horizontally interpolated rows
// a + fx * (b - a), TensorFlow's order. U8 output is rounded and never normalised.
void resample(const Image& src, const CropBox& box, int out_height, int out_width, bool flip,
              const Normalization& norm, DType dtype, void* dst, SamplingGrid grid = SamplingGrid::kHalfPixel);

}  // namespace trainer::data
