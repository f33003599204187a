// The resample loop that resample.h's uint8 version and colour_ops.h's float version share, so
// the two give the same bits: the taps of both grids, the horizontal pass, the normalising
// store and the two-row loop. Private to the data library.
#pragma once

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "trainer/core/error.h"
#include "trainer/core/half.h"
#include "trainer/data/resample.h"

namespace trainer::data::detail {

// Where each output pixel of one axis reads the source: taps lo and hi with the weight of hi.
// Output pixels outside [begin, end) are padding (written as a zero pixel, normalised).
struct Taps {
  std::vector<int> lo, hi;  // source indices (hi = lo + 1, clamped)
  std::vector<float> frac;  // weight of hi
  int begin = 0, end = 0;
};

inline Taps make_taps_storage(int out) {
  return Taps{std::vector<int>(out), std::vector<int>(out), std::vector<float>(out), 0, out};
}

// Half-pixel centres along one axis, taps clamped to the source; `mirror` reverses the output order.
inline Taps half_pixel_taps(double start, double length, int out, int src, bool mirror) {
  Taps taps = make_taps_storage(out);
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

// TensorFlow 1's legacy grid over a placed cut-out (AxisPlacement): resized pixel r samples the
// cut-out at r * (size / scaled) in float (its LegacyScaler), taps floor and floor + 1 clamped
// to the cut-out. A mirrored cut-out reads pixel size - 1 - i for its pixel i, so taps reflect
// and the weight stays.
inline Taps legacy_taps(const AxisPlacement& a, int out) {
  Taps taps = make_taps_storage(out);
  const float scale = static_cast<float>(a.size) / static_cast<float>(a.scaled);
  const int content = std::clamp(a.scaled - a.offset, 0, out);
  taps.begin = a.mirror_output ? out - content : 0;
  taps.end = taps.begin + content;
  for (int o = taps.begin; o < taps.end; ++o) {
    const int resized = (a.mirror_output ? out - 1 - o : o) + a.offset;
    const float in = static_cast<float>(resized) * scale;
    const float floor_in = std::floor(in);
    const int lo = std::min(static_cast<int>(floor_in), a.size - 1);
    const int hi = std::min(lo + 1, a.size - 1);
    taps.lo[o] = a.first + (a.mirror ? a.size - 1 - lo : lo);
    taps.hi[o] = a.first + (a.mirror ? a.size - 1 - hi : hi);
    taps.frac[o] = in - floor_in;
  }
  return taps;
}

inline void check_placement(const AxisPlacement& a, int source, int out, const char* axis) {
  TRAINER_CHECK(a.size > 0 && a.first >= 0 && a.first + a.size <= source && a.scaled > 0 && a.offset >= 0 && out > 0,
                "resample: the ", axis, " placement (cut-out ", a.first, " + ", a.size, " of ", source,
                ", resized to ", a.scaled, " from ", a.offset, ", into ", out, ") does not fit");
}

// One source row interpolated horizontally over the content pixels: out[ox * C + c].
template <class P>
void horizontal(const P* row, const Taps& x, int channels, float* out) {
  for (int o = x.begin; o < x.end; ++o) {
    const P* a = row + x.lo[o] * channels;
    const P* b = row + x.hi[o] * channels;
    const float f = x.frac[o];
    for (int c = 0; c < channels; ++c) out[o * channels + c] = a[c] + f * (b[c] - a[c]);
  }
}

template <class T>
T store_value(float v, int c, const Normalization& norm) {
  if constexpr (std::is_same_v<T, uint8_t>) {
    return static_cast<uint8_t>(std::clamp(std::nearbyint(v), 0.0f, 255.0f));
  } else {
    if (norm.mean) v = norm.stddev ? (v / norm.divisor - norm.mean[c]) / norm.stddev[c] : (v - norm.mean[c]) * norm.inv_std[c];
    return T(v);
  }
}

// One output row: each content value top + fy * (bottom - top), padding a zero pixel.
template <class T>
void store_row(const float* top, const float* bottom, float fy, const Taps& xs, int channels,
               const Normalization& norm, T* dst) {
  const int count = static_cast<int>(xs.lo.size()) * channels;
  const int begin = xs.begin * channels, end = xs.end * channels;
  for (int i = 0; i < begin; ++i) dst[i] = store_value<T>(0.0f, i % channels, norm);
  for (int i = begin; i < end; ++i) {
    const float v = top[i] + fy * (bottom[i] - top[i]);
    dst[i] = store_value<T>(v, norm.mean ? i % channels : 0, norm);
  }
  for (int i = end; i < count; ++i) dst[i] = store_value<T>(0.0f, i % channels, norm);
}

template <class Source, class T>
void resample_taps(const Source& src, const Taps& xs, const Taps& ys, const Normalization& norm, T* dst) {
  const int out_height = static_cast<int>(ys.lo.size()), out_width = static_cast<int>(xs.lo.size());
  const int channels = src.channels, row_values = out_width * channels;
  // Two horizontally interpolated source rows, reused while consecutive output rows fall
  // between the same source rows (always, when upsampling).
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
    T* out = dst + static_cast<size_t>(oy) * row_values;
    if (oy < ys.begin || oy >= ys.end) {
      for (int i = 0; i < row_values; ++i) out[i] = store_value<T>(0.0f, i % channels, norm);
      continue;
    }
    const float* top = source_row(ys.lo[oy]);
    const float* bottom = source_row(ys.hi[oy]);
    store_row(top, bottom, ys.frac[oy], xs, channels, norm, out);
  }
}

template <class Source>
void resample_as(const Source& src, const Taps& xs, const Taps& ys, const Normalization& norm, DType dtype,
                 void* dst) {
  TRAINER_CHECK(!norm.stddev || norm.divisor > 0, "resample: the normalisation's divisor must be > 0, got ",
                norm.divisor);
  switch (dtype) {
    case DType::F32: return resample_taps(src, xs, ys, norm, static_cast<float*>(dst));
    case DType::BF16: return resample_taps(src, xs, ys, norm, static_cast<bfloat16*>(dst));
    case DType::F16: return resample_taps(src, xs, ys, norm, static_cast<float16*>(dst));
    case DType::U8: return resample_taps(src, xs, ys, norm, static_cast<uint8_t*>(dst));
    default: fail("resample: images can be stored as f32, bf16, f16 or u8, not ", dtype_name(dtype));
  }
}

inline bool whole_pixels(double v) { return v == std::floor(v); }

// The taps resample(src, box, ...) uses on either grid (whole-pixel checks for TensorFlow 1's).
inline void box_taps(int src_height, int src_width, const CropBox& box, int out_height, int out_width, bool flip,
                     SamplingGrid grid, Taps& xs, Taps& ys) {
  TRAINER_CHECK(out_height > 0 && out_width > 0, "resample: bad output size ", out_width, "x", out_height);
  TRAINER_CHECK(box.width > 0 && box.height > 0, "resample: empty crop box ", box.width, "x", box.height);
  if (grid == SamplingGrid::kTf1Legacy) {
    TRAINER_CHECK(whole_pixels(box.x) && whole_pixels(box.y) && whole_pixels(box.width) && whole_pixels(box.height) &&
                      box.x >= 0 && box.y >= 0 && box.x + box.width <= src_width && box.y + box.height <= src_height,
                  "resample: TensorFlow 1's grid resizes a cut-out of whole pixels inside the ", src_width, "x",
                  src_height, " image, not the box at (", box.x, ", ", box.y, ") of ", box.width, "x", box.height);
    const int x = static_cast<int>(box.x), y = static_cast<int>(box.y);
    const int width = static_cast<int>(box.width), height = static_cast<int>(box.height);
    xs = legacy_taps({x, width, flip, out_width, 0, false}, out_width);
    ys = legacy_taps({y, height, false, out_height, 0, false}, out_height);
  } else {
    xs = half_pixel_taps(box.x, box.width, out_width, src_width, flip);
    ys = half_pixel_taps(box.y, box.height, out_height, src_height, false);
  }
}

}  // namespace trainer::data::detail
