#include "trainer/data/resample.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "trainer/core/error.h"
#include "trainer/core/half.h"

namespace trainer::data {
namespace {

struct Taps {
  std::vector<int> lo, hi;  // source indices (hi = lo + 1, clamped)
  std::vector<float> frac;  // weight of hi
};

// Sample positions along one axis; `mirror` reverses the output order.
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

// TensorFlow 1's legacy grid over the cut-out [first, first + size) (whole pixels): position
// o * scale in float (its LegacyScaler), taps floor and floor + 1 clamped to the cut-out. A
// mirrored cut-out reads pixel size - 1 - i for its pixel i, so taps reflect and the weight stays.
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

// One source row interpolated horizontally to the output width: out[ox * C + c].
void horizontal(const uint8_t* row, const Taps& x, int channels, float* out) {
  const int width = static_cast<int>(x.lo.size());
  for (int o = 0; o < width; ++o) {
    const uint8_t* a = row + x.lo[o] * channels;
    const uint8_t* b = row + x.hi[o] * channels;
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
void resample_as(const Image& src, const Taps& xs, const Taps& ys, const Normalization& norm, T* dst) {
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
    const float* top = source_row(ys.lo[oy]);
    const float* bottom = source_row(ys.hi[oy]);
    store_row(top, bottom, ys.frac[oy], row_values, channels, norm, dst + static_cast<size_t>(oy) * row_values);
  }
}

bool whole_pixels(double v) { return v == std::floor(v); }

}  // namespace

void resample(const Image& src, const CropBox& box, int out_height, int out_width, bool flip,
              const Normalization& norm, DType dtype, void* dst, SamplingGrid grid) {
  TRAINER_CHECK(!src.empty() && src.channels >= 1, "resample: empty source image");
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
