// The detection augmentation's geometry: TensorFlow's box operations on hand-computed cases,
// the crop sampler's constraints over many draws, TensorFlow 1's resize grid on hand-computed
// pixels, and boxes checked against where the pixels they frame actually land.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "test_util.h"
#include "trainer/data/box_ops.h"
#include "trainer/data/detection_transform.h"
#include "trainer/data/distorted_bounding_box.h"
#include "trainer/data/resample.h"

namespace trainer::data {
namespace {

BoxAnnotation box(float ymin, float xmin, float ymax, float xmax, int32_t label = 1) {
  return {ymin, xmin, ymax, xmax, label, false, -1};
}

// ---- box operations (box_list_ops.py) ----

TEST(BoxOps, FlipMirrorsXOnly) {
  std::vector<BoxAnnotation> boxes = {box(0.1f, 0.2f, 0.5f, 0.25f, 7)};
  flip_boxes_left_right(boxes);
  EXPECT_FLOAT_EQ(boxes[0].ymin, 0.1f);
  EXPECT_FLOAT_EQ(boxes[0].xmin, 0.75f);  // 1 - 0.25
  EXPECT_FLOAT_EQ(boxes[0].ymax, 0.5f);
  EXPECT_FLOAT_EQ(boxes[0].xmax, 0.8f);   // 1 - 0.2
  EXPECT_EQ(boxes[0].label, 7);
}

TEST(BoxOps, PruneCompletelyOutsideDropsBoxesTouchingOnlyTheEdge) {
  const BoxWindow window{0.25f, 0.25f, 0.75f, 0.75f};
  std::vector<BoxAnnotation> boxes = {
      box(0.0f, 0.0f, 0.25f, 0.5f, 1),   // ends exactly on the window's top edge: outside
      box(0.0f, 0.0f, 0.3f, 0.3f, 2),    // overlaps the corner: kept
      box(0.75f, 0.3f, 0.9f, 0.4f, 3),   // starts on the bottom edge: outside
      box(0.3f, 0.8f, 0.4f, 0.9f, 4),    // right of the window: outside
      box(0.4f, 0.4f, 0.5f, 0.5f, 5)};   // inside
  prune_completely_outside_window(boxes, window);
  ASSERT_EQ(boxes.size(), 2u);
  EXPECT_EQ(boxes[0].label, 2);
  EXPECT_EQ(boxes[1].label, 5);
}

TEST(BoxOps, OverlapIsOverTheBoxAreaAndZeroAreaBoxesGiveNaN) {
  const BoxWindow window{0.0f, 0.0f, 0.5f, 1.0f};  // top half
  // Box from y 0.25 to 0.75 over full width: half of it is inside.
  EXPECT_FLOAT_EQ(intersection_over_box_area(window, box(0.25f, 0.0f, 0.75f, 1.0f)), 0.5f);
  // A box wholly inside the window: 1, however small the window.
  EXPECT_FLOAT_EQ(intersection_over_box_area(window, box(0.1f, 0.1f, 0.2f, 0.2f)), 1.0f);
  EXPECT_TRUE(std::isnan(intersection_over_box_area(window, box(0.2f, 0.1f, 0.2f, 0.4f))));  // zero height

  std::vector<BoxAnnotation> boxes = {box(0.25f, 0.0f, 0.75f, 1.0f, 1),   // 0.5 inside
                                      box(0.4f, 0.0f, 0.8f, 1.0f, 2),     // 0.25 inside
                                      box(0.2f, 0.1f, 0.2f, 0.4f, 3),     // zero area
                                      box(0.1f, 0.1f, 0.2f, 0.2f, 4)};    // inside
  auto kept = boxes;
  prune_non_overlapping_boxes(kept, window, 0.0f);  // overlap 0 keeps everything but NaN
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[2].label, 4);
  kept = boxes;
  prune_non_overlapping_boxes(kept, window, 0.5f);  // >= 0.5 is kept
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].label, 1);
  EXPECT_EQ(kept[1].label, 4);
}

