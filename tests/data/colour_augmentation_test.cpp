// The TF Object Detection API's colour steps (random_adjust_brightness / contrast / hue /
// saturation, random_rgb_to_gray, random_distort_color): each op against values computed here
// from the published formulas (by hand, or with an HSV conversion and a TensorFlow 1 bilinear
// resize written in this file), clipping, the draws' ranges and order over many samples,
// determinism, untouched boxes, and the whole transform against "augment the decoded image
// step by step, then resize".
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "test_util.h"
#include "trainer/data/colour_ops.h"
#include "trainer/data/detection_transform.h"
#include "trainer/data/resample.h"

namespace trainer::data {
namespace {

constexpr double kTol = 2e-3;  // in 0..255 units: float arithmetic against double references

FloatImage pixels_of(int height, int width, const std::vector<std::vector<double>>& rgb) {
  FloatImage image(height, width, 3);
  EXPECT_EQ(rgb.size(), static_cast<size_t>(height * width));
  for (size_t i = 0; i < rgb.size(); ++i)
    for (int c = 0; c < 3; ++c) image.pixels[i * 3 + c] = static_cast<float>(rgb[i][c]);
  return image;
}

FloatImage one_pixel(double r, double g, double b) { return pixels_of(1, 1, {{r, g, b}}); }

void expect_pixel(const FloatImage& image, int index, double r, double g, double b, const std::string& what = "") {
  EXPECT_NEAR(image.pixels[index * 3 + 0], r, kTol) << what;
  EXPECT_NEAR(image.pixels[index * 3 + 1], g, kTol) << what;
  EXPECT_NEAR(image.pixels[index * 3 + 2], b, kTol) << what;
}

// ---- references written here, in double ----

double clip(double v) { return std::min(255.0, std::max(0.0, v)); }

struct Hsv {
  double h, s, v;  // h in degrees [0, 360), s and v in [0, 1]
};

// Textbook RGB <-> HSV (https://en.wikipedia.org/wiki/HSL_and_HSV), on [0, 1] values.
Hsv to_hsv(double r, double g, double b) {
  const double mx = std::max({r, g, b}), mn = std::min({r, g, b}), d = mx - mn;
  double h = 0;
  if (d > 0) {
    if (mx == r)
      h = 60 * std::fmod((g - b) / d + 6, 6.0);
    else if (mx == g)
      h = 60 * ((b - r) / d + 2);
    else
      h = 60 * ((r - g) / d + 4);
  }
  return {h, mx > 0 ? d / mx : 0, mx};
}

std::array<double, 3> from_hsv(const Hsv& p) {
  const double c = p.v * p.s, hp = p.h / 60, x = c * (1 - std::abs(std::fmod(hp, 2.0) - 1)), m = p.v - c;
  double r = 0, g = 0, b = 0;
  if (hp < 1) r = c, g = x;
  else if (hp < 2) r = x, g = c;
  else if (hp < 3) g = c, b = x;
  else if (hp < 4) g = x, b = c;
  else if (hp < 5) r = x, b = c;
  else r = c, b = x;
  return {r + m, g + m, b + m};
}

// The API's steps on 0..255 pixels, by their formulas.
std::array<double, 3> ref_saturation(std::array<double, 3> p, double factor) {
  Hsv hsv = to_hsv(p[0] / 255, p[1] / 255, p[2] / 255);
  hsv.s = std::min(1.0, std::max(0.0, hsv.s * factor));
  const auto q = from_hsv(hsv);
  return {clip(q[0] * 255), clip(q[1] * 255), clip(q[2] * 255)};
}

std::array<double, 3> ref_hue(std::array<double, 3> p, double delta) {
  Hsv hsv = to_hsv(p[0] / 255, p[1] / 255, p[2] / 255);
  hsv.h = std::fmod(hsv.h + 360 * delta, 360.0);
  if (hsv.h < 0) hsv.h += 360;
  const auto q = from_hsv(hsv);
  return {clip(q[0] * 255), clip(q[1] * 255), clip(q[2] * 255)};
}

double ref_gray(std::array<double, 3> p) { return 0.2989 * p[0] + 0.5870 * p[1] + 0.1140 * p[2]; }

// A few hundred colours: every hue sixth, grays, black, white, saturated and pale ones.
std::vector<std::array<double, 3>> colour_sweep() {
  std::vector<std::array<double, 3>> colours;
  const double levels[] = {0, 1, 17, 64, 100, 128, 191, 230, 254, 255};
  for (double r : levels)
    for (double g : levels)
      for (double b : levels) colours.push_back({r, g, b});
  return colours;
}

// ---- the ops ----

TEST(ColourOps, BrightnessAddsDeltaTimes255AndClips) {
  FloatImage up = pixels_of(1, 2, {{0, 10, 128}, {250, 255, 229.5}});
  adjust_brightness(up, 0.1f);  // + 25.5
  expect_pixel(up, 0, 25.5, 35.5, 153.5);
  expect_pixel(up, 1, 255, 255, 255);  // 275.5 and 280.5 clip; 229.5 + 25.5 = 255 exactly
  FloatImage down = pixels_of(1, 2, {{0, 10, 128}, {250, 255, 25.5}});
  adjust_brightness(down, -0.1f);
  expect_pixel(down, 0, 0, 0, 102.5);  // -25.5 and -15.5 clip at 0
  expect_pixel(down, 1, 224.5, 229.5, 0);
}

TEST(ColourOps, ContrastScalesAboutTheChannelMeanAndClips) {
  // Channel means over the 2x2 image: R (10+20+30+40)/4 = 25, G (0+100+200+255)/4 = 138.75,
  // B all 50.
  FloatImage image = pixels_of(2, 2, {{10, 0, 50}, {20, 100, 50}, {30, 200, 50}, {40, 255, 50}});
  FloatImage twice = image;
  adjust_contrast(image, 1.2f, {0, 0, 2, 2});
  // R: 25 + 1.2 (v - 25): 7, 19, 31, 43. B stays at its mean.
  // G: 138.75 + 1.2 (v - 138.75): -27.75 -> 0, 92.25, 212.25, 283.75 -> 255.
  expect_pixel(image, 0, 7, 0, 50);
  expect_pixel(image, 1, 19, 92.25, 50);
  expect_pixel(image, 2, 31, 212.25, 50);
  expect_pixel(image, 3, 43, 255, 50);
  // The mean over a window (the image the API's step sees): here the right column, whose means
  // are R 30, G 177.5, B 50; every pixel moves about them.
  adjust_contrast(twice, 0.5f, {1, 0, 1, 2});
  expect_pixel(twice, 0, 20, 88.75, 50);   // 30 + (10 - 30) / 2, 177.5 + (0 - 177.5) / 2
  expect_pixel(twice, 1, 25, 138.75, 50);
  expect_pixel(twice, 2, 30, 188.75, 50);
  expect_pixel(twice, 3, 35, 216.25, 50);
}

TEST(ColourOps, SaturationByHandAndAgainstHsv) {
  FloatImage red = one_pixel(255, 0, 0);
  adjust_saturation(red, 0.5f);  // s 1 -> 0.5, v 1: (1, 0.5, 0.5)
  expect_pixel(red, 0, 255, 127.5, 127.5);
  FloatImage pink = one_pixel(200, 100, 100);
  adjust_saturation(pink, 2.0f);  // s 0.5 -> 1: (200, 0, 0)
  expect_pixel(pink, 0, 200, 0, 0);
  FloatImage clamped = one_pixel(200, 100, 100);
  adjust_saturation(clamped, 3.0f);  // s 1.5 clamps to 1
  expect_pixel(clamped, 0, 200, 0, 0);
  FloatImage gray = one_pixel(90, 60, 30);
  adjust_saturation(gray, 0.0f);  // no saturation: v everywhere
  expect_pixel(gray, 0, 90, 90, 90);

  for (float factor : {0.0f, 0.5f, 0.8f, 1.0f, 1.25f, 1.5f, 4.0f}) {
    const auto colours = colour_sweep();
    FloatImage image(1, static_cast<int>(colours.size()), 3);
    for (size_t i = 0; i < colours.size(); ++i)
      for (int c = 0; c < 3; ++c) image.pixels[i * 3 + c] = static_cast<float>(colours[i][c]);
    adjust_saturation(image, factor);
    for (size_t i = 0; i < colours.size(); ++i) {
      const auto want = ref_saturation(colours[i], factor);
      expect_pixel(image, static_cast<int>(i), want[0], want[1], want[2],
                   str("factor ", factor, " rgb ", colours[i][0], ",", colours[i][1], ",", colours[i][2]));
    }
  }
}

TEST(ColourOps, HueByHandAndAgainstHsv) {
  FloatImage a = one_pixel(255, 0, 0);
  adjust_hue(a, 1.0f / 3);  // red + 120 degrees: green
  expect_pixel(a, 0, 0, 255, 0);
  FloatImage b = one_pixel(255, 0, 0);
  adjust_hue(b, 1.0f / 6);  // + 60: yellow
  expect_pixel(b, 0, 255, 255, 0);
  FloatImage c = one_pixel(255, 0, 0);
  adjust_hue(c, -1.0f / 6);  // - 60 wraps to 300: magenta
  expect_pixel(c, 0, 255, 0, 255);
  FloatImage d = one_pixel(200, 100, 50);  // hue 20 degrees; + 90 -> 110: max 200, min 50
  adjust_hue(d, 0.25f);                    // (110 - 60) / 60 = 5/6 of the way down: r = 50 + 150/6
  expect_pixel(d, 0, 75, 200, 50);
  FloatImage gray = one_pixel(77, 77, 77);
  adjust_hue(gray, 0.4f);
  expect_pixel(gray, 0, 77, 77, 77);

  for (float delta : {-1.0f, -0.5f, -0.2f, -0.02f, 0.0f, 0.02f, 0.1f, 0.2f, 0.45f, 0.9f}) {
    const auto colours = colour_sweep();
    FloatImage image(1, static_cast<int>(colours.size()), 3);
    for (size_t i = 0; i < colours.size(); ++i)
      for (int k = 0; k < 3; ++k) image.pixels[i * 3 + k] = static_cast<float>(colours[i][k]);
    adjust_hue(image, delta);
    for (size_t i = 0; i < colours.size(); ++i) {
      const auto want = ref_hue(colours[i], delta);
      expect_pixel(image, static_cast<int>(i), want[0], want[1], want[2],
                   str("delta ", delta, " rgb ", colours[i][0], ",", colours[i][1], ",", colours[i][2]));
    }
  }
}

TEST(ColourOps, GrayUsesTheLumaWeightsOnEveryChannel) {
  FloatImage image = pixels_of(1, 5, {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}, {255, 255, 255}});
  rgb_to_gray(image);
  expect_pixel(image, 0, 76.2195, 76.2195, 76.2195);  // 0.2989 * 255
  expect_pixel(image, 1, 149.685, 149.685, 149.685);  // 0.5870 * 255
  expect_pixel(image, 2, 29.07, 29.07, 29.07);        // 0.1140 * 255
  expect_pixel(image, 3, 18.149, 18.149, 18.149);     // 2.989 + 11.74 + 3.42
  expect_pixel(image, 4, 254.9745, 254.9745, 254.9745);
}

TEST(ColourOps, FloatResampleEqualsTheUint8ResampleBitForBit) {
  const Image src = testing::gradient(37, 53, 3, 11);
  const FloatImage f = to_float(src, {0, 0, 53, 37});
  const float mean[3] = {123.68f, 116.779f, 103.939f}, inv[3] = {1.0f, 0.5f, 0.25f};
  const Normalization norms[2] = {{}, {mean, inv}};
  const CropBox boxes[] = {{0, 0, 53, 37}, {5, 3, 20, 30}, {10, 7, 43, 11}};
  for (SamplingGrid grid : {SamplingGrid::kTf1Legacy, SamplingGrid::kHalfPixel})
    for (const CropBox& box : boxes)
      for (bool flip : {false, true})
        for (const Normalization& norm : norms)
          for (auto [oh, ow] : {std::pair{16, 24}, std::pair{50, 70}}) {
            std::vector<float> a(oh * ow * 3), b(a.size());
            resample(src, box, oh, ow, flip, norm, DType::F32, a.data(), grid);
            resample(f, box, oh, ow, flip, norm, DType::F32, b.data(), grid);
            ASSERT_EQ(a, b) << "box " << box.x << "," << box.y << " flip " << flip;
            std::vector<uint8_t> ua(a.size()), ub(a.size());
            resample(src, box, oh, ow, flip, norm, DType::U8, ua.data(), grid);
            resample(f, box, oh, ow, flip, norm, DType::U8, ub.data(), grid);
            ASSERT_EQ(ua, ub);
          }
}

// ---- the colour steps in DetectionTransform ----

Sample gradient_sample(int height, int width, int seed = 0) {
  Sample s;
  s.name = "gradient";
  s.image = testing::gradient(height, width, 3, seed);
  s.annotations.boxes = {{0.1f, 0.2f, 0.6f, 0.7f, 3, false, -1}, {0.5f, 0.05f, 0.95f, 0.4f, 9, false, -1}};
  return s;
}

// No normalisation, so outputs are 0..255 pixels.
DetectionTransformOptions raw_options(int height, int width, std::vector<DetectionAugmentation> steps) {
  DetectionTransformOptions o;
  o.height = height;
  o.width = width;
  o.mean.clear();
  o.stddev.clear();
  o.augmentations = std::move(steps);
  return o;
}

TEST(DetectionColour, DrawsFollowTheRngInStepOrderAndStayInTheirRanges) {
  const DetectionTransform t(raw_options(8, 8,
                                         {RandomAdjustBrightnessOptions{0.3f}, RandomAdjustContrastOptions{0.6f, 1.4f},
                                          RandomAdjustHueOptions{0.1f}, RandomAdjustSaturationOptions{0.7f, 1.3f},
                                          RandomRGBtoGrayOptions{0.25f}, RandomDistortColorOptions{0},
                                          RandomDistortColorOptions{1}}));
  const float b32 = static_cast<float>(32.0 / 255.0);
  float lo[4] = {1, 9, 1, 9}, hi[4] = {-1, -9, -1, -9};  // brightness, contrast, hue, saturation
  int grays = 0;
  const int n = 2000;
  for (int s = 0; s < n; ++s) {
    Philox rng(5, s), replay(5, s);
    const DetectionGeometry g = t.plan({40, 60}, {}, rng);
    // What the steps must draw, in order, each one uniform: minval + (maxval - minval) * u.
    std::vector<ColourStep> want;
    const PixelWindow all{0, 0, 60, 40};
    want.push_back({ColourOp::kBrightness, -0.3f + 0.6f * replay.uniform(), all});
    want.push_back({ColourOp::kContrast, 0.6f + 0.8f * replay.uniform(), all});
    want.push_back({ColourOp::kHue, -0.1f + 0.2f * replay.uniform(), all});
    want.push_back({ColourOp::kSaturation, 0.7f + (1.3f - 0.7f) * replay.uniform(), all});
    if (!(replay.uniform() > 0.25f)) want.push_back({ColourOp::kGray, 0.0f, all}), ++grays;
    want.push_back({ColourOp::kBrightness, -b32 + (b32 + b32) * replay.uniform(), all});  // ordering 0
    want.push_back({ColourOp::kSaturation, 0.5f + 1.0f * replay.uniform(), all});
    want.push_back({ColourOp::kHue, -0.2f + 0.4f * replay.uniform(), all});
    want.push_back({ColourOp::kContrast, 0.5f + 1.0f * replay.uniform(), all});
    want.push_back({ColourOp::kBrightness, -b32 + (b32 + b32) * replay.uniform(), all});  // ordering 1
    want.push_back({ColourOp::kContrast, 0.5f + 1.0f * replay.uniform(), all});
    want.push_back({ColourOp::kSaturation, 0.5f + 1.0f * replay.uniform(), all});
    want.push_back({ColourOp::kHue, -0.2f + 0.4f * replay.uniform(), all});
    ASSERT_EQ(g.colour.size(), want.size()) << s;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(g.colour[i].op, want[i].op) << s << " step " << i;
      EXPECT_NEAR(g.colour[i].value, want[i].value, 1e-6) << s << " step " << i;
      EXPECT_EQ(g.colour[i].window, all);
    }
    for (int k = 0; k < 4; ++k) {
      lo[k] = std::min(lo[k], g.colour[k].value);
      hi[k] = std::max(hi[k], g.colour[k].value);
    }
    // random_distort_color's ranges
    const size_t d = g.colour.size() - 8;
    EXPECT_LE(std::abs(g.colour[d].value), b32);
    EXPECT_GE(g.colour[d + 1].value, 0.5f);
    EXPECT_LT(g.colour[d + 1].value, 1.5f);
    EXPECT_LE(std::abs(g.colour[d + 2].value), 0.2f);
  }
  // Inside [min, max) and reaching close to both ends.
  const float ranges[4][2] = {{-0.3f, 0.3f}, {0.6f, 1.4f}, {-0.1f, 0.1f}, {0.7f, 1.3f}};
  for (int k = 0; k < 4; ++k) {
    EXPECT_GE(lo[k], ranges[k][0]) << k;
    EXPECT_LT(hi[k], ranges[k][1]) << k;
    const float span = ranges[k][1] - ranges[k][0];
    EXPECT_LT(lo[k], ranges[k][0] + 0.01f * span) << k;
    EXPECT_GT(hi[k], ranges[k][1] - 0.01f * span) << k;
  }
  EXPECT_GT(grays, n / 4 - 80);  // binomial(2000, 0.25): 500 +- 19
  EXPECT_LT(grays, n / 4 + 80);
}

