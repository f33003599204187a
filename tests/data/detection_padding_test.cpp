// The TF OD API's padding geometry: resample_placed against TensorFlow's resize, crop, pad and
// flip run step by step; preprocessor.resize_to_range's size rule and
// random_scale_crop_and_pad_to_square's on hand-computed sizes; both through DetectionTransform,
// boxes and pixels, against TensorFlow's steps.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "test_util.h"
#include "trainer/data/colour_ops.h"
#include "trainer/data/detection_transform.h"
#include "trainer/data/resample.h"

namespace trainer::data {
namespace {

BoxAnnotation box(float ymin, float xmin, float ymax, float xmax, int32_t label = 1) {
  return {ymin, xmin, ymax, xmax, label, false, -1};
}

// TensorFlow's steps one at a time, for the placed resample: ResizeBilinear (align_corners and
// half_pixel_centers false) of a cut-out to scaled_h x scaled_w, written as its kernel reads
// (input pixel in = r * (in_size / out_size) in float, lower floor(in), upper min(ceil(in),
// in_size - 1), rows interpolated first); then the crop [offset, offset + out) and zero
// padding to out (pad_to_bounding_box at 0, 0), then a flip of the padded image.
struct TfSteps {
  int height = 0, width = 0, channels = 0;
  std::vector<float> v;
  float at(int y, int x, int c) const { return v[(static_cast<size_t>(y) * width + x) * channels + c]; }
};

template <class Source>
TfSteps tf_cut(const Source& src, int y0, int x0, int h, int w, bool mirror) {
  TfSteps t{h, w, src.channels, {}};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < src.channels; ++c)
        t.v.push_back(src.row(y0 + y)[(x0 + (mirror ? w - 1 - x : x)) * src.channels + c]);
  return t;
}

TfSteps tf_resize_bilinear(const TfSteps& in, int out_h, int out_w) {
  TfSteps t{out_h, out_w, in.channels, {}};
  const float sy = static_cast<float>(in.height) / static_cast<float>(out_h);
  const float sx = static_cast<float>(in.width) / static_cast<float>(out_w);
  for (int y = 0; y < out_h; ++y) {
    const float fy_in = static_cast<float>(y) * sy;
    const int y_lo = static_cast<int>(std::floor(fy_in)), y_hi = std::min(static_cast<int>(std::ceil(fy_in)), in.height - 1);
    const float y_lerp = fy_in - std::floor(fy_in);
    for (int x = 0; x < out_w; ++x) {
      const float fx_in = static_cast<float>(x) * sx;
      const int x_lo = static_cast<int>(std::floor(fx_in)), x_hi = std::min(static_cast<int>(std::ceil(fx_in)), in.width - 1);
      const float x_lerp = fx_in - std::floor(fx_in);
      for (int c = 0; c < in.channels; ++c) {
        const float top = in.at(y_lo, x_lo, c) + x_lerp * (in.at(y_lo, x_hi, c) - in.at(y_lo, x_lo, c));
        const float bottom = in.at(y_hi, x_lo, c) + x_lerp * (in.at(y_hi, x_hi, c) - in.at(y_hi, x_lo, c));
        t.v.push_back(top + y_lerp * (bottom - top));
      }
    }
  }
  return t;
}

TfSteps tf_crop_pad_flip(const TfSteps& in, int offset_y, int offset_x, int out_h, int out_w, bool flip) {
  TfSteps t{out_h, out_w, in.channels, {}};
  for (int y = 0; y < out_h; ++y)
    for (int x = 0; x < out_w; ++x) {
      const int sy = y + offset_y, sx = (flip ? out_w - 1 - x : x) + offset_x;
      for (int c = 0; c < in.channels; ++c)
        t.v.push_back(sy < in.height && sx < in.width ? in.at(sy, sx, c) : 0.0f);
    }
  return t;
}

Image random_image(int h, int w, int channels, uint64_t seed) {
  Image im(h, w, channels);
  Philox rng(seed, 0);
  for (uint8_t& p : im.pixels) p = static_cast<uint8_t>(rng.below(256));
  return im;
}

TEST(ResamplePlaced, HandComputedPaddingCropAndMirrors) {
  Image row(1, 3, 1);
  row.pixels = {0, 100, 40};
  auto placed = [&](AxisPlacement x, int out) {
    std::vector<float> v(static_cast<size_t>(out));
    resample_placed(row, {0, 1, false, 1, 0, false}, x, 1, out, Normalization{}, DType::F32, v.data());
    return v;
  };
  // 3 -> 6 at r * 0.5 = 0, 0.5, 1, 1.5, 2, 2.5 (clamped), padded to 8 with zeros.
  EXPECT_EQ(placed({0, 3, false, 6, 0, false}, 8), (std::vector<float>{0, 50, 100, 70, 40, 40, 0, 0}));
  // Mirrored cut-out [40, 100, 0], and the padded output mirrored afterwards.
  EXPECT_EQ(placed({0, 3, true, 6, 0, false}, 8), (std::vector<float>{40, 70, 100, 50, 0, 0, 0, 0}));
  EXPECT_EQ(placed({0, 3, false, 6, 0, true}, 8), (std::vector<float>{0, 0, 40, 40, 70, 100, 50, 0}));
  // Resized to 6, cropped from 3: pixels 3, 4, 5 of the resized row, no padding.
  EXPECT_EQ(placed({0, 3, false, 6, 3, false}, 3), (std::vector<float>{70, 40, 40}));
  // The cut-out [1, 3) = [100, 40] to 4: 100, 70, 40, 40; from offset 1 into 5: 70, 40, 40, pad, pad.
  EXPECT_EQ(placed({1, 2, false, 4, 1, false}, 5), (std::vector<float>{70, 40, 40, 0, 0}));
  // Padding is a zero pixel, normalised like every other one.
  const float mean = 10, inv_std = 0.5f;
  std::vector<float> v(4);
  resample_placed(row, {0, 1, false, 1, 0, false}, {0, 3, false, 3, 0, false}, 1, 4, {&mean, &inv_std},
                  DType::F32, v.data());
  EXPECT_EQ(v, (std::vector<float>{-5, 45, 15, -5}));
  std::vector<uint8_t> u8(4);
  resample_placed(row, {0, 1, false, 1, 0, false}, {0, 3, false, 3, 0, false}, 1, 4, {&mean, &inv_std},
                  DType::U8, u8.data());
  EXPECT_EQ(u8, (std::vector<uint8_t>{0, 100, 40, 0}));  // U8 is never normalised
  EXPECT_THROW(placed({2, 3, false, 6, 0, false}, 8), Error);  // the cut-out leaves the image
}

TEST(ResamplePlaced, EqualsTensorFlowsResizeCropPadAndFlipStepByStep) {
  const Image src = random_image(23, 31, 3, 7);
  struct Case {
    AxisPlacement y, x;
    int out_h, out_w;
  };
  const Case cases[] = {
      {{2, 17, false, 9, 0, false}, {3, 25, false, 12, 0, false}, 16, 16},    // down, padded
      {{0, 23, false, 40, 11, false}, {0, 31, true, 52, 20, false}, 16, 16},  // up, cropped, mirrored first
      {{5, 6, false, 30, 0, false}, {1, 9, true, 13, 0, true}, 20, 20},      // up, padded, mirrored both ways
      {{0, 23, false, 16, 0, false}, {0, 31, false, 16, 0, false}, 16, 16},  // a plain resize
  };
  for (const Case& k : cases) {
    std::vector<float> got(static_cast<size_t>(k.out_h) * k.out_w * 3);
    resample_placed(src, k.y, k.x, k.out_h, k.out_w, Normalization{}, DType::F32, got.data());
    const TfSteps cut = tf_cut(src, k.y.first, k.x.first, k.y.size, k.x.size, k.x.mirror);
    const TfSteps want = tf_crop_pad_flip(tf_resize_bilinear(cut, k.y.scaled, k.x.scaled), k.y.offset, k.x.offset,
                                          k.out_h, k.out_w, k.x.mirror_output);
    ASSERT_EQ(got.size(), want.v.size());
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(got[i], want.v[i]) << "value " << i << " of case x.scaled " << k.x.scaled;
    // The float-image version gives the same bits.
    std::vector<float> from_float(got.size());
    resample_placed(to_float(src, {0, 0, src.width, src.height}), k.y, k.x, k.out_h, k.out_w, Normalization{},
                    DType::F32, from_float.data());
    EXPECT_EQ(from_float, got);
  }
  // scaled = out, offset 0: exactly resample() on TensorFlow 1's grid.
  std::vector<float> placed(12 * 10 * 3), plain(placed.size());
  resample_placed(src, {3, 15, false, 12, 0, false}, {4, 20, true, 10, 0, false}, 12, 10, Normalization{},
                  DType::F32, placed.data());
  resample(src, {4, 3, 20, 15}, 12, 10, true, Normalization{}, DType::F32, plain.data(), SamplingGrid::kTf1Legacy);
  EXPECT_EQ(placed, plain);
}

TEST(ResamplePlaced, EfficientNetNormalisationDividesIn255ths) {
  Image px(1, 1, 3);
  px.pixels = {255, 128, 0};
  const float mean[3] = {0.485f, 0.456f, 0.406f}, stddev[3] = {0.229f, 0.224f, 0.225f};
  Normalization norm;
  norm.mean = mean;
  norm.divisor = 255.0f;
  norm.stddev = stddev;
  std::vector<float> v(2 * 3);
  resample_placed(px, {0, 1, false, 1, 0, false}, {0, 1, false, 1, 0, false}, 1, 2, norm, DType::F32, v.data());
  // ((x / 255) - mean) / std in float, TensorFlow's order; the padding pixel is (0 - mean) / std.
  EXPECT_EQ(v[0], (255.0f / 255.0f - 0.485f) / 0.229f);
  EXPECT_EQ(v[1], (128.0f / 255.0f - 0.456f) / 0.224f);
  EXPECT_EQ(v[2], (0.0f / 255.0f - 0.406f) / 0.225f);
  EXPECT_EQ(v[3], -0.485f / 0.229f);
  EXPECT_NEAR(v[0], 2.2489083f, 1e-6);  // (1 - 0.485) / 0.229
  EXPECT_NEAR(v[4], -2.0357143f, 1e-6);  // -0.456 / 0.224
}


// ---- the size rules, by hand from TensorFlow's formulas (float32) ----

TEST(ResizeToRange, HandComputedSizes) {
  struct Case {
    ImageSize image;
    int min_dimension, max_dimension;
    ImageSize want;
    const char* why;
  };
  const Case cases[] = {
      {{480, 640}, 512, 512, {384, 512}, "landscape: scale min(512/480, 512/640) = 0.8; 0.8 * 480 = 384"},
      {{640, 480}, 512, 512, {512, 384}, "portrait: target [max, min]"},
      {{600, 1024}, 512, 1024, {512, 874}, "min_dimension binds: 512/600 = 0.85333335, * 1024 = 873.81 -> 874"},
      {{1024, 600}, 512, 1024, {874, 512}, "the same, portrait"},
      {{300, 400}, 512, 1024, {512, 683}, "upscaled: 512/300 = 1.7066667, * 400 = 682.67 -> 683"},
      {{400, 1200}, 512, 1024, {341, 1024}, "max_dimension binds: 1024/1200, * 400 = 341.33 -> 341"},
      {{5, 1024}, 512, 512, {2, 512}, "scale 0.5: 2.5 rounds half to even, to 2"},
      {{7, 1024}, 512, 512, {4, 512}, "3.5 rounds to 4"},
      {{1000, 1000}, 512, 512, {512, 512}, "square: portrait branch, 0.512"},
      {{100, 100}, 512, 512, {512, 512}, "square, upscaled"},
      {{1, 4000}, 512, 512, {1, 512}, "0.128 would round to 0 (TensorFlow fails): 1"},
  };
  for (const Case& c : cases) {
    const ImageSize got = resize_to_range_size(c.image, c.min_dimension, c.max_dimension);
    EXPECT_EQ(got.height, c.want.height) << c.why;
    EXPECT_EQ(got.width, c.want.width) << c.why;
  }
}

TEST(ScaleCropPad, HandComputedGeometry) {
  struct Case {
    ImageSize image;
    int output_size;
    float scale, u_y, u_x;
    ScaleCropPad want;
    const char* why;
  };
  const Case cases[] = {
      {{400, 400}, 512, 0.5f, 0.3f, 0.7f, {256, 256, 0, 0}, "0.5 * 512; smaller than the output: no offset"},
      {{800, 400}, 512, 0.5f, 0.3f, 0.7f, {256, 128, 0, 0}, "from the longer side: the width is half of it"},
      {{400, 400}, 512, 2.0f, 0.25f, 0.5f, {1024, 1024, 128, 256}, "offsets (1024 - 512) * u"},
      {{480, 640}, 512, 1.5f, 0.5f, 0.999f, {576, 768, 32, 255}, "768 * 0.75 = 576; 256 * 0.999 = 255.74 truncated"},
      {{480, 640}, 512, 0.3f, 0.9f, 0.9f, {115, 153, 0, 0}, "0.3 * 512 = 153.6, * 0.75 = 115.2, truncated"},
      {{1, 2000}, 512, 0.1f, 0.0f, 0.0f, {1, 51, 0, 0}, "51.2 / 2000 truncates to 0 (TensorFlow fails): 1"},
  };
  for (const Case& c : cases)
    EXPECT_EQ(scale_crop_pad_geometry(c.image, c.output_size, c.scale, c.u_y, c.u_x), c.want) << c.why;
}

// ---- random_scale_crop_and_pad_to_square through the transform ----

Sample random_sample(int height, int width, std::vector<BoxAnnotation> boxes, uint64_t seed) {
  Sample s;
  s.name = "random";
  s.image = random_image(height, width, 3, seed);
  s.annotations.image_id = 5;
  s.annotations.boxes = std::move(boxes);
  return s;
}

TfSteps tf_normalise(TfSteps t, const std::vector<float>& mean, const std::vector<float>& stddev, float divisor) {
  for (size_t i = 0; i < t.v.size(); ++i) {
    const size_t c = i % 3;
    t.v[i] = (t.v[i] / divisor - mean[c]) / stddev[c];
  }
  return t;
}

DetectionTransformOptions scale_crop_pad_options(int size, float scale_min, float scale_max) {
  DetectionTransformOptions o;
  o.height = o.width = size;
  o.mean.clear();
  o.stddev.clear();
  o.augmentations = {RandomScaleCropAndPadToSquareOptions{size, scale_min, scale_max}};
  return o;
}

TEST(DetectionScaleCropPad, PadsBelowScaleOne) {
  // 40x80, output 32, scale 0.5: 16 over the longer side, so 8x16 at the top left, no offset.
  const Sample s = random_sample(40, 80, {box(0.5f, 0.25f, 1.0f, 0.75f, 3)}, 1);
  const DetectionTransform t(scale_crop_pad_options(32, 0.5f, 0.5f));
  Philox rng(4, 4), replay(4, 4);
  const DetectionGeometry g = t.plan({40, 80}, s.annotations.boxes, replay);
  EXPECT_EQ(g.placement, (OutputPlacement{8, 16, 0, 0, false}));
  EXPECT_EQ(g.window, (PixelWindow{0, 0, 80, 40}));
  // The square's window in the resized image's frame is [0, 0, 32/8, 32/16]: y / 4, x / 2.
  ASSERT_EQ(g.boxes.size(), 1u);
  EXPECT_EQ(g.boxes[0], box(0.125f, 0.125f, 0.25f, 0.375f, 3));
  EXPECT_EQ(g.true_size.height, 32);
  // Three draws, always: scale, then both offsets' uniforms.
  Philox three(4, 4);
  for (int i = 0; i < 3; ++i) three.uniform();
  EXPECT_EQ(replay.uniform(), three.uniform());

  std::vector<float> out(32 * 32 * 3);
  ImageAnnotations a;
  t.apply(s, rng, DType::F32, out.data(), &a);
  EXPECT_EQ(a.boxes, g.boxes);
  EXPECT_EQ(a.true_height_fraction, 1.0f);  // the resizer leaves the square as it is
  EXPECT_EQ(a.true_width_fraction, 1.0f);
  const TfSteps want = tf_crop_pad_flip(tf_resize_bilinear(tf_cut(s.image, 0, 0, 40, 80, false), 8, 16), 0, 0, 32, 32,
                                        false);
  EXPECT_EQ(out, want.v);
  EXPECT_EQ(out[(8 * 32 + 0) * 3], 0.0f);   // row 8 is padding
  EXPECT_EQ(out[(0 * 32 + 16) * 3], 0.0f);  // so is column 16
}

TEST(DetectionScaleCropPad, CropsAboveScaleOneAtTheDrawnOffset) {
  // 16x16, output 4, scale 2: resized to 8x8, offsets int(4 * u) in 0..3.
  const std::vector<BoxAnnotation> boxes = {
      box(0.25f, 0.25f, 0.5f, 0.5f, 1),  // partly above the square
      box(0.0f, 0.0f, 0.375f, 1.0f, 2),  // ends on its top edge
      box(0.5f, 0.5f, 1.0f, 1.0f, 3),    // right of it
      box(0.5f, 0.25f, 0.75f, 0.375f, 4)};
  const Sample s = random_sample(16, 16, boxes, 2);
  const DetectionTransform t(scale_crop_pad_options(4, 2.0f, 2.0f));
  std::set<int> offsets_y, offsets_x;
  bool checked = false;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Philox rng(11, seed), replay(11, seed);
    const DetectionGeometry g = t.plan({16, 16}, boxes, replay);
    ASSERT_EQ(g.placement.scaled_height, 8);
    // The draws in TensorFlow's order: the scale, then u_y, then u_x.
    Philox draws(11, seed);
    draws.uniform(2.0f, 2.0f);
    const float u_y = draws.uniform(), u_x = draws.uniform();
    EXPECT_EQ(g.placement.offset_y, static_cast<int>(4.0f * u_y));
    EXPECT_EQ(g.placement.offset_x, static_cast<int>(4.0f * u_x));
    offsets_y.insert(g.placement.offset_y);
    offsets_x.insert(g.placement.offset_x);
    std::vector<float> out(4 * 4 * 3);
    ImageAnnotations a;
    t.apply(s, rng, DType::F32, out.data(), &a);
    EXPECT_EQ(a.boxes, g.boxes);
    const TfSteps want = tf_crop_pad_flip(tf_resize_bilinear(tf_cut(s.image, 0, 0, 16, 16, false), 8, 8),
                                          g.placement.offset_y, g.placement.offset_x, 4, 4, false);
    EXPECT_EQ(out, want.v) << "seed " << seed;
    if (checked || g.placement.offset_y != 3 || g.placement.offset_x != 0) continue;
    // The square is [3/8, 0, 7/8, 4/8] of the resized image: y' = (y - 0.375) * 2, x' = x * 2.
    checked = true;
    ASSERT_EQ(g.boxes.size(), 2u);
    EXPECT_EQ(g.boxes[0], box(0.0f, 0.5f, 0.25f, 1.0f, 1));    // y from -0.25 clipped to 0
    EXPECT_EQ(g.boxes[1], box(0.25f, 0.5f, 0.75f, 0.75f, 4));  // labels 2 (ymax' = 0) and 3 (xmin' = 1) pruned
  }
  EXPECT_TRUE(checked);
  EXPECT_EQ(offsets_y, (std::set<int>{0, 1, 2, 3}));
  EXPECT_EQ(offsets_x, (std::set<int>{0, 1, 2, 3}));
}

