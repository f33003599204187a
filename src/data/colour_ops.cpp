#include "trainer/data/colour_ops.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "trainer/core/error.h"
#include "trainer/core/half.h"

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

// ---- float resample: resample.cpp's taps and arithmetic, reading floats ----

struct Taps {
  std::vector<int> lo, hi;
  std::vector<float> frac;
};

Taps make_taps(double start, double length, int out, int src, bool mirror) {
  Taps taps{std::vector<int>(out), std::vector<int>(out), std::vector<float>(out)};
  const double step = length / out;
  for (int o = 0; o < out; ++o) {
    const int at = mirror ? out - 1 - o : o;
    const double pos = std::clamp(start + (at + 0.5) * step - 0.5, 0.0, static_cast<double>(src - 1));
    const int lo = static_cast<int>(pos);
    taps.lo[o] = lo;
    taps.hi[o] = std::min(lo + 1, src - 1);
    taps.frac[o] = static_cast<float>(pos - lo);
  }
  return taps;
}

Taps make_legacy_taps(int first, int size, int out, bool mirror) {
  Taps taps{std::vector<int>(out), std::vector<int>(out), std::vector<float>(out)};
  const float scale = static_cast<float>(size) / static_cast<float>(out);
  for (int o = 0; o < out; ++o) {
    const float in = static_cast<float>(o) * scale;
    const float floor_in = std::floor(in);
    const int lo = static_cast<int>(floor_in);
    const int hi = std::min(lo + 1, size - 1);
    taps.lo[o] = first + (mirror ? size - 1 - lo : lo);
    taps.hi[o] = first + (mirror ? size - 1 - hi : hi);
    taps.frac[o] = in - floor_in;
  }
  return taps;
}

void horizontal(const float* row, const Taps& x, int channels, float* out) {
  const int width = static_cast<int>(x.lo.size());
  for (int o = 0; o < width; ++o) {
    const float* a = row + x.lo[o] * channels;
    const float* b = row + x.hi[o] * channels;
    const float f = x.frac[o];
    for (int c = 0; c < channels; ++c) out[o * channels + c] = a[c] + f * (b[c] - a[c]);
  }
}

template <class T>
void store_row(const float* top, const float* bottom, float fy, int count, int channels, const Normalization& norm,
               T* dst) {
  for (int i = 0; i < count; ++i) {
    float v = top[i] + fy * (bottom[i] - top[i]);
    if constexpr (std::is_same_v<T, uint8_t>) {
      dst[i] = static_cast<uint8_t>(std::clamp(std::nearbyint(v), 0.0f, 255.0f));
    } else {
      if (norm.mean) {
        const int c = i % channels;
        v = (v - norm.mean[c]) * norm.inv_std[c];
      }
      dst[i] = T(v);
    }
  }
}

template <class T>
void resample_as(const FloatImage& src, const Taps& xs, const Taps& ys, const Normalization& norm, T* dst) {
  const int out_height = static_cast<int>(ys.lo.size()), out_width = static_cast<int>(xs.lo.size());
  const int channels = src.channels, row_values = out_width * channels;
  std::vector<float> rows(2 * static_cast<size_t>(row_values));
  float* cached[2] = {rows.data(), rows.data() + row_values};
  int cached_y[2] = {-1, -1};
  auto source_row = [&](int y) -> const float* {
    for (int k = 0; k < 2; ++k)
      if (cached_y[k] == y) return cached[k];
    const int k = cached_y[0] == -1 || (cached_y[1] != -1 && cached_y[0] < cached_y[1]) ? 0 : 1;
    horizontal(src.row(y), xs, channels, cached[k]);
    cached_y[k] = y;
    return cached[k];
  };
  for (int oy = 0; oy < out_height; ++oy) {
    const float* top = source_row(ys.lo[oy]);
    const float* bottom = source_row(ys.hi[oy]);
    store_row(top, bottom, ys.frac[oy], row_values, channels, norm, dst + static_cast<size_t>(oy) * row_values);
  }
}

bool whole_pixels(double v) { return v == std::floor(v); }

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
  TRAINER_CHECK(out_height > 0 && out_width > 0, "resample: bad output size ", out_width, "x", out_height);
  TRAINER_CHECK(box.width > 0 && box.height > 0, "resample: empty crop box ", box.width, "x", box.height);
  Taps xs, ys;
  if (grid == SamplingGrid::kTf1Legacy) {
    TRAINER_CHECK(whole_pixels(box.x) && whole_pixels(box.y) && whole_pixels(box.width) && whole_pixels(box.height) &&
                      box.x >= 0 && box.y >= 0 && box.x + box.width <= src.width && box.y + box.height <= src.height,
                  "resample: TensorFlow 1's grid resizes a cut-out of whole pixels inside the ", src.width, "x",
                  src.height, " image, not the box at (", box.x, ", ", box.y, ") of ", box.width, "x", box.height);
    xs = make_legacy_taps(static_cast<int>(box.x), static_cast<int>(box.width), out_width, flip);
    ys = make_legacy_taps(static_cast<int>(box.y), static_cast<int>(box.height), out_height, false);
  } else {
    xs = make_taps(box.x, box.width, out_width, src.width, flip);
    ys = make_taps(box.y, box.height, out_height, src.height, false);
  }
  switch (dtype) {
    case DType::F32: return resample_as(src, xs, ys, norm, static_cast<float*>(dst));
    case DType::BF16: return resample_as(src, xs, ys, norm, static_cast<bfloat16*>(dst));
    case DType::F16: return resample_as(src, xs, ys, norm, static_cast<float16*>(dst));
    case DType::U8: return resample_as(src, xs, ys, norm, static_cast<uint8_t*>(dst));
    default: fail("resample: images can be stored as f32, bf16, f16 or u8, not ", dtype_name(dtype));
  }
}

}  // namespace trainer::data