TEST(DetectionColour, BoxesAndGeometryAreUntouched) {
  const Sample sample = gradient_sample(48, 64);
  RandomCropImageOptions crop;
  crop.min_object_covered = 0.0f;
  crop.min_area = 0.3f;
  crop.overlap_thresh = 0.0f;
  const std::vector<DetectionAugmentation> geometry = {RandomHorizontalFlipOptions{}, crop};
  std::vector<DetectionAugmentation> with_colour = geometry;
  for (DetectionAugmentation a : std::vector<DetectionAugmentation>{
           RandomAdjustBrightnessOptions{}, RandomAdjustContrastOptions{}, RandomAdjustHueOptions{},
           RandomAdjustSaturationOptions{}, RandomRGBtoGrayOptions{0.5f}, RandomDistortColorOptions{1}})
    with_colour.push_back(a);
  const DetectionTransform plain(raw_options(30, 40, geometry)), coloured(raw_options(30, 40, with_colour));
  const DetectionTransform colour_only(
      raw_options(30, 40, std::vector<DetectionAugmentation>(with_colour.begin() + 2, with_colour.end())));
  std::vector<float> out(30 * 40 * 3);
  for (int s = 0; s < 50; ++s) {
    Philox a(3, s), b(3, s), c(3, s);
    ImageAnnotations ann_plain, ann_coloured, ann_colour_only;
    plain.apply(sample, a, DType::F32, out.data(), &ann_plain);
    coloured.apply(sample, b, DType::F32, out.data(), &ann_coloured);
    EXPECT_EQ(ann_coloured.boxes, ann_plain.boxes) << s;  // the geometric draws come first, unchanged
    Philox p1(3, s), p2(3, s);
    const DetectionGeometry g1 = plain.plan({48, 64}, sample.annotations.boxes, p1);
    const DetectionGeometry g2 = coloured.plan({48, 64}, sample.annotations.boxes, p2);
    EXPECT_EQ(g2.window, g1.window);
    EXPECT_EQ(g2.mirrored, g1.mirrored);
    colour_only.apply(sample, c, DType::F32, out.data(), &ann_colour_only);
    EXPECT_EQ(ann_colour_only.boxes, sample.annotations.boxes) << s;
  }
}

