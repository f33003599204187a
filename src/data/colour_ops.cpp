#include "trainer/data/colour_ops.h"

#include <algorithm>
#include <cmath>

#include "resample_core.h"
#include "trainer/core/error.h"

namespace trainer::data {
namespace {

constexpr float kScale = 255.0f;

float clip255(float v) { return std::min(std::max(v, 0.0f), kScale); }

void check_rgb(const FloatImage& image, const char* op) {
  TRAINER_CHECK(image.channels == 3, op, ": needs an RGB image, got ", image.channels, " channels");
}

// Applies f(r, g, b) -> (r, g, b) on the [0, 1] scale to every pixel, then times 255, clipped:
// one random_adjust_* step of the API around a pointwise TensorFlow op.
template <class F>
void pointwise_unit_scale(FloatImage& image, F&& f) {
  float* p = image.pixels.data();
  const size_t count = static_cast<size_t>(image.height) * image.width;
  for (size_t i = 0; i < count; ++i, p += 3) {
    float rgb[3] = {p[0] / kScale, p[1] / kScale, p[2] / kScale};
    f(rgb);
    for (int c = 0; c < 3; ++c) p[c] = clip255(rgb[c] * kScale);
  }
}

// Channel slots (max, mid, min) of each sixth of the hue circle, starting at red: in sixth k
// the hue runs from the colour whose max is `max` towards the next primary/secondary colour.
// Even sixths move the middle channel up from the min, odd ones down from the max.
struct Sixth {
  int max, mid, min;
};
constexpr Sixth kSixths[6] = {{0, 1, 2}, {1, 0, 2}, {1, 2, 0}, {2, 1, 0}, {2, 0, 1}, {0, 2, 1}};

// AdjustHue's kernel on one pixel in [0, 1]: hue in [0, 6) from the max/mid/min channels, the
// shift, and back with the max and min values kept.
void shift_hue(float rgb[3], float delta) {
  const float r = rgb[0], g = rgb[1], b = rgb[2];
  const float hi = std::max(r, std::max(g, b)), lo = std::min(r, std::min(g, b));
  if (hi == lo) return;  // gray: no hue, unchanged
  // Which sixth: ordered as TensorFlow breaks ties (r < g tested first, then b).
  int sixth;
  if (r < g)
    sixth = b < r ? 1 : (b > g ? 3 : 2);
  else
    sixth = b < g ? 0 : (b > r ? 4 : 5);
  const float mid = rgb[kSixths[sixth].mid];
  const float ratio = (mid - lo) / (hi - lo);
  float h = static_cast<float>(sixth) + (sixth % 2 == 0 ? ratio : 1 - ratio);
  h += delta * 6.0f;
  while (h < 0) h += 6.0f;
  while (h >= 6.0f) h -= 6.0f;
  const int k = static_cast<int>(h);
  float t = h - static_cast<float>(k);
  if (k % 2 == 1) t = 1 - t;
  const Sixth& s = kSixths[k];
  rgb[s.max] = hi;
  rgb[s.min] = lo;
  rgb[s.mid] = lo + t * (hi - lo);
}

// AdjustSaturation's kernel on one pixel in [0, 1]: RGB -> HSV (hue in [0, 1)), saturation
// scaled and clamped to [0, 1], HSV -> RGB by chroma (Wikipedia's "From HSV").
void scale_saturation(float rgb[3], float factor) {
  const float r = rgb[0], g = rgb[1], b = rgb[2];
  const float v = std::max(r, std::max(g, b));
  const float range = v - std::min(r, std::min(g, b));
  float s = v > 0 ? range / v : 0.0f;
  float h = 0;
  if (range > 0) {
    const float norm = 1.0f / (6.0f * range);
    if (r == v)
      h = norm * (g - b);
    else if (g == v)
      h = static_cast<float>(norm * (b - r) + 2.0 / 6.0);  // added in double, as there
    else
      h = static_cast<float>(norm * (r - g) + 4.0 / 6.0);
    if (h < 0) h += 1;
  }
  s = std::min(1.0f, std::max(0.0f, s * factor));
  const float chroma = s * v, m = v - chroma;
  const float h6 = h * 6;
  const int k = static_cast<int>(h6);
  float wrapped = h6;  // h6 mod 2 in (0, 2], then [0, 2): TensorFlow's loops
  while (wrapped <= 0) wrapped += 2.0f;
  while (wrapped >= 2.0f) wrapped -= 2.0f;
  const float x = chroma * (1 - std::abs(wrapped - 1));
  float out[3] = {0, 0, 0};  // k == 6 (h rounded up to 1) keeps TensorFlow's all-zero chroma
  if (k >= 0 && k < 6) {
    const Sixth& sx = kSixths[k];
    out[sx.max] = chroma;
    out[sx.mid] = x;
    out[sx.min] = 0;
  }
  for (int c = 0; c < 3; ++c) rgb[c] = out[c] + m;
}

}  // namespace

FloatImage to_float(const Image& src, const PixelWindow& region) {
  TRAINER_CHECK(src.channels == 3, "to_float: needs an RGB image, got ", src.channels, " channels");
  TRAINER_CHECK(region.x >= 0 && region.y >= 0 && region.width > 0 && region.height > 0 &&
                    region.x + region.width <= src.width && region.y + region.height <= src.height,
                "to_float: region (", region.x, ", ", region.y, ") of ", region.width, "x", region.height,
                " is not inside the ", src.width, "x", src.height, " image");
  FloatImage out(region.height, region.width, 3);
  for (int y = 0; y < region.height; ++y) {
    const uint8_t* in = src.row(region.y + y) + static_cast<size_t>(region.x) * 3;
    float* o = out.row(y);
    for (size_t i = 0; i < out.row_values(); ++i) o[i] = static_cast<float>(in[i]);
  }
  return out;
}

void adjust_brightness(FloatImage& image, float delta) {
  check_rgb(image, "adjust_brightness");
  for (float& v : image.pixels) v = clip255((v / kScale + delta) * kScale);
}

void adjust_contrast(FloatImage& image, float factor, const PixelWindow& w) {
  check_rgb(image, "adjust_contrast");
  TRAINER_CHECK(w.x >= 0 && w.y >= 0 && w.width > 0 && w.height > 0 && w.x + w.width <= image.width &&
                    w.y + w.height <= image.height,
                "adjust_contrast: mean window (", w.x, ", ", w.y, ") of ", w.width, "x", w.height,
                " is not inside the ", image.width, "x", image.height, " image");
  double sum[3] = {0, 0, 0};
  for (int y = w.y; y < w.y + w.height; ++y) {
    const float* p = image.at(y, w.x);
    for (int x = 0; x < w.width; ++x, p += 3)
      for (int c = 0; c < 3; ++c) sum[c] += p[c] / kScale;
  }
  const double count = static_cast<double>(w.width) * w.height;
  const float mean[3] = {static_cast<float>(sum[0] / count), static_cast<float>(sum[1] / count),
                         static_cast<float>(sum[2] / count)};
  pointwise_unit_scale(image, [&](float rgb[3]) {
    for (int c = 0; c < 3; ++c) rgb[c] = mean[c] + factor * (rgb[c] - mean[c]);
  });
}

void adjust_hue(FloatImage& image, float delta) {
  check_rgb(image, "adjust_hue");
  pointwise_unit_scale(image, [delta](float rgb[3]) { shift_hue(rgb, delta); });
}

void adjust_saturation(FloatImage& image, float factor) {
  check_rgb(image, "adjust_saturation");
  pointwise_unit_scale(image, [factor](float rgb[3]) { scale_saturation(rgb, factor); });
}

void rgb_to_gray(FloatImage& image) {
  check_rgb(image, "rgb_to_gray");
  float* p = image.pixels.data();
  const size_t count = static_cast<size_t>(image.height) * image.width;
  for (size_t i = 0; i < count; ++i, p += 3) {
    const float gray = p[0] * 0.2989f + p[1] * 0.5870f + p[2] * 0.1140f;
    p[0] = p[1] = p[2] = gray;
  }
}

void resample(const FloatImage& src, const CropBox& box, int out_height, int out_width, bool flip,
              const Normalization& norm, DType dtype, void* dst, SamplingGrid grid) {
  TRAINER_CHECK(!src.pixels.empty() && src.channels >= 1, "resample: empty source image");
  detail::Taps xs, ys;
  detail::box_taps(src.height, src.width, box, out_height, out_width, flip, grid, xs, ys);
  detail::resample_as(src, xs, ys, norm, dtype, dst);
}

void resample_placed(const FloatImage& src, const AxisPlacement& y, const AxisPlacement& x, int out_height,
                     int out_width, const Normalization& norm, DType dtype, void* dst) {
  TRAINER_CHECK(!src.pixels.empty() && src.channels >= 1, "resample: empty source image");
  detail::check_placement(y, src.height, out_height, "vertical");
  detail::check_placement(x, src.width, out_width, "horizontal");
  detail::resample_as(src, detail::legacy_taps(x, out_width), detail::legacy_taps(y, out_height), norm, dtype, dst);
}

}  // namespace trainer::data
