#include "trainer/data/detection_transform.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

#include "trainer/data/box_ops.h"
#include "trainer/data/decode.h"

namespace trainer::data {
namespace {

bool has_nan(const BoxAnnotation& b) {
  return std::isnan(b.ymin) || std::isnan(b.xmin) || std::isnan(b.ymax) || std::isnan(b.xmax);
}

void check_crop(const RandomCropImageOptions& c, size_t step) {
  const std::string where = str("detection transform: augmentation ", step, " (random_crop_image): ");
  TRAINER_CHECK(c.min_object_covered >= 0 && c.min_object_covered <= 1, where, "min_object_covered ",
                c.min_object_covered, " is not in [0, 1]");
  TRAINER_CHECK(c.min_aspect_ratio > 0 && c.min_aspect_ratio <= c.max_aspect_ratio, where, "aspect ratio range [",
                c.min_aspect_ratio, ", ", c.max_aspect_ratio, "] must be positive and ordered");
  TRAINER_CHECK(c.min_area > 0 && c.min_area <= c.max_area && c.max_area <= 1, where, "area range [", c.min_area, ", ",
                c.max_area, "] must be ordered and lie in (0, 1]");
  TRAINER_CHECK(c.overlap_thresh >= 0 && c.overlap_thresh <= 1, where, "overlap_thresh ", c.overlap_thresh,
                " is not in [0, 1]");
  TRAINER_CHECK(c.random_coef >= 0 && c.random_coef <= 1, where, "random_coef ", c.random_coef, " is not in [0, 1]");
  TRAINER_CHECK(c.max_attempts > 0, where, "max_attempts must be positive, got ", c.max_attempts);
}

// The colour steps' ranges, as the API's ops accept them (a range must be ordered: TensorFlow's
// uniform draw would silently swap meaning otherwise).
void check_colour(const DetectionAugmentation& a, size_t step) {
  auto where = [step](const char* name) { return str("detection transform: augmentation ", step, " (", name, "): "); };
  auto check_range = [&](const char* name, float lo, float hi) {
    TRAINER_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo >= 0 && lo <= hi, where(name), "range [min_delta ", lo,
                  ", max_delta ", hi, "] must be ordered and not negative");
  };
  if (const auto* b = std::get_if<RandomAdjustBrightnessOptions>(&a))
    TRAINER_CHECK(b->max_delta >= 0 && b->max_delta <= 1, where("random_adjust_brightness"), "max_delta ", b->max_delta,
                  " is not in [0, 1]");
  if (const auto* c = std::get_if<RandomAdjustContrastOptions>(&a))
    check_range("random_adjust_contrast", c->min_delta, c->max_delta);
  if (const auto* h = std::get_if<RandomAdjustHueOptions>(&a))
    TRAINER_CHECK(h->max_delta >= 0 && h->max_delta <= 1, where("random_adjust_hue"), "max_delta ", h->max_delta,
                  " is not in [0, 1] (tf.image.adjust_hue takes deltas in [-1, 1])");
  if (const auto* s = std::get_if<RandomAdjustSaturationOptions>(&a))
    check_range("random_adjust_saturation", s->min_delta, s->max_delta);
  if (const auto* g = std::get_if<RandomRGBtoGrayOptions>(&a))
    TRAINER_CHECK(g->probability >= 0 && g->probability <= 1, where("random_rgb_to_gray"), "probability ",
                  g->probability, " is not in [0, 1]");
  if (const auto* d = std::get_if<RandomDistortColorOptions>(&a))
    TRAINER_CHECK(d->color_ordering == 0 || d->color_ordering == 1, where("random_distort_color"),
                  "color_ordering must be in {0, 1}, got ", d->color_ordering);
}

// The colour steps on the plan: one tf.random_uniform each (minval + (maxval - minval) * u),
// recorded with the window the image covers now.
void brightness_step(float max_delta, DetectionGeometry& g, Philox& rng) {
  g.colour.push_back({ColourOp::kBrightness, rng.uniform(-max_delta, max_delta), g.window});
}
void contrast_step(float lo, float hi, DetectionGeometry& g, Philox& rng) {
  g.colour.push_back({ColourOp::kContrast, rng.uniform(lo, hi), g.window});
}
void hue_step(float max_delta, DetectionGeometry& g, Philox& rng) {
  g.colour.push_back({ColourOp::kHue, rng.uniform(-max_delta, max_delta), g.window});
}
void saturation_step(float lo, float hi, DetectionGeometry& g, Philox& rng) {
  g.colour.push_back({ColourOp::kSaturation, rng.uniform(lo, hi), g.window});
}
// random_rgb_to_gray keeps the image when the draw is greater than probability.
void gray_step(float probability, DetectionGeometry& g, Philox& rng) {
  if (!(rng.uniform() > probability)) g.colour.push_back({ColourOp::kGray, 0.0f, g.window});
}
// random_distort_color: its fixed ranges (max_delta 32/255 is a Python double made float32).
void distort_color_step(int ordering, DetectionGeometry& g, Philox& rng) {
  const float brightness = static_cast<float>(32.0 / 255.0);
  brightness_step(brightness, g, rng);
  if (ordering == 0) {
    saturation_step(0.5f, 1.5f, g, rng);
    hue_step(0.2f, g, rng);
    contrast_step(0.5f, 1.5f, g, rng);
  } else {
    contrast_step(0.5f, 1.5f, g, rng);
    saturation_step(0.5f, 1.5f, g, rng);
    hue_step(0.2f, g, rng);
  }
}

// random_horizontal_flip on the plan: the output mirrors, the boxes follow. Before a padding
// step the window is read mirrored; after random_scale_crop_and_pad_to_square the padded output
// is mirrored, padding included.
void flip_step(const RandomHorizontalFlipOptions& f, bool padded, DetectionGeometry& g, Philox& rng) {
  if (!(rng.uniform() < f.probability)) return;
  if (padded)
    g.placement.mirrored = !g.placement.mirrored;
  else
    g.mirrored = !g.mirrored;
  flip_boxes_left_right(g.boxes);
}

// random_scale_crop_and_pad_to_square on the plan, in the current (possibly mirrored) frame of
// the window: the boxes into the frame of the square [offset, offset + output_size) of the
// resized image (change_coordinate_frame), those completely outside it dropped, the rest
// clipped (clip_to_window [0, 0, 1, 1] without dropping).
void scale_crop_pad_step(const RandomScaleCropAndPadToSquareOptions& o, DetectionGeometry& g, Philox& rng) {
  const float scale = rng.uniform(o.scale_min, o.scale_max);
  const float u_y = rng.uniform(), u_x = rng.uniform();
  const ScaleCropPad s = scale_crop_pad_geometry({g.window.height, g.window.width}, o.output_size, scale, u_y, u_x);
  // tf.cast(stack([offset_y, offset_x, offset_y + size, offset_x + size]), float) / scaled size.
  const float sh = static_cast<float>(s.scaled_height), sw = static_cast<float>(s.scaled_width);
  const BoxWindow window{static_cast<float>(s.offset_y) / sh, static_cast<float>(s.offset_x) / sw,
                         static_cast<float>(s.offset_y + o.output_size) / sh,
                         static_cast<float>(s.offset_x + o.output_size) / sw};
  change_coordinate_frame(g.boxes, window);
  prune_completely_outside_window(g.boxes, BoxWindow{});
  clip_boxes_to_unit(g.boxes);
  g.placement = {s.scaled_height, s.scaled_width, s.offset_y, s.offset_x, false};
}

// random_crop_image on the plan. The window is drawn in the current (possibly mirrored) frame,
// whose pixel x is source pixel window.x + window.width - 1 - x when mirrored.
void crop_step(const RandomCropImageOptions& c, DetectionGeometry& g, Philox& rng) {
  // random_crop_image skips the draw (and always crops) below the smallest double, as there.
  if (c.random_coef >= std::numeric_limits<double>::min() && !(rng.uniform() > c.random_coef)) return;
  const DistortedBoundingBoxOptions sampler{c.min_object_covered, c.min_aspect_ratio, c.max_aspect_ratio,
                                            c.min_area, c.max_area, c.max_attempts};
  const int height = g.window.height, width = g.window.width;
  const PixelWindow crop = sample_distorted_bounding_box({height, width}, g.boxes, sampler, rng);
  // The op's normalised box: float divisions of the integer corners.
  const BoxWindow window{static_cast<float>(crop.y) / static_cast<float>(height),
                         static_cast<float>(crop.x) / static_cast<float>(width),
                         static_cast<float>(crop.y + crop.height) / static_cast<float>(height),
                         static_cast<float>(crop.x + crop.width) / static_cast<float>(width)};
  prune_completely_outside_window(g.boxes, window);
  prune_non_overlapping_boxes(g.boxes, window, c.overlap_thresh);
  change_coordinate_frame(g.boxes, window);
  if (c.clip_boxes) clip_boxes_to_unit(g.boxes);
  const int source_x = g.mirrored ? g.window.x + width - (crop.x + crop.width) : g.window.x + crop.x;
  g.window = {source_x, g.window.y + crop.y, crop.width, crop.height};
}

void check_scale_crop_pad(const RandomScaleCropAndPadToSquareOptions& c, size_t step, const DetectionTransformOptions& o) {
  const std::string where = str("detection transform: augmentation ", step, " (random_scale_crop_and_pad_to_square): ");
  TRAINER_CHECK(c.output_size > 0, where, "output_size must be > 0, got ", c.output_size);
  TRAINER_CHECK(std::isfinite(c.scale_min) && std::isfinite(c.scale_max) && c.scale_min > 0 &&
                    c.scale_min <= c.scale_max,
                where, "needs 0 < scale_min <= scale_max, got ", c.scale_min, " and ", c.scale_max);
  // The resizer then sees an output_size square; only one that leaves it unchanged makes the
  // two resizes one resample.
  const int s = c.output_size;
  if (o.keep_aspect_ratio)
    TRAINER_CHECK(o.keep_aspect_ratio->min_dimension == s && o.keep_aspect_ratio->max_dimension == s, where,
                  "needs keep_aspect_ratio_resizer min_dimension = max_dimension = output_size (", s, "), got ",
                  o.keep_aspect_ratio->min_dimension, " and ", o.keep_aspect_ratio->max_dimension,
                  " (a second resize of its output is not implemented)");
  else
    TRAINER_CHECK(o.height == s && o.width == s, where, "needs fixed_shape_resizer height = width = output_size (",
                  s, "), got ", o.width, "x", o.height, " (a second resize of its output is not implemented)");
  TRAINER_CHECK(o.grid == SamplingGrid::kTf1Legacy, where, "resizes on TensorFlow 1's grid (kTf1Legacy)");
}

// Pixels a source already holds (synthetic) as RGB, as TensorFlow decodes with channels=3.
Image to_rgb(const Image& image) {
  Image out(image.height, image.width, 3);
  const cv::Mat src(image.height, image.width, CV_8UC1, const_cast<uint8_t*>(image.pixels.data()));
  cv::Mat dst(out.height, out.width, CV_8UC3, out.pixels.data());
  cv::cvtColor(src, dst, cv::COLOR_GRAY2RGB);
  return out;
}

}  // namespace

