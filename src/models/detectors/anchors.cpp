#include "trainer/models/detectors/anchors.h"

#include <cmath>

#include "trainer/core/error.h"

namespace trainer::models {
namespace {

void check_options(const MultiscaleAnchorOptions& o, int64_t image_height, int64_t image_width) {
  TRAINER_CHECK(o.min_level >= 0 && o.max_level >= o.min_level && o.max_level < 31,
                "multiscale anchors: levels ", o.min_level, "..", o.max_level, " are not 0 <= min <= max < 31");
  TRAINER_CHECK(!o.aspect_ratios.empty(), "multiscale anchors: no aspect ratios");
  for (float ar : o.aspect_ratios)
    TRAINER_CHECK(ar > 0.f && std::isfinite(ar), "multiscale anchors: aspect ratio ", ar, " is not positive");
  TRAINER_CHECK(o.scales_per_octave >= 1, "multiscale anchors: scales_per_octave ", o.scales_per_octave,
                " must be >= 1");
  TRAINER_CHECK(o.anchor_scale > 0.f && std::isfinite(o.anchor_scale), "multiscale anchors: anchor_scale ",
                o.anchor_scale, " is not positive");
  TRAINER_CHECK(image_height >= 1 && image_width >= 1, "multiscale anchors: image size ", image_height, "x",
                image_width, " is empty");
}

}  // namespace

int64_t anchors_per_location(const MultiscaleAnchorOptions& o) {
  return static_cast<int64_t>(o.aspect_ratios.size()) * o.scales_per_octave;
}

std::vector<FeatureMapSize> feature_map_sizes(const MultiscaleAnchorOptions& o, int64_t image_height,
                                              int64_t image_width) {
  check_options(o, image_height, image_width);
  std::vector<FeatureMapSize> sizes;
  for (int level = o.min_level; level <= o.max_level; ++level) {
    const int64_t stride = int64_t{1} << level;
    sizes.push_back({(image_height + stride - 1) / stride, (image_width + stride - 1) / stride});
  }
  return sizes;
}

int64_t num_anchors(const MultiscaleAnchorOptions& o, int64_t image_height, int64_t image_width) {
  int64_t total = 0;
  for (const FeatureMapSize& f : feature_map_sizes(o, image_height, image_width)) total += f.height * f.width;
  return total * anchors_per_location(o);
}

Tensor multiscale_grid_anchors(const MultiscaleAnchorOptions& o, int64_t image_height, int64_t image_width) {
  const std::vector<FeatureMapSize> sizes = feature_map_sizes(o, image_height, image_width);
  const int64_t per_location = anchors_per_location(o);
  Tensor anchors = Tensor::empty({num_anchors(o, image_height, image_width), 4}, DType::F32);
  float* out = anchors.data<float>();

  // The basis of one location, meshgrid(scales, aspect_ratios) flattened: ratio outer, scale
  // inner. Python computes the scales in double; the tensors hold them in float32.
  std::vector<float> basis_scale, basis_sqrt_ratio;
  for (float ar : o.aspect_ratios)
    for (int i = 0; i < o.scales_per_octave; ++i) {
      basis_scale.push_back(static_cast<float>(std::pow(2.0, static_cast<double>(i) / o.scales_per_octave)));
      basis_sqrt_ratio.push_back(std::sqrt(ar));
    }
  // to_normalized_coordinates multiplies by the float32 reciprocal of the image size.
  const float y_norm = o.normalize_coordinates ? 1.f / static_cast<float>(image_height) : 1.f;
  const float x_norm = o.normalize_coordinates ? 1.f / static_cast<float>(image_width) : 1.f;

  int64_t a = 0;
  for (size_t l = 0; l < sizes.size(); ++l) {
    const int level = o.min_level + static_cast<int>(l);
    const int64_t stride_px = int64_t{1} << level;
    const float stride = static_cast<float>(stride_px);
    const float base = static_cast<float>(static_cast<double>(stride_px) * o.anchor_scale);
    // The centre offset depends on whether the image size is divisible by the stride.
    const float offset_y = image_height % stride_px == 0 || image_height == 1 ? stride / 2.f : 0.f;
    const float offset_x = image_width % stride_px == 0 || image_width == 1 ? stride / 2.f : 0.f;
    for (int64_t i = 0; i < sizes[l].height; ++i) {
      const float yc = static_cast<float>(i) * stride + offset_y;
      for (int64_t j = 0; j < sizes[l].width; ++j) {
        const float xc = static_cast<float>(j) * stride + offset_x;
        for (int64_t b = 0; b < per_location; ++b, ++a) {
          const float h = basis_scale[b] / basis_sqrt_ratio[b] * base;
          const float w = basis_scale[b] * basis_sqrt_ratio[b] * base;
          float* box = out + 4 * a;
          box[0] = (yc - 0.5f * h) * y_norm;
          box[1] = (xc - 0.5f * w) * x_norm;
          box[2] = (yc + 0.5f * h) * y_norm;
          box[3] = (xc + 0.5f * w) * x_norm;
        }
      }
    }
  }
  return anchors;
}

}  // namespace trainer::models