TEST(BoxOps, ChangeCoordinateFrameAndClip) {
  const BoxWindow window{0.2f, 0.5f, 0.6f, 1.0f};  // height 0.4, width 0.5
  std::vector<BoxAnnotation> boxes = {box(0.1f, 0.4f, 0.4f, 0.75f)};
  change_coordinate_frame(boxes, window);
  // (0.1 - 0.2) / 0.4 = -0.25, (0.4 - 0.5) / 0.5 = -0.2, (0.4 - 0.2) / 0.4 = 0.5, (0.75 - 0.5) / 0.5 = 0.5
  EXPECT_NEAR(boxes[0].ymin, -0.25f, 1e-6);
  EXPECT_NEAR(boxes[0].xmin, -0.2f, 1e-6);
  EXPECT_NEAR(boxes[0].ymax, 0.5f, 1e-6);
  EXPECT_NEAR(boxes[0].xmax, 0.5f, 1e-6);
  clip_boxes_to_unit(boxes);
  EXPECT_EQ(boxes[0].ymin, 0.0f);
  EXPECT_EQ(boxes[0].xmin, 0.0f);
  EXPECT_NEAR(boxes[0].ymax, 0.5f, 1e-6);
}

// ---- sample_distorted_bounding_box ----

TEST(DistortedBoundingBox, AreaAspectAndPlacementOverManyDraws) {
  // The SSD320 config's crop: aspect 0.75..3, area 0.75..1, min_object_covered 0.
  const DistortedBoundingBoxOptions o{0.0f, 0.75f, 3.0f, 0.75f, 1.0f, 100};
  const std::vector<BoxAnnotation> boxes = {box(0.1f, 0.1f, 0.9f, 0.9f)};
  int fallbacks = 0, touching_bottom = 0;
  double smallest = 1, widest = 0;
  for (uint64_t s = 0; s < 3000; ++s) {
    Philox rng(11, s);
    const ImageSize image{480, 640};
    const PixelWindow w = sample_distorted_bounding_box(image, boxes, o, rng);
    ASSERT_GE(w.x, 0);
    ASSERT_GE(w.y, 0);
    ASSERT_LE(w.x + w.width, 640);
    ASSERT_LE(w.y + w.height, 480);
    if (w == PixelWindow{0, 0, 640, 480}) {
      ++fallbacks;
      continue;
    }
    const double area = double(w.width) * w.height / (640.0 * 480.0);
    ASSERT_GE(area, 0.75 - 1e-6) << w.width << "x" << w.height;
    ASSERT_LE(area, 1.0);
    // width = round(height * aspect): the aspect is in range up to half a pixel of rounding.
    ASSERT_GE(w.width, 0.75 * w.height - 0.5);
    ASSERT_LE(w.width, 3.0 * w.height + 0.5);
    // TensorFlow draws the offset in [0, size - crop), so a shorter crop never ends on the last row.
    if (w.height < 480) touching_bottom += w.y + w.height == 480;
    smallest = std::min(smallest, area);
    widest = std::max(widest, double(w.width) / w.height);
  }
  EXPECT_EQ(touching_bottom, 0);
  EXPECT_LT(smallest, 0.76);  // the range is covered ...
  EXPECT_GT(widest, 1.6);     // ... up to the widest aspect the image allows (640 / 0.75 of 480)
  EXPECT_LT(fallbacks, 3000 / 10);
}

TEST(DistortedBoundingBox, MinObjectCoveredHoldsForEveryAcceptedCrop) {
  // A box in the top-left quarter; crops of 10..60 % of the image must cover >= 90 % of it.
  const DistortedBoundingBoxOptions o{0.9f, 0.5f, 2.0f, 0.1f, 0.6f, 100};
  const std::vector<BoxAnnotation> boxes = {box(0.05f, 0.05f, 0.3f, 0.25f)};
  const ImageSize image{200, 300};
  // The box in pixels, as the kernel truncates it: x 15..75, y 10..60.
  const int bx0 = 15, by0 = 10, bx1 = 75, by1 = 60;
  int accepted = 0;
  for (uint64_t s = 0; s < 2000; ++s) {
    Philox rng(5, s);
    const PixelWindow w = sample_distorted_bounding_box(image, boxes, o, rng);
    if (w == PixelWindow{0, 0, 300, 200}) continue;  // the fallback
    ++accepted;
    const int ix = std::max(0, std::min(bx1, w.x + w.width) - std::max(bx0, w.x));
    const int iy = std::max(0, std::min(by1, w.y + w.height) - std::max(by0, w.y));
    ASSERT_GE(double(ix) * iy / ((bx1 - bx0) * (by1 - by0)), 0.9) << s;
  }
  EXPECT_GT(accepted, 1000);  // most draws find a crop within 100 attempts
}

