#include "trainer/data/synthetic_dataset.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "trainer/core/random.h"

namespace trainer::data {

SyntheticDataset::SyntheticDataset(SyntheticOptions options) : options_(options) {
  TRAINER_CHECK(options_.size > 0 && options_.num_classes > 0, "synthetic dataset: size (", options_.size,
                ") and num_classes (", options_.num_classes, ") must be positive");
  TRAINER_CHECK(options_.height > 0 && options_.width > 0 && (options_.channels == 1 || options_.channels == 3),
                "synthetic dataset: bad image shape ", options_.height, "x", options_.width, "x", options_.channels);
}

std::string SyntheticDataset::describe() const {
  return str("synthetic (", size(), " images of ", options_.height, "x", options_.width, "x", options_.channels, ", ",
             num_classes(), " classes, seed ", options_.seed, ")");
}

Sample SyntheticDataset::read(int64_t index) const {
  TRAINER_CHECK(index >= 0 && index < size(), "synthetic dataset: index ", index, " out of range [0, ", size(), ")");
  Philox rng(options_.seed, mix_stream({0x5e7a11u, static_cast<uint64_t>(index)}));
  Sample sample;
  sample.name = str("synthetic#", index);
  sample.label = static_cast<int64_t>(rng.below(static_cast<uint64_t>(options_.num_classes)));
  sample.image = Image(options_.height, options_.width, options_.channels);
  // Pixels from SplitMix64 seeded by Philox: eight bytes per step keeps "no decode cost" true
  // for 224x224 images, where ten Philox rounds per four words would show up in benchmarks.
  uint64_t state = rng.next_u64();
  auto& pixels = sample.image.pixels;
  for (size_t i = 0; i < pixels.size(); i += 8) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    std::memcpy(pixels.data() + i, &z, std::min<size_t>(8, pixels.size() - i));
  }
  return sample;
}

namespace {

SyntheticOptions pixel_options(const SyntheticDetectionOptions& o) {
  TRAINER_CHECK(o.size > 0 && o.num_classes > 0 && o.max_boxes >= 0, "synthetic detection dataset: size (", o.size,
                ") and num_classes (", o.num_classes, ") must be positive and max_boxes (", o.max_boxes, ") >= 0");
  SyntheticOptions p;
  p.size = o.size;
  p.height = o.height;
  p.width = o.width;
  p.channels = 3;
  p.num_classes = 1;
  p.seed = o.seed;
  return p;
}

// An interval [lo, hi) inside [0, 1) at least `min_extent` long.
std::pair<float, float> random_interval(Philox& rng, float min_extent) {
  const float a = rng.uniform(), b = rng.uniform();
  float lo = std::min(a, b), hi = std::max(a, b);
  if (hi - lo < min_extent) {
    lo = std::min(lo, 1.0f - min_extent);
    hi = lo + min_extent;
  }
  return {lo, hi};
}

}  // namespace

SyntheticDetectionDataset::SyntheticDetectionDataset(SyntheticDetectionOptions options)
    : options_(options), pixels_(pixel_options(options)) {}

std::string SyntheticDetectionDataset::describe() const {
  return str("synthetic detection (", size(), " images of ", options_.height, "x", options_.width, ", up to ",
             options_.max_boxes, " boxes of ", num_classes(), " classes, seed ", options_.seed, ")");
}

Sample SyntheticDetectionDataset::read(int64_t index) const {
  Sample sample = pixels_.read(index);
  sample.name = str("synthetic-detection#", index);
  sample.label = -1;
  // The objects draw from their own stream, so the pixels stay those of SyntheticDataset.
  Philox rng(options_.seed, mix_stream({0xb0e5u, static_cast<uint64_t>(index)}));
  ImageAnnotations& a = sample.annotations;
  a.image_id = index;
  a.original_height = options_.height;
  a.original_width = options_.width;
  const int count = static_cast<int>(rng.below(static_cast<uint64_t>(options_.max_boxes) + 1));
  for (int i = 0; i < count; ++i) {
    const auto [ymin, ymax] = random_interval(rng, 0.02f);
    const auto [xmin, xmax] = random_interval(rng, 0.02f);
    BoxAnnotation box{ymin, xmin, ymax, xmax, static_cast<int32_t>(1 + rng.below(static_cast<uint64_t>(options_.num_classes))),
                      false, 0};
    box.area = (ymax - ymin) * options_.height * (xmax - xmin) * options_.width;
    a.boxes.push_back(box);
  }
  return sample;
}

}  // namespace trainer::data
