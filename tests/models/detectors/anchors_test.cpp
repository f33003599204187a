// Multiscale grid anchors (models/detectors/anchors.h) against values worked out by hand from
// multiscale_grid_anchor_generator.py and grid_anchor_generator.py.
#include <gtest/gtest.h>

#include <cmath>

#include "trainer/models/detectors/anchors.h"

namespace trainer::models {
namespace {

void expect_box(const Tensor& anchors, int64_t index, std::array<double, 4> want_px, double height, double width) {
  const float* a = anchors.data<float>() + 4 * index;
  const double scale[4] = {height, width, height, width};
  for (int i = 0; i < 4; ++i)
    EXPECT_NEAR(a[i], want_px[i] / scale[i], 2e-6) << "anchor " << index << " coordinate " << i;
}

TEST(Anchors, Ssd320CountsAndFeatureMaps) {
  const MultiscaleAnchorOptions o;  // SSD320: levels 3..7, scale 4, ratios {1, 2, 0.5}, 2 scales
  EXPECT_EQ(anchors_per_location(o), 6);
  const std::vector<FeatureMapSize> sizes = feature_map_sizes(o, 320, 320);
  ASSERT_EQ(sizes.size(), 5u);
  const int64_t want[5] = {40, 20, 10, 5, 3};  // ceil(320 / 2^level)
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(sizes[i].height, want[i]);
    EXPECT_EQ(sizes[i].width, want[i]);
  }
  // 6 * (1600 + 400 + 100 + 25 + 9) = 6 * 2134 = 12804
  EXPECT_EQ(num_anchors(o, 320, 320), 12804);
  const Tensor anchors = multiscale_grid_anchors(o, 320, 320);
  EXPECT_EQ(anchors.shape(), (Shape{12804, 4}));
  EXPECT_EQ(anchors.dtype(), DType::F32);
}

TEST(Anchors, Ssd320FirstAndLastAnchorOfEveryLevel) {
  // Level l, stride s = 2^l, base size 4s. 320 is divisible by 8, 16, 32, 64 (offset s/2) but
  // not by 128 (level 7: offset 0). Coordinates in pixels, divided by 320 below.
  // First anchor of a level: row 0, column 0, ratio 1, scale 1: centre (off, off), size 4s:
  //   l3: off 4,  size 32  -> [-12, -12, 20, 20]
  //   l4: off 8,  size 64  -> [-24, -24, 40, 40]
  //   l5: off 16, size 128 -> [-48, -48, 80, 80]
  //   l6: off 32, size 256 -> [-96, -96, 160, 160]
  //   l7: off 0,  size 512 -> [-256, -256, 256, 256]
  // Last anchor: last row and column (F - 1), ratio 0.5, scale sqrt 2:
  //   height = sqrt2 / sqrt0.5 * 4s = 8s, width = sqrt2 * sqrt0.5 * 4s = 4s, centre (F-1) s + off:
  //   l3: F 40, centre 39*8+4 = 316,  h 64,   w 32  -> [284, 300, 348, 332]
  //   l4: F 20, centre 19*16+8 = 312, h 128,  w 64  -> [248, 280, 376, 344]
  //   l5: F 10, centre 9*32+16 = 304, h 256,  w 128 -> [176, 240, 432, 368]
  //   l6: F 5,  centre 4*64+32 = 288, h 512,  w 256 -> [32, 160, 544, 416]
  //   l7: F 3,  centre 2*128+0 = 256, h 1024, w 512 -> [-256, 0, 768, 512]
  // Level starts: 0, 6*1600 = 9600, +6*400 = 12000, +6*100 = 12600, +6*25 = 12750, +6*9 = 12804.
  const Tensor a = multiscale_grid_anchors(MultiscaleAnchorOptions{}, 320, 320);
  const int64_t first[5] = {0, 9600, 12000, 12600, 12750}, last[5] = {9599, 11999, 12599, 12749, 12803};
  const std::array<double, 4> first_px[5] = {
      {-12, -12, 20, 20}, {-24, -24, 40, 40}, {-48, -48, 80, 80}, {-96, -96, 160, 160}, {-256, -256, 256, 256}};
  const std::array<double, 4> last_px[5] = {
      {284, 300, 348, 332}, {248, 280, 376, 344}, {176, 240, 432, 368}, {32, 160, 544, 416}, {-256, 0, 768, 512}};
  for (int l = 0; l < 5; ++l) {
    SCOPED_TRACE("level " + std::to_string(l + 3));
    expect_box(a, first[l], first_px[l], 320, 320);
    expect_box(a, last[l], last_px[l], 320, 320);
  }
}

TEST(Anchors, LocationOrderIsRatioOuterScaleInner) {
  // Level 3, location (0, 0), centre (4, 4), base 32: ops.meshgrid(scales, ratios) flattened is
  // (1, 1), (1, r2), (2, 1), (2, r2), (0.5, 1), (0.5, r2) as (ratio, scale), r2 = sqrt 2.
  // height = scale / sqrt(ratio) * 32, width = scale * sqrt(ratio) * 32.
  const Tensor a = multiscale_grid_anchors(MultiscaleAnchorOptions{}, 320, 320);
  const double r2 = std::sqrt(2.0);
  const double hw[6][2] = {{32, 32}, {32 * r2, 32 * r2}, {32 / r2, 32 * r2}, {32, 64}, {32 * r2, 32 / r2}, {64, 32}};
  for (int b = 0; b < 6; ++b) {
    const double h = hw[b][0], w = hw[b][1];
    expect_box(a, b, {4 - h / 2, 4 - w / 2, 4 + h / 2, 4 + w / 2}, 320, 320);
  }
  // The next location is one column to the right (centre x 12), same basis.
  expect_box(a, 6, {-12, -4, 20, 28}, 320, 320);
  // Row 1 starts after the 40 columns of row 0: centre (12, 4).
  expect_box(a, 6 * 40, {-4, -12, 28, 20}, 320, 320);
}

TEST(Anchors, OffsetDependsOnDivisibilityPerAxis) {
  // 320 x 328: rows divisible by 8 and 16; 328 by 8 but not 16 (328 = 20.5 * 16).
  // Level 3 first anchor: centre (4, 4); level 4: centre (8, 0) and 21 columns (ceil 328/16).
  MultiscaleAnchorOptions o;
  o.min_level = 3;
  o.max_level = 4;
  o.aspect_ratios = {1.0f};
  o.scales_per_octave = 1;
  const std::vector<FeatureMapSize> sizes = feature_map_sizes(o, 320, 328);
  EXPECT_EQ(sizes[1].height, 20);
  EXPECT_EQ(sizes[1].width, 21);
  const Tensor a = multiscale_grid_anchors(o, 320, 328);
  ASSERT_EQ(a.dim(0), 40 * 41 + 20 * 21);
  expect_box(a, 0, {4 - 16, 4 - 16, 4 + 16, 4 + 16}, 320, 328);
  expect_box(a, 40 * 41, {8 - 32, 0 - 32, 8 + 32, 0 + 32}, 320, 328);
  // Unnormalised: pixels.
  o.normalize_coordinates = false;
  expect_box(multiscale_grid_anchors(o, 320, 328), 0, {-12, -12, 20, 20}, 1, 1);
}

TEST(Anchors, RejectsBadOptions) {
  MultiscaleAnchorOptions o;
  o.aspect_ratios = {};
  EXPECT_THROW(multiscale_grid_anchors(o, 320, 320), Error);
  o = MultiscaleAnchorOptions{};
  o.max_level = 2;
  EXPECT_THROW(multiscale_grid_anchors(o, 320, 320), Error);
}

}  // namespace
}  // namespace trainer::models