TEST(DistortedBoundingBox, FallsBackToTheWholeImage) {
  const ImageSize image{100, 100};
  // Impossible: cover all of a box filling the image with at most half of the image.
  const DistortedBoundingBoxOptions half{1.0f, 0.75f, 1.33f, 0.1f, 0.5f, 100};
  Philox rng(1, 2);
  EXPECT_EQ(sample_distorted_bounding_box(image, std::vector<BoxAnnotation>{box(0, 0, 1, 1)}, half, rng),
            (PixelWindow{0, 0, 100, 100}));
  // Boxes under one pixel of area never count, even with min_object_covered 0 (the kernel's
  // kMinArea), so every attempt fails.
  const DistortedBoundingBoxOptions any{0.0f, 0.75f, 1.33f, 0.1f, 0.5f, 100};
  EXPECT_EQ(sample_distorted_bounding_box(image, std::vector<BoxAnnotation>{box(0.5f, 0.5f, 0.505f, 0.9f)}, any, rng),
            (PixelWindow{0, 0, 100, 100}));
  // Without boxes the whole image stands in for one, so a crop is found.
  EXPECT_NE(sample_distorted_bounding_box(image, {}, any, rng), (PixelWindow{0, 0, 100, 100}));
  // Area and aspect pinned to 1: the only crop is the image (no draw is needed for its place).
  const DistortedBoundingBoxOptions whole{0.0f, 1.0f, 1.0f, 1.0f, 1.0f, 100};
  EXPECT_EQ(sample_distorted_bounding_box({50, 50}, {}, whole, rng), (PixelWindow{0, 0, 50, 50}));
  EXPECT_THROW(sample_distorted_bounding_box(image, {}, DistortedBoundingBoxOptions{0, 1, 1, 0, 1, 100}, rng), Error);
}

// ---- TensorFlow 1's resize grid ----

std::vector<float> resize_legacy(const Image& src, const CropBox& box, int h, int w, bool flip) {
  std::vector<float> out(static_cast<size_t>(h) * w * src.channels);
  resample(src, box, h, w, flip, Normalization{}, DType::F32, out.data(), SamplingGrid::kTf1Legacy);
  return out;
}

TEST(ResampleTf1Legacy, HandComputedDownUpMirrorAndCutOutClamp) {
  Image row(1, 4, 1);
  row.pixels = {0, 10, 20, 30};
  // 4 -> 2: TensorFlow 1 samples at o * 2 = 0, 2 (half-pixel centres would give 5, 25).
  EXPECT_EQ(resize_legacy(row, {0, 0, 4, 1}, 1, 2, false), (std::vector<float>{0, 20}));
  // Mirrored: the flipped row [30, 20, 10, 0] sampled at 0, 2.
  EXPECT_EQ(resize_legacy(row, {0, 0, 4, 1}, 1, 2, true), (std::vector<float>{30, 10}));
  // 2 -> 4 from the cut-out [10, 20]: positions 0, 0.5, 1, 1.5; the last clamps to 20.
  EXPECT_EQ(resize_legacy(row, {1, 0, 2, 1}, 1, 4, false), (std::vector<float>{10, 15, 20, 20}));
  // The clamp is at the cut-out's edge, not the image's: pixel 3 (30) never leaks in.
  EXPECT_EQ(resize_legacy(row, {0, 0, 3, 1}, 1, 6, false), (std::vector<float>{0, 5, 10, 15, 20, 20}));
  // Mirrored cut-out [0, 10, 20] -> [20, 10, 0] at 0, 0.5, 1, 1.5, 2, 2.5.
  EXPECT_EQ(resize_legacy(row, {0, 0, 3, 1}, 1, 6, true), (std::vector<float>{20, 15, 10, 5, 0, 0}));
  // Vertical, 2 rows -> 3: positions 0, 2/3, 4/3 (clamped).
  Image column(2, 1, 1);
  column.pixels = {0, 30};
  const auto v = resize_legacy(column, {0, 0, 1, 2}, 3, 1, false);
  EXPECT_FLOAT_EQ(v[0], 0);
  EXPECT_FLOAT_EQ(v[1], 30 * (2.0f / 3.0f));
  EXPECT_FLOAT_EQ(v[2], 30);
  // A box of fractional pixels cannot be cut out.
  EXPECT_THROW(resize_legacy(row, {0.5, 0, 2, 1}, 1, 2, false), Error);
}