TEST(DetectionColour, SameRngGivesTheSamePixels) {
  const Sample sample = gradient_sample(48, 64, 5);
  const DetectionTransform t(raw_options(24, 32, {RandomDistortColorOptions{0}, RandomRGBtoGrayOptions{0.3f}}));
  std::vector<float> a(24 * 32 * 3), b(a.size()), c(a.size());
  Philox r1(17, 4), r2(17, 4), r3(17, 5);
  t.apply(sample, r1, DType::F32, a.data());
  t.apply(sample, r2, DType::F32, b.data());
  t.apply(sample, r3, DType::F32, c.data());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(DetectionColour, EvaluationRunsNoColourStep) {
  const Sample sample = gradient_sample(20, 30);
  DetectionTransformOptions with = raw_options(20, 30, {RandomAdjustBrightnessOptions{0.5f}});
  with.train = false;
  DetectionTransformOptions without = raw_options(20, 30, {});
  without.train = false;
  std::vector<float> a(20 * 30 * 3), b(a.size());
  Philox r1(1, 1), r2(1, 1);
  DetectionTransform(with).apply(sample, r1, DType::F32, a.data());
  DetectionTransform(without).apply(sample, r2, DType::F32, b.data());
  EXPECT_EQ(a, b);
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], sample.image.pixels[i]);  // same size: the identity
}

