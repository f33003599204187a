// tf.image.sample_distorted_bounding_box, the crop sampler behind the TF Object Detection API's
// random_crop_image: TensorFlow's kernel (sample_distorted_bounding_box_op.cc) step by step,
// with our Philox draws in place of TensorFlow's.
//
// Per attempt (up to max_attempts): an aspect ratio (width / height) uniform in
// [min_aspect_ratio, max_aspect_ratio); a height drawn uniformly among the whole heights
// between the one giving min_area and the one giving max_area of the image at that aspect
// (clamped so that the width round(height * aspect) and the height fit the image); one pixel
// up or down if rounding left the area outside [min_area, max_area]; then a top-left corner
// drawn uniformly, y in [0, image height - height) and x in [0, image width - width) (TensorFlow
// never places a smaller crop against the bottom or right edge). The crop is accepted when it
// has at least one pixel and covers at least min_object_covered of the area of one box with at
// least one pixel of area; boxes are converted to pixels by truncating coord * size. Without
// boxes, the whole image stands in for one. If no attempt is accepted: the whole image.
#pragma once

#include <span>

#include "trainer/core/random.h"
#include "trainer/data/annotations.h"
#include "trainer/data/decode.h"

namespace trainer::data {

struct DistortedBoundingBoxOptions {
  float min_object_covered = 0.1f;
  float min_aspect_ratio = 0.75f, max_aspect_ratio = 1.33f;  // width / height
  float min_area = 0.05f, max_area = 1.0f;                   // fraction of the image
  int max_attempts = 100;
};

// A crop in whole pixels: columns [x, x + width), rows [y, y + height).
struct PixelWindow {
  int x = 0, y = 0, width = 0, height = 0;
  bool operator==(const PixelWindow&) const = default;
};

// boxes: normalised; coordinates are clipped to [0, 1] first (random_crop_image does so before
// calling TensorFlow's op) and boxes with a NaN coordinate are not considered. Throws an Error
// for options TensorFlow rejects (ranges not positive, area above 1, no attempts).
PixelWindow sample_distorted_bounding_box(ImageSize image, std::span<const BoxAnnotation> boxes,
                                          const DistortedBoundingBoxOptions& options, Philox& rng);

}  // namespace trainer::data