// ---- the transform's plan: random_crop_image's box semantics ----

DetectionTransform crop_only(RandomCropImageOptions crop) {
  DetectionTransformOptions o;
  o.augmentations = {crop};
  return DetectionTransform(o);
}

BoxWindow normalised(const PixelWindow& w, ImageSize image) {
  return {float(w.y) / image.height, float(w.x) / image.width, float(w.y + w.height) / image.height,
          float(w.x + w.width) / image.width};
}

TEST(DetectionCrop, BoxesAreClippedDroppedOrKeptAsTheWindowSays) {
  RandomCropImageOptions c;
  c.min_object_covered = 0.0f;
  c.min_area = 0.3f;
  c.max_area = 0.6f;
  c.overlap_thresh = 0.0f;
  const DetectionTransform t = crop_only(c);
  const ImageSize image{300, 400};
  const std::vector<BoxAnnotation> boxes = {box(0.0f, 0.0f, 0.2f, 0.2f, 1),    // top-left corner
                                            box(0.8f, 0.8f, 1.0f, 1.0f, 2),    // bottom-right corner
                                            box(0.3f, 0.3f, 0.7f, 0.7f, 3),    // centre
                                            box(0.5f, 0.1f, 0.5f, 0.9f, 4)};   // zero height
  int partly = 0, outside = 0;
  for (uint64_t s = 0; s < 400; ++s) {
    Philox rng(3, s);
    const DetectionGeometry g = t.plan(image, boxes, rng);
    const BoxWindow w = normalised(g.window, image);
    EXPECT_FALSE(g.mirrored);
    size_t next = 0;
    for (const BoxAnnotation& b : boxes) {
      // The reference, in double: the overlap of box and window.
      const double iy = std::min<double>(b.ymax, w.ymax) - std::max<double>(b.ymin, w.ymin);
      const double ix = std::min<double>(b.xmax, w.xmax) - std::max<double>(b.xmin, w.xmin);
      const bool zero_area = b.ymax == b.ymin;
      if (zero_area || iy <= 0 || ix <= 0) {  // dropped: NaN overlap, or completely outside
        outside += !zero_area;
        ASSERT_TRUE(next == g.boxes.size() || g.boxes[next].label != b.label) << s;
        continue;
      }
      ASSERT_LT(next, g.boxes.size()) << s;
      const BoxAnnotation& out = g.boxes[next++];
      ASSERT_EQ(out.label, b.label);
      // In the window's frame and clipped to it.
      const double h = w.ymax - w.ymin, wd = w.xmax - w.xmin;
      EXPECT_NEAR(out.ymin, std::clamp((b.ymin - w.ymin) / h, 0.0, 1.0), 1e-6);
      EXPECT_NEAR(out.xmin, std::clamp((b.xmin - w.xmin) / wd, 0.0, 1.0), 1e-6);
      EXPECT_NEAR(out.ymax, std::clamp((b.ymax - w.ymin) / h, 0.0, 1.0), 1e-6);
      EXPECT_NEAR(out.xmax, std::clamp((b.xmax - w.xmin) / wd, 0.0, 1.0), 1e-6);
      partly += iy < b.ymax - b.ymin || ix < b.xmax - b.xmin;
    }
    EXPECT_EQ(next, g.boxes.size());
  }
  EXPECT_GT(partly, 100);   // both cases happen often with 30..60 % crops
  EXPECT_GT(outside, 100);
}

