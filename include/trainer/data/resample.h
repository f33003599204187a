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

// Per channel (v - mean) * inv_std, or with `stddev` set (v / divisor - mean) / stddev in that
// order, as TensorFlow evaluates the EfficientNet extractors' ((x / 255) - mean) / std.
struct Normalization {
  const float* mean = nullptr;     // per channel; null: no normalisation (values stay 0..255)
  const float* inv_std = nullptr;  // per channel, 1 / std
  float divisor = 1.0f;            // with stddev: the pixels are divided by it first
  const float* stddev = nullptr;   // per channel; set: divide by it instead of multiplying by inv_std
};

// Where one output axis comes from, on TensorFlow 1's grid, for resizes that put the image on a
// zero-padded canvas (the TF OD API's keep_aspect_ratio_resizer with pad_to_max_dimension, and
// random_scale_crop_and_pad_to_square): the source cut-out [first, first + size) (whole pixels,
// read mirrored when `mirror`) is resized to `scaled` pixels, of which pixels offset, offset + 1,
// ... fill the output from its start until either runs out; the rest of the output is padding,
// a zero pixel before normalisation. `mirror_output` then mirrors the whole output axis, padding
// included (a flip after the padding step). Resized pixel r samples the cut-out at
// r * (size / scaled), computed in float as TensorFlow does, taps clamped to the cut-out.
struct AxisPlacement {
  int first = 0, size = 0;
  bool mirror = false;
  int scaled = 0, offset = 0;
  bool mirror_output = false;
};

// dst: [out_height, out_width, src.channels] of dtype (F32, BF16 or U8), contiguous.
// Bilinear on the given grid (half-pixel centres unless told otherwise, see SamplingGrid).
// flip mirrors the result left-right, i.e. equals resampling the mirrored box of the mirrored
// image. Each output value is top + fy * (bottom - top) of two horizontally interpolated rows
// a + fx * (b - a), TensorFlow's order. U8 output is rounded and never normalised.
void resample(const Image& src, const CropBox& box, int out_height, int out_width, bool flip,
              const Normalization& norm, DType dtype, void* dst, SamplingGrid grid = SamplingGrid::kHalfPixel);

// The same, from placed cut-outs on TensorFlow 1's grid (AxisPlacement): dst is out_height x
// out_width, its padding written as a zero pixel (normalised; 0 as U8). With scaled = out and
// offset 0 on both axes this is resample(..., SamplingGrid::kTf1Legacy) of the cut-out.
void resample_placed(const Image& src, const AxisPlacement& y, const AxisPlacement& x, int out_height, int out_width,
                     const Normalization& norm, DType dtype, void* dst);

}  // namespace trainer::data