const char* augmentation_name(const DetectionAugmentation& step) {
  static constexpr const char* kNames[] = {"random_horizontal_flip",   "random_crop_image",
                                           "random_adjust_brightness", "random_adjust_contrast",
                                           "random_adjust_hue",        "random_adjust_saturation",
                                           "random_rgb_to_gray",       "random_distort_color",
                                           "random_scale_crop_and_pad_to_square"};
  static_assert(std::size(kNames) == std::variant_size_v<DetectionAugmentation>);
  return kNames[step.index()];
}

ImageSize resize_to_range_size(ImageSize image, int min_dimension, int max_dimension) {
  TRAINER_CHECK(image.height > 0 && image.width > 0 && min_dimension > 0 && max_dimension > 0,
                "resize_to_range: image ", image.width, "x", image.height, ", dimensions ", min_dimension, " and ",
                max_dimension);
  const bool landscape = image.height < image.width;
  const float target_h = static_cast<float>(landscape ? min_dimension : max_dimension);
  const float target_w = static_cast<float>(landscape ? max_dimension : min_dimension);
  const float h = static_cast<float>(image.height), w = static_cast<float>(image.width);
  const float scale = std::min(target_h / h, target_w / w);
  // tf.round rounds half to even: std::nearbyint in the default rounding mode.
  const float new_h = std::nearbyint(scale * h), new_w = std::nearbyint(scale * w);
  return {std::max(1, static_cast<int>(new_h)), std::max(1, static_cast<int>(new_w))};
}