TEST(DetectionScaleCropPad, FlipsAndColourAroundItMatchTensorFlowsSteps) {
  // The EfficientDet order (flip, then scale-crop-pad) with a flip after it (mirrors the padded
  // square) and brightness before it, EfficientNet's normalisation; pixels against TensorFlow's
  // steps run one by one: augment the float image, resize, crop, pad, flip, normalise.
  const int H = 37, W = 53, S = 24;
  const Sample s = random_sample(H, W, {box(0.1f, 0.2f, 0.6f, 0.7f, 1), box(0.7f, 0.05f, 0.95f, 0.3f, 2)}, 3);
  DetectionTransformOptions o = scale_crop_pad_options(S, 0.3f, 1.8f);
  o.augmentations = {RandomHorizontalFlipOptions{}, RandomAdjustBrightnessOptions{0.2f},
                     RandomScaleCropAndPadToSquareOptions{S, 0.3f, 1.8f}, RandomHorizontalFlipOptions{}};
  o.mean = {0.485f, 0.456f, 0.406f};
  o.stddev = {0.229f, 0.224f, 0.225f};
  o.pixel_divisor = 255.0f;
  const DetectionTransform t(o);
  int mirrored_before = 0, mirrored_after = 0, padded = 0, cropped = 0;
  for (uint64_t seed = 0; seed < 60; ++seed) {
    Philox rng(5, seed), replay(5, seed);
    const DetectionGeometry g = t.plan({H, W}, s.annotations.boxes, replay);
    std::vector<float> out(S * S * 3);
    ImageAnnotations a;
    t.apply(s, rng, DType::F32, out.data(), &a);
    EXPECT_EQ(a.boxes, g.boxes);
    FloatImage augmented = to_float(s.image, {0, 0, W, H});
    ASSERT_EQ(g.colour.size(), 1u);
    adjust_brightness(augmented, g.colour[0].value);  // pointwise: before or after the flip alike
    const OutputPlacement& p = g.placement;
    const TfSteps want =
        tf_normalise(tf_crop_pad_flip(tf_resize_bilinear(tf_cut(augmented, 0, 0, H, W, g.mirrored), p.scaled_height,
                                                         p.scaled_width),
                                      p.offset_y, p.offset_x, S, S, p.mirrored),
                     o.mean, o.stddev, 255.0f);
    EXPECT_EQ(out, want.v) << "seed " << seed;
    mirrored_before += g.mirrored;
    mirrored_after += p.mirrored;
    padded += p.scaled_width < S;
    cropped += p.offset_x > 0;
  }
  EXPECT_GT(mirrored_before, 10);
  EXPECT_GT(mirrored_after, 10);
  EXPECT_GT(padded, 10);
  EXPECT_GT(cropped, 10);
}

