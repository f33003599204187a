#include "trainer/data/distorted_bounding_box.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "trainer/core/error.h"

namespace trainer::data {
namespace {

// Integer rectangles [min, max) as the kernel keeps them; areas are float, as there.
struct Rect {
  int min_x = 0, min_y = 0, max_x = 0, max_y = 0;
  float area() const { return static_cast<float>((max_x - min_x) * (max_y - min_y)); }
  Rect intersect(const Rect& r) const {
    const Rect i{std::max(min_x, r.min_x), std::max(min_y, r.min_y), std::min(max_x, r.max_x), std::min(max_y, r.max_y)};
    return i.min_x > i.max_x || i.min_y > i.max_y ? Rect{} : i;
  }
};

// The kernel's rounding: lrintf, i.e. to nearest with ties to even in the default mode.
int round_float(float v) { return static_cast<int>(std::lrint(v)); }

bool covers_enough(const Rect& crop, float min_object_covered, const std::vector<Rect>& boxes) {
  constexpr float kMinArea = 1.0f;  // a crop or box with no pixel never counts
  if (crop.area() < kMinArea) return false;
  for (const Rect& box : boxes) {
    const float object_area = box.area();
    if (object_area < kMinArea) continue;
    if (crop.intersect(box).area() / object_area >= min_object_covered) return true;
  }
  return false;
}

// GenerateRandomCrop: a crop of the given aspect with area in [min_area, max_area] of the
// image, or false when rounding leaves none. Every float operation is the kernel's, in its
// types (float areas, a double for the width bound), so the same draws give the same crop.
bool random_crop(int image_width, int image_height, float min_relative_area, float max_relative_area, float aspect,
                 Philox& rng, Rect& crop) {
  if (max_relative_area <= 0 || aspect <= 0 || min_relative_area > max_relative_area) return false;
  const float min_area = min_relative_area * image_width * image_height;
  const float max_area = max_relative_area * image_width * image_height;
  int height = round_float(std::sqrt(min_area / aspect));
  int max_height = round_float(std::sqrt(max_area / aspect));
  if (round_float(max_height * aspect) > image_width) {
    // The largest max_height with round(max_height * aspect) <= image_width.
    const float kEps = 0.0000001f;
    max_height = static_cast<int>((image_width + 0.5 - kEps) / aspect);
    if (round_float(max_height * aspect) > image_width) max_height -= 1;
  }
  max_height = std::min(max_height, image_height);
  height = std::min(height, max_height);
  if (height < max_height) height += static_cast<int>(rng.below(static_cast<uint64_t>(max_height - height + 1)));
  int width = round_float(height * aspect);
  // Rounding may leave the area just outside the range: one pixel taller, then one shorter.
  float area = static_cast<float>(width * height);
  if (area < min_area) {
    height += 1;
    width = round_float(height * aspect);
    area = static_cast<float>(width * height);
  }
  if (area > max_area) {
    height -= 1;
    width = round_float(height * aspect);
    area = static_cast<float>(width * height);
  }
  if (area < min_area || area > max_area || width > image_width || height > image_height || width <= 0 || height <= 0)
    return false;
  const int y = height < image_height ? static_cast<int>(rng.below(static_cast<uint64_t>(image_height - height))) : 0;
  const int x = width < image_width ? static_cast<int>(rng.below(static_cast<uint64_t>(image_width - width))) : 0;
  crop = {x, y, x + width, y + height};
  return true;
}

}  // namespace

PixelWindow sample_distorted_bounding_box(ImageSize image, std::span<const BoxAnnotation> boxes,
                                          const DistortedBoundingBoxOptions& o, Philox& rng) {
  TRAINER_CHECK(image.width > 0 && image.height > 0, "sample_distorted_bounding_box: empty image ", image.width, "x",
                image.height);
  TRAINER_CHECK(o.min_object_covered >= 0, "random crop: min_object_covered must be >= 0, got ", o.min_object_covered);
  TRAINER_CHECK(o.min_aspect_ratio > 0 && o.max_aspect_ratio > 0, "random crop: aspect ratio range [",
                o.min_aspect_ratio, ", ", o.max_aspect_ratio, "] must be positive");
  TRAINER_CHECK(o.min_area > 0 && o.max_area > 0 && o.min_area <= 1 && o.max_area <= 1, "random crop: area range [",
                o.min_area, ", ", o.max_area, "] must lie in (0, 1]");
  TRAINER_CHECK(o.max_attempts > 0, "random crop: max_attempts must be positive, got ", o.max_attempts);

  std::vector<Rect> pixel_boxes;
  for (const BoxAnnotation& b : boxes) {
    if (std::isnan(b.ymin) || std::isnan(b.xmin) || std::isnan(b.ymax) || std::isnan(b.xmax)) continue;
    auto clip = [](float v) { return std::min(std::max(v, 0.0f), 1.0f); };
    pixel_boxes.push_back({static_cast<int>(clip(b.xmin) * image.width), static_cast<int>(clip(b.ymin) * image.height),
                           static_cast<int>(clip(b.xmax) * image.width), static_cast<int>(clip(b.ymax) * image.height)});
  }
  const Rect whole{0, 0, image.width, image.height};
  if (pixel_boxes.empty()) pixel_boxes.push_back(whole);  // use_image_if_no_bounding_boxes=True

  Rect crop = whole;
  for (int attempt = 0; attempt < o.max_attempts; ++attempt) {
    const float aspect = rng.uniform() * (o.max_aspect_ratio - o.min_aspect_ratio) + o.min_aspect_ratio;
    Rect candidate;
    if (random_crop(image.width, image.height, o.min_area, o.max_area, aspect, rng, candidate) &&
        covers_enough(candidate, o.min_object_covered, pixel_boxes)) {
      crop = candidate;
      break;
    }
  }
  return {crop.min_x, crop.min_y, crop.max_x - crop.min_x, crop.max_y - crop.min_y};
}

}  // namespace trainer::data
