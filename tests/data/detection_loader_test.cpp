// The loader with detection samples: annotations travel with their rows, and the determinism
// and resume guarantees hold for them as for the pixels.
#include <gtest/gtest.h>

#include <cstring>

#include "test_util.h"
#include "trainer/data/coco_json_dataset.h"
#include "trainer/data/detection_transform.h"
#include "trainer/data/loader.h"
#include "trainer/data/synthetic_dataset.h"

namespace trainer::data {
namespace {

std::shared_ptr<const Dataset> synthetic(int64_t size = 60) {
  SyntheticDetectionOptions o;
  o.size = size;
  o.height = 30;
  o.width = 40;
  o.num_classes = 90;
  o.max_boxes = 5;
  o.seed = 17;
  return std::make_shared<SyntheticDetectionDataset>(o);
}

std::shared_ptr<const DetectionTransform> ssd_transform(bool train) {
  DetectionTransformOptions o;
  o.train = train;
  o.height = 16;
  o.width = 20;
  RandomCropImageOptions crop;  // NVIDIA's SSD320 settings
  crop.min_object_covered = 0.0f;
  crop.min_aspect_ratio = 0.75f;
  crop.max_aspect_ratio = 3.0f;
  crop.min_area = 0.75f;
  crop.max_area = 1.0f;
  crop.overlap_thresh = 0.0f;
  o.augmentations = {RandomHorizontalFlipOptions{}, crop};
  return std::make_shared<const DetectionTransform>(o);
}

LoaderOptions options(int workers, int64_t batch = 4, LoaderMode mode = LoaderMode::kTrain) {
  LoaderOptions o;
  o.mode = mode;
  o.batch_size = batch;
  o.num_workers = workers;
  o.seed = 99;
  return o;
}

struct Snapshot {
  std::vector<uint8_t> images;
  std::vector<ImageAnnotations> annotations;
  std::vector<int64_t> indices;
  int64_t epoch, index;
  bool operator==(const Snapshot&) const = default;
};

Snapshot snap(const Batch& batch) {
  const auto* p = static_cast<const uint8_t*>(batch.images.raw());
  return {std::vector<uint8_t>(p, p + batch.images.nbytes()), batch.annotations, batch.indices, batch.epoch, batch.index};
}

std::vector<Snapshot> take(Loader& loader, int count) {
  std::vector<Snapshot> out;
  for (int i = 0; i < count; ++i) out.push_back(snap(*loader.next()));
  return out;
}

TEST(DetectionLoader, RowsCarryTheirAugmentedAnnotations) {
  auto data = synthetic();
  auto transform = ssd_transform(true);
  Loader loader(data, transform, options(2));
  const Batch batch = *loader.next();
  EXPECT_EQ(batch.images.shape(), (Shape{4, 16, 20, 3}));
  ASSERT_EQ(batch.annotations.size(), 4u);
  int boxes = 0;
  for (int i = 0; i < 4; ++i) {
    const int64_t index = batch.indices[i];
    EXPECT_EQ(batch.labels.data<int32_t>()[i], -1);
    // Replaying the documented random stream reproduces the row and its annotations.
    Philox rng(99, mix_stream({0xa06u, 0, static_cast<uint64_t>(index), 0}));
    std::vector<float> expected(16 * 20 * 3);
    ImageAnnotations annotations;
    transform->apply(data->read(index), rng, DType::F32, expected.data(), &annotations);
    EXPECT_EQ(0, std::memcmp(expected.data(), batch.images.data<float>() + i * 960, 960 * sizeof(float))) << i;
    EXPECT_EQ(batch.annotations[i], annotations) << i;
    EXPECT_EQ(annotations.image_id, index);  // the synthetic image ids are the indices
    EXPECT_EQ(annotations.original_height, 30);
    boxes += static_cast<int>(annotations.boxes.size());
  }
  EXPECT_GT(boxes, 0);
}

TEST(DetectionLoader, SameBatchesWhateverTheWorkerCountAndAfterAResume) {
  auto data = synthetic();
  std::vector<Snapshot> reference;
  LoaderCursor saved;
  {
    Loader loader(data, ssd_transform(true), options(1));  // 15 batches per epoch
    for (int b = 0; b < 36; ++b) {
      if (b == 20) saved = loader.cursor();
      reference.push_back(snap(*loader.next()));
    }
  }
  EXPECT_EQ(saved, (LoaderCursor{1, 5}));
  Loader two(data, ssd_transform(true), options(2));
  const auto batches = take(two, 36);
  for (int b = 0; b < 36; ++b) ASSERT_TRUE(batches[b] == reference[b]) << "batch " << b;
  Loader resumed(data, ssd_transform(true), options(3), saved);
  for (int b = 20; b < 36; ++b) ASSERT_TRUE(snap(*resumed.next()) == reference[b]) << "resumed batch " << b;
}

// A detection dataset where some samples cannot be read.
class PartlyBrokenDataset : public Dataset {
 public:
  explicit PartlyBrokenDataset(std::shared_ptr<const Dataset> inner) : inner_(std::move(inner)) {}
  int64_t size() const override { return inner_->size(); }
  int64_t num_classes() const override { return inner_->num_classes(); }
  std::string describe() const override { return "partly broken " + inner_->describe(); }
  Sample read(int64_t index) const override {
    if (index % 5 == 2) fail_sample("broken#", index, ": truncated");
    return inner_->read(index);
  }