TEST(DetectionScaleCropPad, FlipAfterItMirrorsTheBoxesInThePaddedSquare) {
  const Sample s = random_sample(40, 80, {box(0.5f, 0.25f, 1.0f, 0.75f, 3)}, 1);
  DetectionTransformOptions o = scale_crop_pad_options(32, 0.5f, 0.5f);
  o.augmentations.push_back(RandomHorizontalFlipOptions{1.0f});
  const DetectionTransform t(o);
  Philox rng(1, 1);
  const DetectionGeometry g = t.plan({40, 80}, s.annotations.boxes, rng);
  EXPECT_FALSE(g.mirrored);
  EXPECT_TRUE(g.placement.mirrored);
  // [0.125, 0.125, 0.25, 0.375] mirrored in the 32-wide square: the content is now at its right.
  EXPECT_EQ(g.boxes[0], box(0.125f, 0.625f, 0.25f, 0.875f, 3));
}

// ---- keep_aspect_ratio_resizer with pad_to_max_dimension ----

TEST(KeepAspectRatioResizer, ResizesPadsAndMovesTheBoxesIntoThePaddedFrame) {
  struct Case {
    int h, w;
    ImageSize resized;
    BoxAnnotation in, want;
    float fraction_h, fraction_w;
  };
  // 30x50 to min = max = 32: scale min(32/30, 32/50) = 0.64; 19.2 -> 19, 32. Boxes into the
  // padded frame: y * (1 / (32/19)) = y * 0.59375.
  const Case cases[] = {
      {30, 50, {19, 32}, box(0.2f, 0.1f, 0.6f, 0.5f), box(0.11875f, 0.1f, 0.35625002f, 0.5f), 0.59375f, 1.0f},
      {50, 30, {32, 19}, box(0.1f, 0.2f, 0.5f, 0.6f), box(0.1f, 0.11875f, 0.5f, 0.35625002f), 1.0f, 0.59375f},
  };
  for (const Case& c : cases) {
    for (bool train : {false, true}) {  // training without augmentation resizes alike
      DetectionTransformOptions o;
      o.train = train;
      o.height = o.width = 32;
      o.keep_aspect_ratio = KeepAspectRatioResizerOptions{32, 32};
      o.mean.clear();
      o.stddev.clear();
      const DetectionTransform t(o);
      const Sample s = random_sample(c.h, c.w, {c.in}, 4);
      Philox rng(0, 0);
      std::vector<float> out(32 * 32 * 3);
      ImageAnnotations a;
      t.apply(s, rng, DType::F32, out.data(), &a);
      ASSERT_EQ(a.boxes.size(), 1u);
      EXPECT_EQ(a.boxes[0], c.want);
      EXPECT_EQ(a.true_height_fraction, c.fraction_h);
      EXPECT_EQ(a.true_width_fraction, c.fraction_w);
      EXPECT_EQ(a.original_height, c.h);
      const TfSteps want = tf_crop_pad_flip(
          tf_resize_bilinear(tf_cut(s.image, 0, 0, c.h, c.w, false), c.resized.height, c.resized.width), 0, 0, 32, 32,
          false);
      EXPECT_EQ(out, want.v);
    }
  }
}