ScaleCropPad scale_crop_pad_geometry(ImageSize image, int output_size, float scale, float u_y, float u_x) {
  TRAINER_CHECK(image.height > 0 && image.width > 0 && output_size > 0, "random_scale_crop_and_pad_to_square: image ",
                image.width, "x", image.height, ", output_size ", output_size);
  const float max_dim = static_cast<float>(std::max(image.height, image.width));
  const float ar_y = static_cast<float>(image.height) / max_dim, ar_x = static_cast<float>(image.width) / max_dim;
  const float size = scale * static_cast<float>(output_size);
  ScaleCropPad s;
  s.scaled_height = std::max(1, static_cast<int>(size * ar_y));
  s.scaled_width = std::max(1, static_cast<int>(size * ar_x));
  s.offset_y = static_cast<int>(std::max(0.0f, static_cast<float>(s.scaled_height - output_size)) * u_y);
  s.offset_x = static_cast<int>(std::max(0.0f, static_cast<float>(s.scaled_width - output_size)) * u_x);
  return s;
}

DetectionTransform::DetectionTransform(DetectionTransformOptions options) : options_(std::move(options)) {
  const auto& o = options_;
  TRAINER_CHECK(o.height > 0 && o.width > 0, "detection transform: output size must be positive, got ", o.width, "x",
                o.height);
  TRAINER_CHECK(o.mean.size() == o.stddev.size() && (o.mean.empty() || o.mean.size() == 3),
                "detection transform: mean and stddev need one value per RGB channel (3), got ", o.mean.size(), " and ",
                o.stddev.size());
  for (float s : o.stddev) TRAINER_CHECK(s > 0, "detection transform: stddev values must be positive, got ", s);
  for (float s : o.stddev) inv_std_.push_back(1.0f / s);
  TRAINER_CHECK(o.max_boxes >= 0, "detection transform: max_boxes must be >= 0 (0 keeps all), got ", o.max_boxes);
  if (o.keep_aspect_ratio) {
    const KeepAspectRatioResizerOptions& k = *o.keep_aspect_ratio;
    TRAINER_CHECK(k.min_dimension > 0 && k.min_dimension <= k.max_dimension,
                  "detection transform: keep_aspect_ratio_resizer needs 0 < min_dimension <= max_dimension, got ",
                  k.min_dimension, " and ", k.max_dimension);
    TRAINER_CHECK(o.height == k.max_dimension && o.width == k.max_dimension,
                  "detection transform: keep_aspect_ratio_resizer pads to max_dimension x max_dimension (",
                  k.max_dimension, "), but the output is ", o.width, "x", o.height);
    TRAINER_CHECK(o.grid == SamplingGrid::kTf1Legacy,
                  "detection transform: keep_aspect_ratio_resizer resizes on TensorFlow 1's grid (kTf1Legacy)");
  }
  TRAINER_CHECK(std::isfinite(o.pixel_divisor) && o.pixel_divisor > 0,
                "detection transform: pixel_divisor must be > 0, got ", o.pixel_divisor);
  int scale_step = -1;  // the random_scale_crop_and_pad_to_square, if any
  for (size_t i = 0; i < o.augmentations.size(); ++i) {
    const DetectionAugmentation& step = o.augmentations[i];
    if (const auto* crop = std::get_if<RandomCropImageOptions>(&step)) check_crop(*crop, i);
    if (const auto* flip = std::get_if<RandomHorizontalFlipOptions>(&step))
      TRAINER_CHECK(flip->probability >= 0 && flip->probability <= 1, "detection transform: augmentation ", i,
                    " (random_horizontal_flip): probability ", flip->probability, " is not in [0, 1]");
    check_colour(step, i);
    TRAINER_CHECK(scale_step < 0 || std::holds_alternative<RandomHorizontalFlipOptions>(step),
                  "detection transform: augmentation ", i, " (", augmentation_name(step),
                  ") cannot follow random_scale_crop_and_pad_to_square (augmentation ", scale_step,
                  "): only random_horizontal_flip is implemented after it (its output is zero-padded)");
    if (const auto* scp = std::get_if<RandomScaleCropAndPadToSquareOptions>(&step)) {
      check_scale_crop_pad(*scp, i, o);
      scale_step = static_cast<int>(i);
    }
  }
}