TEST(DetectionColour, BrightnessClipsAtBothEndsThroughTheTransform) {
  // Output size = source size, no crop: TensorFlow 1's grid samples pixel o at o exactly, so
  // output pixels are the augmented source pixels.
  const Sample sample = gradient_sample(16, 20);
  const DetectionTransform t(raw_options(16, 20, {RandomAdjustBrightnessOptions{0.9f}}));
  std::vector<float> out(16 * 20 * 3);
  int clipped_low = 0, clipped_high = 0;
  for (int s = 0; s < 40; ++s) {
    Philox rng(8, s), replay(8, s);
    t.apply(sample, rng, DType::F32, out.data());
    const float delta = -0.9f + 1.8f * replay.uniform();
    for (size_t i = 0; i < out.size(); ++i) {
      const double want = clip(sample.image.pixels[i] + 255.0 * delta);
      ASSERT_NEAR(out[i], want, kTol) << "seed " << s << " value " << i;
      clipped_low += out[i] == 0.0f && sample.image.pixels[i] > 0;
      clipped_high += out[i] == 255.0f && sample.image.pixels[i] < 255;
    }
  }
  EXPECT_GT(clipped_low, 0);
  EXPECT_GT(clipped_high, 0);
}

// ---- the whole transform against "augment the decoded image, then resize" ----