TEST(KeepAspectRatioResizer, FixedShapeRowsHaveNoPadding) {
  DetectionTransformOptions o;
  o.height = 20;
  o.width = 30;
  const DetectionTransform t(o);
  Philox rng(0, 0);
  const DetectionGeometry g = t.plan({50, 60}, {}, rng);
  EXPECT_EQ(g.placement, (OutputPlacement{20, 30, 0, 0, false}));
  std::vector<float> out(20 * 30 * 3);
  ImageAnnotations a;
  t.apply(random_sample(50, 60, {}, 1), rng, DType::F32, out.data(), &a);
  EXPECT_EQ(a.true_height_fraction, 1.0f);
  EXPECT_EQ(a.true_width_fraction, 1.0f);
}

TEST(DetectionScaleCropPad, UnsupportedCombinationsAreNamed) {
  auto error = [](DetectionTransformOptions o) { return testing::error_of([&] { DetectionTransform t(o); }); };
  DetectionTransformOptions o = scale_crop_pad_options(32, 0.1f, 2.0f);
  o.augmentations.push_back(RandomCropImageOptions{});
  EXPECT_NE(error(o).find("augmentation 1 (random_crop_image) cannot follow random_scale_crop_and_pad_to_square "
                          "(augmentation 0)"),
            std::string::npos)
      << error(o);
  o = scale_crop_pad_options(32, 0.1f, 2.0f);
  o.augmentations.push_back(o.augmentations[0]);
  EXPECT_NE(error(o).find("augmentation 1 (random_scale_crop_and_pad_to_square) cannot follow"), std::string::npos);
  o = scale_crop_pad_options(32, 0.1f, 2.0f);
  o.height = o.width = 64;
  EXPECT_NE(error(o).find("needs fixed_shape_resizer height = width = output_size (32)"), std::string::npos)
      << error(o);
  o = scale_crop_pad_options(32, 0.1f, 2.0f);
  o.keep_aspect_ratio = KeepAspectRatioResizerOptions{16, 32};
  EXPECT_NE(error(o).find("needs keep_aspect_ratio_resizer min_dimension = max_dimension = output_size (32)"),
            std::string::npos)
      << error(o);
  o = scale_crop_pad_options(32, 2.0f, 1.0f);
  EXPECT_NE(error(o).find("needs 0 < scale_min <= scale_max, got 2 and 1"), std::string::npos) << error(o);
  o = scale_crop_pad_options(32, 0.0f, 1.0f);
  EXPECT_NE(error(o).find("needs 0 < scale_min"), std::string::npos);
  o = scale_crop_pad_options(32, 0.1f, 2.0f);
  std::get<RandomScaleCropAndPadToSquareOptions>(o.augmentations[0]).output_size = 0;
  EXPECT_NE(error(o).find("output_size must be > 0"), std::string::npos);
  o = {};
  o.keep_aspect_ratio = KeepAspectRatioResizerOptions{512, 512};
  EXPECT_NE(error(o).find("pads to max_dimension x max_dimension (512), but the output is 320x320"),
            std::string::npos)
      << error(o);
  o.height = o.width = 512;
  o.keep_aspect_ratio = KeepAspectRatioResizerOptions{600, 512};
  EXPECT_NE(error(o).find("0 < min_dimension <= max_dimension"), std::string::npos);
}

}  // namespace
}  // namespace trainer::data