DetectionGeometry DetectionTransform::plan(ImageSize source, std::vector<BoxAnnotation> boxes, Philox& rng) const {
  TRAINER_CHECK(source.height > 0 && source.width > 0, "detection transform: empty source ", source.width, "x",
                source.height);
  DetectionGeometry g;
  g.window = {0, 0, source.width, source.height};
  g.boxes = std::move(boxes);
  std::erase_if(g.boxes, has_nan);
  bool padded = false;  // a random_scale_crop_and_pad_to_square ran
  if (options_.train) {
    for (const auto& step : options_.augmentations) {
      if (const auto* flip = std::get_if<RandomHorizontalFlipOptions>(&step)) flip_step(*flip, padded, g, rng);
      if (const auto* crop = std::get_if<RandomCropImageOptions>(&step)) crop_step(*crop, g, rng);
      if (const auto* scp = std::get_if<RandomScaleCropAndPadToSquareOptions>(&step)) {
        scale_crop_pad_step(*scp, g, rng);
        padded = true;
      }
      if (const auto* b = std::get_if<RandomAdjustBrightnessOptions>(&step)) brightness_step(b->max_delta, g, rng);
      if (const auto* c = std::get_if<RandomAdjustContrastOptions>(&step))
        contrast_step(c->min_delta, c->max_delta, g, rng);
      if (const auto* h = std::get_if<RandomAdjustHueOptions>(&step)) hue_step(h->max_delta, g, rng);
      if (const auto* sat = std::get_if<RandomAdjustSaturationOptions>(&step))
        saturation_step(sat->min_delta, sat->max_delta, g, rng);
      if (const auto* gray = std::get_if<RandomRGBtoGrayOptions>(&step)) gray_step(gray->probability, g, rng);
      if (const auto* d = std::get_if<RandomDistortColorOptions>(&step)) distort_color_step(d->color_ordering, g, rng);
    }
  }
  // The image resizer. After random_scale_crop_and_pad_to_square it leaves the square as it is
  // (the constructor checked), so true_image_shape is the output and the boxes stay.
  const int height = options_.height, width = options_.width;
  if (padded) {
    g.true_size = {height, width};
  } else if (options_.keep_aspect_ratio) {
    const ImageSize n = resize_to_range_size({g.window.height, g.window.width}, options_.keep_aspect_ratio->min_dimension,
                                             options_.keep_aspect_ratio->max_dimension);
    g.placement = {n.height, n.width, 0, 0, false};
    g.true_size = n;
    // inputs.py transform_input_data: boxes into the padded image's frame, change_coordinate_frame
    // by [0, 0, float(padded) / float(true), ...].
    change_coordinate_frame(g.boxes, BoxWindow{0.0f, 0.0f, static_cast<float>(height) / static_cast<float>(n.height),
                                               static_cast<float>(width) / static_cast<float>(n.width)});
  } else {
    g.placement = {height, width, 0, 0, false};
    g.true_size = {height, width};
  }
  if (options_.max_boxes > 0 && g.boxes.size() > static_cast<size_t>(options_.max_boxes))
    g.boxes.resize(static_cast<size_t>(options_.max_boxes));
  return g;
}