// An image as doubles, HWC RGB on 0..255.
struct Ref {
  int h, w;
  std::vector<double> v;
  double* at(int y, int x) { return &v[(static_cast<size_t>(y) * w + x) * 3]; }
};

void ref_contrast(Ref& img, double factor) {  // mean over the whole (current) image
  for (int c = 0; c < 3; ++c) {
    double sum = 0;
    for (int i = 0; i < img.h * img.w; ++i) sum += img.v[i * 3 + c] / 255;
    const double mean = sum / (img.h * img.w);
    for (int i = 0; i < img.h * img.w; ++i) img.v[i * 3 + c] = clip((mean + factor * (img.v[i * 3 + c] / 255 - mean)) * 255);
  }
}

template <class F>
void ref_pointwise(Ref& img, F f) {
  for (int i = 0; i < img.h * img.w; ++i) {
    const auto out = f(std::array<double, 3>{img.v[i * 3], img.v[i * 3 + 1], img.v[i * 3 + 2]});
    for (int c = 0; c < 3; ++c) img.v[i * 3 + c] = out[c];
  }
}

Ref ref_cut(Ref& img, const PixelWindow& w) {
  Ref out{w.height, w.width, std::vector<double>(static_cast<size_t>(w.width) * w.height * 3)};
  for (int y = 0; y < w.height; ++y)
    for (int x = 0; x < w.width; ++x)
      for (int c = 0; c < 3; ++c) out.at(y, x)[c] = img.at(w.y + y, w.x + x)[c];
  return out;
}

