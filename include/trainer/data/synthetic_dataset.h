// Deterministic random images and labels with no decoding cost, for benchmarks that measure
// the model rather than the JPEG decoder (NVIDIA's "synthetic data" runs).
#pragma once

#include "trainer/data/dataset.h"

namespace trainer::data {

struct SyntheticOptions {
  int64_t size = 1281167;  // ImageNet's training set, so epochs have a realistic length
  int height = 224, width = 224, channels = 3;
  int64_t num_classes = 1000;
  uint64_t seed = 0;
};

class SyntheticDataset : public Dataset {
 public:
  explicit SyntheticDataset(SyntheticOptions options);

  int64_t size() const override { return options_.size; }
  int64_t num_classes() const override { return options_.num_classes; }
  std::string describe() const override;
  // Sample i is a pure function of (seed, i).
  Sample read(int64_t index) const override;

 private:
  SyntheticOptions options_;
};

struct SyntheticDetectionOptions {
  int64_t size = 118287;  // COCO train2017's image count
  int height = 320, width = 320;
  int64_t num_classes = 90;
  int max_boxes = 8;  // each image holds 0..max_boxes objects
  uint64_t seed = 0;
};

// Deterministic random images with a few random objects (boxes at least 2 % of a side, labels
// in 1..num_classes), for detection benchmarks. Sample i is a pure function of (seed, i); its
// image id is i.
class SyntheticDetectionDataset : public Dataset {
 public:
  explicit SyntheticDetectionDataset(SyntheticDetectionOptions options);

  int64_t size() const override { return options_.size; }
  int64_t num_classes() const override { return options_.num_classes; }
  std::string describe() const override;
  Sample read(int64_t index) const override;

 private:
  SyntheticDetectionOptions options_;
  SyntheticDataset pixels_;
};

}  // namespace trainer::data