void DetectionTransform::apply(const Sample& sample, Philox& rng, DType dtype, void* out,
                               ImageAnnotations* annotations_out) const {
  // TensorFlow decodes the whole image; no DCT-domain reduction, so the pixels are its pixels.
  Image decoded;
  const Image* source = &decoded;
  if (!sample.encoded.empty()) {
    decoded = decode_image(sample.encoded, sample.name, ColorMode::kRgb);
  } else {
    TRAINER_CHECK(!sample.image.empty(), "detection transform: sample ", sample.name,
                  " has neither encoded bytes nor pixels");
    if (sample.image.channels == 3)
      source = &sample.image;
    else
      decoded = to_rgb(sample.image);
  }
  DetectionGeometry g = plan({source->height, source->width}, sample.annotations.boxes, rng);
  const auto& o = options_;
  Normalization norm{o.mean.empty() ? nullptr : o.mean.data(), o.mean.empty() ? nullptr : inv_std_.data()};
  if (o.pixel_divisor != 1.0f && !o.mean.empty()) {
    norm.divisor = o.pixel_divisor;
    norm.stddev = o.stddev.data();
  }
  const OutputPlacement& p = g.placement;
  const bool placed = p.scaled_height != o.height || p.scaled_width != o.width || p.offset_y != 0 ||
                      p.offset_x != 0 || p.mirrored;
  // The window (origin: the first pixel of `pixels`) to the output: one resample.
  auto resample_window = [&](const auto& pixels, int origin_x, int origin_y) {
    if (placed) {
      const AxisPlacement y{g.window.y - origin_y, g.window.height, false, p.scaled_height, p.offset_y, false};
      const AxisPlacement x{g.window.x - origin_x, g.window.width, g.mirrored, p.scaled_width, p.offset_x, p.mirrored};
      resample_placed(pixels, y, x, o.height, o.width, norm, dtype, out);
    } else {
      const CropBox box{static_cast<double>(g.window.x - origin_x), static_cast<double>(g.window.y - origin_y),
                        static_cast<double>(g.window.width), static_cast<double>(g.window.height)};
      resample(pixels, box, o.height, o.width, g.mirrored, norm, dtype, out, o.grid);
    }
  };
  if (g.colour.empty()) {
    resample_window(*source, 0, 0);
  } else {
    // The colour steps on the source (the header's "Colour steps"): every later window lies in
    // the first colour step's window, as crops only shrink it; one pixel more each side covers
    // the half-pixel grid's taps, so they read the same pixels as from the whole image.
    const PixelWindow& first = g.colour.front().window;
    const int x0 = std::max(first.x - 1, 0), y0 = std::max(first.y - 1, 0);
    const int x1 = std::min(first.x + first.width + 1, source->width);
    const int y1 = std::min(first.y + first.height + 1, source->height);
    const PixelWindow region{x0, y0, x1 - x0, y1 - y0};
    FloatImage pixels = to_float(*source, region);
    for (const ColourStep& step : g.colour) {
      switch (step.op) {
        case ColourOp::kBrightness: adjust_brightness(pixels, step.value); break;
        case ColourOp::kContrast:
          adjust_contrast(pixels, step.value,
                          {step.window.x - x0, step.window.y - y0, step.window.width, step.window.height});
          break;
        case ColourOp::kHue: adjust_hue(pixels, step.value); break;
        case ColourOp::kSaturation: adjust_saturation(pixels, step.value); break;
        case ColourOp::kGray: rgb_to_gray(pixels); break;
      }
    }
    resample_window(pixels, x0, y0);
  }
  if (annotations_out) {
    *annotations_out = {sample.annotations.image_id, source->height, source->width, std::move(g.boxes)};
    annotations_out->true_height_fraction = static_cast<float>(g.true_size.height) / static_cast<float>(o.height);
    annotations_out->true_width_fraction = static_cast<float>(g.true_size.width) / static_cast<float>(o.width);
  }
}

}  // namespace trainer::data