TEST(DetectionCrop, OverlapThresholdDropsBoxesKeepingTooLittle) {
  RandomCropImageOptions c;
  c.min_object_covered = 0.0f;
  c.min_area = 0.3f;
  c.max_area = 0.7f;
  c.overlap_thresh = 0.6f;
  const DetectionTransform t = crop_only(c);
  const ImageSize image{200, 200};
  const std::vector<BoxAnnotation> boxes = {box(0.1f, 0.1f, 0.5f, 0.5f, 1), box(0.4f, 0.5f, 0.9f, 0.95f, 2)};
  int dropped_partial = 0, kept_partial = 0;
  for (uint64_t s = 0; s < 500; ++s) {
    Philox rng(8, s);
    const DetectionGeometry g = t.plan(image, boxes, rng);
    const BoxWindow w = normalised(g.window, image);
    std::vector<int32_t> expected, got;
    bool too_close_to_call = false;  // a fraction within float rounding of the threshold
    for (const BoxAnnotation& b : boxes) {
      // The reference, in double: the fraction of the box's area inside the window.
      const double iy = std::max(0.0, std::min<double>(b.ymax, w.ymax) - std::max<double>(b.ymin, w.ymin));
      const double ix = std::max(0.0, std::min<double>(b.xmax, w.xmax) - std::max<double>(b.xmin, w.xmin));
      const double kept = iy * ix / ((double(b.ymax) - b.ymin) * (double(b.xmax) - b.xmin));
      too_close_to_call |= std::abs(kept - 0.6) < 1e-4;
      if (kept >= 0.6) expected.push_back(b.label);
      dropped_partial += kept > 0 && kept < 0.6;
      kept_partial += kept >= 0.6 && kept < 1;
    }
    for (const auto& b : g.boxes) got.push_back(b.label);
    if (!too_close_to_call) {
      ASSERT_EQ(got, expected) << s;
    }
  }
  EXPECT_GT(dropped_partial, 20);
  EXPECT_GT(kept_partial, 20);
}

TEST(DetectionCrop, RandomCoefOneNeverCropsAndAreaAspectHoldOverManyDraws) {
  RandomCropImageOptions never;
  never.random_coef = 1.0f;
  const DetectionTransform unchanged = crop_only(never);
  const std::vector<BoxAnnotation> boxes = {box(0.1f, 0.2f, 0.6f, 0.7f, 3), box(0.0f, 0.5f, 1.0f, 1.0f, 9)};
  for (uint64_t s = 0; s < 50; ++s) {
    Philox rng(2, s);
    const DetectionGeometry g = unchanged.plan({120, 160}, boxes, rng);
    ASSERT_EQ(g.window, (PixelWindow{0, 0, 160, 120}));
    ASSERT_EQ(g.boxes, boxes);
  }

  // NVIDIA's SSD320 crop: area 0.75..1, aspect 0.75..3, every box's window respecting both.
  RandomCropImageOptions ssd;
  ssd.min_object_covered = 0.0f;
  ssd.min_aspect_ratio = 0.75f;
  ssd.max_aspect_ratio = 3.0f;
  ssd.min_area = 0.75f;
  ssd.max_area = 1.0f;
  ssd.overlap_thresh = 0.0f;
  const DetectionTransform t = crop_only(ssd);
  int cropped = 0;
  for (uint64_t s = 0; s < 1000; ++s) {
    Philox rng(4, s);
    const DetectionGeometry g = t.plan({427, 640}, boxes, rng);
    const double area = double(g.window.width) * g.window.height / (640.0 * 427.0);
    ASSERT_GE(area, 0.75 - 1e-6);
    ASSERT_GE(g.window.width, 0.75 * g.window.height - 0.5);
    ASSERT_LE(g.window.width, 3.0 * g.window.height + 0.5);
    cropped += area < 1;
    ASSERT_EQ(g.boxes.size(), 2u);  // 75 % crops of these boxes always keep a part of each
  }
  EXPECT_GT(cropped, 900);
}