void ref_mirror(Ref& img) {
  for (int y = 0; y < img.h; ++y)
    for (int x = 0; x < img.w / 2; ++x)
      for (int c = 0; c < 3; ++c) std::swap(img.at(y, x)[c], img.at(y, img.w - 1 - x)[c]);
}

// tf.image.resize_images (bilinear, align_corners=False, TensorFlow 1): output o samples input
// o * (in / out), the scale and position in float; taps floor and floor + 1 clamped to the image.
std::vector<double> ref_resize(Ref& img, int oh, int ow) {
  std::vector<double> out(static_cast<size_t>(oh) * ow * 3);
  const float sy = static_cast<float>(img.h) / oh, sx = static_cast<float>(img.w) / ow;
  for (int oy = 0; oy < oh; ++oy) {
    const float iy = oy * sy;
    const int y0 = static_cast<int>(std::floor(iy)), y1 = std::min(y0 + 1, img.h - 1);
    const double fy = iy - std::floor(iy);
    for (int ox = 0; ox < ow; ++ox) {
      const float ix = ox * sx;
      const int x0 = static_cast<int>(std::floor(ix)), x1 = std::min(x0 + 1, img.w - 1);
      const double fx = ix - std::floor(ix);
      for (int c = 0; c < 3; ++c) {
        const double top = img.at(y0, x0)[c] + fx * (img.at(y0, x1)[c] - img.at(y0, x0)[c]);
        const double bottom = img.at(y1, x0)[c] + fx * (img.at(y1, x1)[c] - img.at(y1, x0)[c]);
        out[(static_cast<size_t>(oy) * ow + ox) * 3 + c] = top + fy * (bottom - top);
      }
    }
  }
  return out;
}