 private:
  std::shared_ptr<const Dataset> inner_;
};

TEST(DetectionLoader, EvalLeavesOutUnusableSamplesWithTheirAnnotations) {
  auto data = std::make_shared<PartlyBrokenDataset>(synthetic(10));
  LoaderOptions o = options(2, 4, LoaderMode::kEval);
  o.max_bad_fraction = 0.5;
  Loader loader(data, ssd_transform(false), o);
  std::vector<int64_t> seen;
  while (auto batch = loader.next()) {
    ASSERT_EQ(batch->annotations.size(), batch->indices.size());
    ASSERT_EQ(batch->images.shape()[0], static_cast<int64_t>(batch->indices.size()));
    for (size_t i = 0; i < batch->indices.size(); ++i) {
      seen.push_back(batch->indices[i]);
      // Eval: no augmentation, so the boxes are the dataset's.
      EXPECT_EQ(batch->annotations[i].image_id, batch->indices[i]);
      EXPECT_EQ(batch->annotations[i].boxes, data->read(batch->indices[i]).annotations.boxes);
    }
  }
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 3, 4, 5, 6, 8, 9}));
  EXPECT_EQ(loader.stats().bad_samples, 2);
}

TEST(DetectionLoader, RealCocoImagesOneAndTwoWorkersAgree) {
  CocoJsonDatasetOptions co;
  co.num_classes = 90;
  auto coco = std::make_shared<CocoJsonDetectionDataset>(
      testing::source_dir() + "/tests/eval/data/instances_val2017_mini.json", testing::source_dir() + "/tests/data/fixtures", co);
  auto transform = ssd_transform(true);
  Loader one(coco, transform, options(1, 2)), two(coco, transform, options(2, 2));
  for (int b = 0; b < 4; ++b) {
    const Snapshot a = snap(*one.next()), c = snap(*two.next());
    ASSERT_TRUE(a == c) << b;
    for (const auto& annotations : a.annotations) {
      EXPECT_GT(annotations.image_id, 0);
      EXPECT_GT(annotations.original_width, 0);
    }
  }
}

TEST(DetectionLoader, ClassificationRowsHaveEmptyAnnotations) {
  SyntheticOptions o;
  o.size = 8;
  o.height = o.width = 12;
  o.num_classes = 3;
  auto data = std::make_shared<SyntheticDataset>(o);
  TransformOptions t;
  t.height = t.width = 8;
  Loader loader(data, std::make_shared<const ImageTransform>(t), options(1, 4));
  const Batch batch = *loader.next();
  ASSERT_EQ(batch.annotations.size(), 4u);
  for (const auto& a : batch.annotations) {
    EXPECT_TRUE(a.boxes.empty());
    EXPECT_EQ(a.image_id, -1);
    EXPECT_EQ(a.original_height, 12);
  }
}

}  // namespace
}  // namespace trainer::data