TEST(DetectionCrop, MinObjectCoveredIsMetByTheCropOfSomeBox) {
  RandomCropImageOptions c;  // the proto's defaults, but half the object must stay
  c.min_object_covered = 0.5f;
  c.min_area = 0.1f;
  c.max_area = 0.4f;
  c.overlap_thresh = 0.0f;
  c.clip_boxes = false;  // unclipped boxes show how much of each remains
  const DetectionTransform t = crop_only(c);
  const std::vector<BoxAnnotation> boxes = {box(0.05f, 0.05f, 0.35f, 0.3f, 1), box(0.6f, 0.55f, 0.95f, 0.9f, 2)};
  int fallback = 0;
  for (uint64_t s = 0; s < 500; ++s) {
    Philox rng(6, s);
    const DetectionGeometry g = t.plan({400, 400}, boxes, rng);
    if (g.window == PixelWindow{0, 0, 400, 400}) {
      ++fallback;
      continue;
    }
    double best = 0;
    for (const auto& b : g.boxes) {
      // Unclipped, in the window's frame: the part inside [0, 1] is what the crop kept.
      const double iy = std::min(1.0, double(b.ymax)) - std::max(0.0, double(b.ymin));
      const double ix = std::min(1.0, double(b.xmax)) - std::max(0.0, double(b.xmin));
      best = std::max(best, std::max(0.0, iy) * std::max(0.0, ix) / ((double(b.ymax) - b.ymin) * (double(b.xmax) - b.xmin)));
    }
    ASSERT_GE(best, 0.5 - 0.02) << s;  // pixel truncation of the boxes moves the fraction a little
  }
  EXPECT_LT(fallback, 50);
}

// ---- boxes follow the pixels ----

struct Rect {
  int x0, y0, x1, y1;  // pixels [x0, x1) x [y0, y1)
  int channel;         // filled with 255 in this channel only
};

// A black image with pure red, green and blue rectangles, and their boxes (label = channel + 1).
Sample rectangles_sample(int height, int width, const std::vector<Rect>& rects) {
  Sample s;
  s.name = "rectangles";
  s.image = Image(height, width, 3);
  for (const Rect& r : rects) {
    for (int y = r.y0; y < r.y1; ++y)
      for (int x = r.x0; x < r.x1; ++x) s.image.row(y)[x * 3 + r.channel] = 255;
    s.annotations.boxes.push_back(box(float(r.y0) / height, float(r.x0) / width, float(r.y1) / height,
                                      float(r.x1) / width, r.channel + 1));
  }
  return s;
}

// Checks every output box against the extent of its colour in the output pixels (U8), to a
// pixel, and that every colour visible has a box.
void expect_boxes_frame_their_pixels(const std::vector<uint8_t>& pixels, int h, int w,
                                     const std::vector<BoxAnnotation>& boxes, const std::string& what) {
  for (int channel = 0; channel < 3; ++channel) {
    int x0 = w, y0 = h, x1 = 0, y1 = 0;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        if (pixels[(y * w + x) * 3 + channel] > 127) {
          x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x + 1), y1 = std::max(y1, y + 1);
        }
    const BoxAnnotation* b = nullptr;
    for (const auto& candidate : boxes)
      if (candidate.label == channel + 1) b = &candidate;
    if (x1 == 0) {  // colour not visible: at most a sliver of a box remains
      if (b) {
        EXPECT_LT(std::min((b->xmax - b->xmin) * w, (b->ymax - b->ymin) * h), 2.0f) << what << " channel " << channel;
      }
      continue;
    }
    ASSERT_NE(b, nullptr) << what << ": colour " << channel << " is visible but has no box";
    EXPECT_NEAR(b->xmin * w, x0, 1.0) << what << " channel " << channel;
    EXPECT_NEAR(b->xmax * w, x1, 1.0) << what << " channel " << channel;
    EXPECT_NEAR(b->ymin * h, y0, 1.0) << what << " channel " << channel;
    EXPECT_NEAR(b->ymax * h, y1, 1.0) << what << " channel " << channel;
  }
}

TEST(DetectionTransform, FlipAndCropMoveBoxesExactlyAsThePixelsMove) {
  const int H = 120, W = 160, OH = 100, OW = 140;
  const Sample sample = rectangles_sample(H, W, {{5, 10, 45, 50, 0}, {100, 20, 150, 60, 1}, {60, 70, 120, 115, 2}});
  DetectionTransformOptions o;
  o.height = OH;
  o.width = OW;
  RandomCropImageOptions crop;  // a wide range of crops, so rectangles are cut and dropped
  crop.min_object_covered = 0.0f;
  crop.min_aspect_ratio = 0.75f;
  crop.max_aspect_ratio = 3.0f;
  crop.min_area = 0.3f;
  crop.max_area = 1.0f;
  crop.overlap_thresh = 0.0f;
  o.augmentations = {RandomHorizontalFlipOptions{}, crop, RandomHorizontalFlipOptions{}};
  const DetectionTransform t(o);
  std::vector<uint8_t> out(OH * OW * 3);
  int mirrored = 0, cut = 0;
  for (uint64_t s = 0; s < 120; ++s) {
    Philox rng(9, s), replay(9, s);
    ImageAnnotations annotations;
    t.apply(sample, rng, DType::U8, out.data(), &annotations);
    EXPECT_EQ(annotations.original_height, H);
    EXPECT_EQ(annotations.original_width, W);
    expect_boxes_frame_their_pixels(out, OH, OW, annotations.boxes, str("seed ", s));
    const DetectionGeometry g = t.plan({H, W}, sample.annotations.boxes, replay);
    EXPECT_EQ(g.boxes, annotations.boxes);  // apply draws exactly what plan draws
    mirrored += g.mirrored;
    cut += annotations.boxes.size() < 3;
  }
  EXPECT_GT(mirrored, 30);
  EXPECT_LT(mirrored, 90);
  EXPECT_GT(cut, 10);
}

