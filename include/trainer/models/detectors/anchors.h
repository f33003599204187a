// Anchors of the TF Object Detection API's multiscale_anchor_generator
// (anchor_generators/multiscale_grid_anchor_generator.py over grid_anchor_generator.py), in
// the same values and the same order, so a network's flattened predictions line up with them.
#pragma once

#include <cstdint>
#include <vector>

#include "trainer/core/tensor.h"

namespace trainer::models {

struct MultiscaleAnchorOptions {
  int min_level = 3, max_level = 7;
  float anchor_scale = 4.0f;  // base anchor size = anchor_scale * 2^level pixels
  std::vector<float> aspect_ratios = {1.0f, 2.0f, 0.5f};
  int scales_per_octave = 2;  // scales 2^(i / scales_per_octave), i = 0..scales_per_octave-1
  bool normalize_coordinates = true;
};

struct FeatureMapSize {
  int64_t height = 0, width = 0;
};

// aspect_ratios.size() * scales_per_octave.
int64_t anchors_per_location(const MultiscaleAnchorOptions& o);

// Per level min..max: the feature map a stride-2^level network with TF 'SAME' padding gives
// for the input, ceil(height / 2^level) x ceil(width / 2^level) (320 -> 40, 20, 10, 5, 3).
std::vector<FeatureMapSize> feature_map_sizes(const MultiscaleAnchorOptions& o, int64_t image_height,
                                              int64_t image_width);

// Total anchors for the input: sum over levels of height * width * anchors_per_location
// (12,804 for SSD320's options at 320x320).
int64_t num_anchors(const MultiscaleAnchorOptions& o, int64_t image_height, int64_t image_width);

// F32 [A, 4] anchors [ymin, xmin, ymax, xmax], normalised by the image size (pixels if
// normalize_coordinates is false). Order: levels min..max; within a level grid rows, then
// columns, then the location's anchors with the aspect ratio outer and the scale inner
// ((ar0, s0), (ar0, s1), (ar1, s0), ...; ops.meshgrid(scales, aspect_ratios) flattened).
// An anchor at row i, column j of level l with stride s = 2^l is centred at
//   (i * s + offset_y, j * s + offset_x),  offset = s / 2 on an axis whose image size is
// divisible by s, else 0 (so at 320 px level 7, 320 % 128 != 0, starts at 0),
// with height = scale / sqrt(ar) * base and width = scale * sqrt(ar) * base, base =
// anchor_scale * s; all in float32 as TensorFlow computes it, and normalised by multiplying
// with float32 1/height and 1/width.
Tensor multiscale_grid_anchors(const MultiscaleAnchorOptions& o, int64_t image_height, int64_t image_width);

}  // namespace trainer::models