TEST(DetectionColour, OutputEqualsAugmentingTheDecodedImageThenResizing) {
  // brightness, contrast (whole image), crop, flip, saturation, contrast (the crop), hue, gray:
  // the first contrast's mean is the whole image's, the second's the crop's, and the pointwise
  // steps before and after the crop must all land on the same pixels.
  const int H = 48, W = 64;
  const Sample sample = gradient_sample(H, W, 9);
  RandomCropImageOptions crop;
  crop.min_object_covered = 0.0f;
  crop.min_area = 0.2f;
  crop.max_area = 0.7f;
  crop.overlap_thresh = 0.0f;
  const std::vector<DetectionAugmentation> steps = {
      RandomAdjustBrightnessOptions{0.2f}, RandomAdjustContrastOptions{0.5f, 1.5f}, crop,
      RandomHorizontalFlipOptions{1.0f},   RandomAdjustSaturationOptions{0.3f, 1.8f},
      RandomAdjustContrastOptions{0.5f, 1.5f}, RandomAdjustHueOptions{0.3f}, RandomRGBtoGrayOptions{0.3f}};
  int grays = 0, checked = 0;
  for (auto [oh, ow] : {std::pair{30, 40}, std::pair{57, 71}}) {
    const DetectionTransform t(raw_options(oh, ow, steps));
    std::vector<float> out(static_cast<size_t>(oh) * ow * 3);
    for (int s = 0; s < 30; ++s) {
      Philox rng(21, s), replay(21, s);
      t.apply(sample, rng, DType::F32, out.data());
      const DetectionGeometry g = t.plan({H, W}, sample.annotations.boxes, replay);
      ASSERT_GE(g.colour.size(), 5u);
      ASSERT_TRUE(g.mirrored);
      ASSERT_LT(g.window.width * g.window.height, H * W);  // the crop cut something

      Ref img{H, W, std::vector<double>(sample.image.pixels.begin(), sample.image.pixels.end())};
      const double brightness = g.colour[0].value;
      ref_pointwise(img, [&](std::array<double, 3> p) {
        for (double& v : p) v = clip((v / 255 + brightness) * 255);
        return p;
      });
      ref_contrast(img, g.colour[1].value);
      Ref cut = ref_cut(img, g.window);
      ref_mirror(cut);
      ref_pointwise(cut, [&](std::array<double, 3> p) { return ref_saturation(p, g.colour[2].value); });
      ref_contrast(cut, g.colour[3].value);
      ref_pointwise(cut, [&](std::array<double, 3> p) { return ref_hue(p, g.colour[4].value); });
      if (g.colour.size() == 6) {
        ++grays;
        ref_pointwise(cut, [](std::array<double, 3> p) {
          const double v = ref_gray(p);
          return std::array<double, 3>{v, v, v};
        });
      }
      const std::vector<double> want = ref_resize(cut, oh, ow);
      for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(out[i], want[i], 5e-3) << "seed " << s << " value " << i;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 60);
  EXPECT_GT(grays, 0);
  EXPECT_LT(grays, 60);
}

TEST(DetectionColour, BadOptionsAreNamed) {
  auto error_with = [](DetectionAugmentation a) {
    return testing::error_of([&] { DetectionTransform t(raw_options(8, 8, {RandomHorizontalFlipOptions{}, a})); });
  };
  EXPECT_NE(error_with(RandomAdjustBrightnessOptions{-0.1f}).find("augmentation 1 (random_adjust_brightness): max_delta"),
            std::string::npos);
  EXPECT_NE(error_with(RandomAdjustContrastOptions{1.2f, 0.8f}).find("(random_adjust_contrast): range"),
            std::string::npos);
  EXPECT_NE(error_with(RandomAdjustSaturationOptions{-0.5f, 1.0f}).find("(random_adjust_saturation): range"),
            std::string::npos);
  EXPECT_NE(error_with(RandomAdjustHueOptions{1.5f}).find("(random_adjust_hue): max_delta"), std::string::npos);
  EXPECT_NE(error_with(RandomRGBtoGrayOptions{1.5f}).find("(random_rgb_to_gray): probability"), std::string::npos);
  EXPECT_NE(error_with(RandomDistortColorOptions{2}).find("(random_distort_color): color_ordering must be in {0, 1}"),
            std::string::npos);
  EXPECT_EQ(error_with(RandomAdjustContrastOptions{}), "");
}

}  // namespace
}  // namespace trainer::data