TEST(DetectionTransform, EvalKeepsBoxesAndNormalisesLikeTheSsdResNetExtractor) {
  const Sample sample = rectangles_sample(60, 80, {{10, 10, 30, 40, 0}, {50, 5, 75, 55, 2}});
  DetectionTransformOptions o;
  o.train = false;
  o.height = 45;
  o.width = 50;
  o.augmentations = {RandomHorizontalFlipOptions{}};  // ignored in eval
  const DetectionTransform t(o);
  std::vector<float> out(45 * 50 * 3);
  std::vector<uint8_t> raw(out.size());
  ImageAnnotations a;
  Philox rng(0, 0);
  t.apply(sample, rng, DType::F32, out.data(), &a);
  EXPECT_EQ(a.boxes, sample.annotations.boxes);
  t.apply(sample, rng, DType::U8, raw.data());
  expect_boxes_frame_their_pixels(raw, 45, 50, a.boxes, "eval");
  // Mean subtraction without division: black is -mean, and a red pixel is 255 - 123.68.
  EXPECT_FLOAT_EQ(out[0], -123.68f);
  EXPECT_FLOAT_EQ(out[1], -116.779f);
  EXPECT_FLOAT_EQ(out[2], -103.939f);
  const int y = 20, x = 12;  // inside the red rectangle in the output (source x 19, y 26)
  EXPECT_FLOAT_EQ(out[(y * 50 + x) * 3], 255 - 123.68f);
}

TEST(DetectionTransform, KeepsTheFirstMaxBoxesAndDropsNaNBoxes) {
  Sample s;
  s.name = "many";
  s.image = testing::gradient(20, 20, 3);
  for (int i = 0; i < 150; ++i) s.annotations.boxes.push_back(box(0.1f, 0.1f, 0.5f, 0.5f, 1 + i % 90));
  s.annotations.boxes[3].xmin = std::numeric_limits<float>::quiet_NaN();
  DetectionTransformOptions o;
  o.train = false;
  o.height = o.width = 8;
  const DetectionTransform t(o);
  std::vector<float> out(8 * 8 * 3);
  ImageAnnotations a;
  Philox rng(0, 0);
  t.apply(s, rng, DType::F32, out.data(), &a);
  ASSERT_EQ(a.boxes.size(), 100u);
  EXPECT_EQ(a.boxes[2].label, 3);
  EXPECT_EQ(a.boxes[3].label, 5);  // box 3 (NaN) is gone before the cap
  EXPECT_EQ(a.boxes[99].label, 1 + 100 % 90);
}

TEST(DetectionTransform, OptionErrorsNameTheOption) {
  DetectionTransformOptions o;
  RandomCropImageOptions c;
  c.min_area = 0.9f;
  c.max_area = 0.5f;
  o.augmentations = {RandomHorizontalFlipOptions{}, c};
  const std::string message = testing::error_of([&] { DetectionTransform t(o); });
  EXPECT_NE(message.find("augmentation 1 (random_crop_image): area range [0.9, 0.5]"), std::string::npos) << message;
  o = {};
  o.mean = {1, 2};
  EXPECT_NE(testing::error_of([&] { DetectionTransform t(o); }).find("mean and stddev"), std::string::npos);
  o = {};
  o.max_boxes = -1;
  EXPECT_THROW(DetectionTransform{o}, Error);
}

}  // namespace
}  // namespace trainer::data
