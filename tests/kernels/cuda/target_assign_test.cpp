// The CUDA argmax matcher and batch target assignment against the CPU versions
// (models::argmax_match, models::assign_targets_batch) on SSD-like anchors: a few hundred
// anchors on three grids with three shapes each, batches with several boxes per image, crowd
// boxes (also first and alone), images without boxes, duplicate boxes (first-row ties),
// boxes equal to anchors, two boxes forcing the same anchor (lowest row wins), a box that
// overlaps no anchor (forces anchor 0), a zero-area box, an image with more boxes than one
// shared-memory chunk; every matcher option combination; class targets with and without the
// background slot.
// Matches, class targets and weights must be identical; regression targets up to the GPU's
// logf (exact in the emulator).
#include "trainer/kernels/cuda/target_assign.h"

#include <gtest/gtest.h>

#include <random>

#include "device_test_util.h"
#include "trainer/core/error.h"
#include "trainer/core/tensor.h"
#include "trainer/models/detectors/argmax_matcher.h"
#include "trainer/models/detectors/target_assigner.h"

namespace trainer::cuda {
namespace {

using testing::all_close;
using testing::DeviceArray;

// Anchors on square grids, 3 aspect ratios at 1 or 2 scales, some reaching past the image.
// Small: 8x8, 5x5, 3x3 grids, one scale: 3 * (64 + 25 + 9) = 294 anchors (a partial
// 256-anchor tile). Large: 20x20, 10x10, 5x5, 3x3 grids, two scales: 6 * 534 = 3,204 anchors
// (13 tiles, and the per-row best anchor searched in 3 splits, merged in split order).
// SSD320: 40x40 ... 3x3 grids, two scales: 6 * 2,134 = 12,804 anchors, SSD320's count.
std::vector<float> ssd_like_anchors(bool large = false, bool ssd320 = false) {
  std::vector<float> a;
  const std::vector<int> grids = ssd320  ? std::vector<int>{40, 20, 10, 5, 3}
                                 : large ? std::vector<int>{20, 10, 5, 3}
                                         : std::vector<int>{8, 5, 3};
  for (const int g : grids)
    for (int y = 0; y < g; ++y)
      for (int x = 0; x < g; ++x)
        for (const float scale : {1.f, 1.4f}) {
          if (!large && !ssd320 && scale != 1.f) continue;
          for (const float aspect : {1.f, 2.f, 0.5f}) {
            const float cy = (y + 0.5f) / g, cx = (x + 0.5f) / g, s = 1.6f * scale / g;
            const float h = s / std::sqrt(aspect), w = s * std::sqrt(aspect);
            a.insert(a.end(), {cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2});
          }
        }
  return a;
}

struct Image {
  std::vector<float> boxes;
  std::vector<int32_t> labels;
  std::vector<uint8_t> crowd;
};

// A batch with every corner case named in the file comment; labels in 1..k.
std::vector<Image> ssd_like_batch(const std::vector<float>& anchors, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> pos(0.f, 0.9f), size(0.02f, 0.5f);
  std::uniform_int_distribution<int> label(1, static_cast<int>(k)), pick(0, 9);
  auto random_image = [&](int count) {
    Image im;
    for (int i = 0; i < count; ++i) {
      const float y = pos(rng), x = pos(rng);
      im.boxes.insert(im.boxes.end(), {y, x, std::min(1.f, y + size(rng)), std::min(1.f, x + size(rng))});
      im.labels.push_back(label(rng));
      im.crowd.push_back(pick(rng) == 0);
    }
    return im;
  };
  std::vector<Image> batch;
  batch.push_back(random_image(9));
  batch.push_back({});  // no boxes
  Image special = random_image(3);
  // A duplicate of box 0 (every IoU tied: the first row wins the columns; both force the same
  // anchor: the lower row wins), an anchor's exact box (IoU 1), a box outside all anchors (IoU
  // 0 everywhere: forces anchor 0) and a zero-area box.
  special.boxes.insert(special.boxes.end(), special.boxes.begin(), special.boxes.begin() + 4);
  special.boxes.insert(special.boxes.end(), anchors.begin() + 4 * 100, anchors.begin() + 4 * 101);
  special.boxes.insert(special.boxes.end(), {5.f, 5.f, 5.5f, 5.5f});
  special.boxes.insert(special.boxes.end(), {0.3f, 0.3f, 0.3f, 0.6f});
  for (int i = 0; i < 4; ++i) special.labels.push_back(label(rng)), special.crowd.push_back(0);
  special.crowd[0] = 0;
  batch.push_back(special);
  Image crowd_only = random_image(2);
  crowd_only.crowd = {1, 1};
  batch.push_back(crowd_only);
  Image crowd_first = random_image(6);
  crowd_first.crowd[0] = 1;
  crowd_first.crowd[2] = 1;
  batch.push_back(crowd_first);
  batch.push_back(random_image(40));
  batch.push_back(random_image(300));  // more boxes than one 256-row shared-memory chunk
  return batch;
}

std::vector<TargetAssignerOptions> option_variants() {
  std::vector<TargetAssignerOptions> v(1);  // SSD320: 0.5 / 0.5, negatives below, force
  TargetAssignerOptions o;
  o.matcher.unmatched_threshold = 0.4f;  // an ignored band
  o.negative_class_weight = 0.5f;
  v.push_back(o);
  o.matcher.force_match_for_each_row = false;
  v.push_back(o);
  o = {};
  o.matcher.negatives_lower_than_unmatched = false;  // negatives between the thresholds
  o.matcher.unmatched_threshold = 0.3f;
  o.matcher.matched_threshold = 0.6f;
  v.push_back(o);
  o = {};
  o.matcher.ignore_thresholds = true;  // every anchor matched to its best box
  o.box_coder = {0, 0, 0, 0};
  v.push_back(o);
  o = {};
  o.background_slot = false;  // EfficientDet: label l in slot l - 1 of num_classes slots
  v.push_back(o);
  o.matcher.unmatched_threshold = 0.4f;
  v.push_back(o);
  return v;
}

template <class T>
std::vector<T> tensor_values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

TEST(CudaTargetAssign, BatchMatchesTheCpu) {
  for (const uint32_t seed : {1u, 2u})
    for (const TargetAssignerOptions& o : option_variants()) {
      const std::vector<float> anchors = ssd_like_anchors(seed == 2);
      const int64_t a = static_cast<int64_t>(anchors.size()) / 4, k = 5;
      SCOPED_TRACE("anchors " + std::to_string(a) + " unmatched " + std::to_string(o.matcher.unmatched_threshold) +
                   " force " + std::to_string(o.matcher.force_match_for_each_row) + " ignore_thresholds " +
                   std::to_string(o.matcher.ignore_thresholds) + " background_slot " +
                   std::to_string(o.background_slot));
      const std::vector<Image> batch = ssd_like_batch(anchors, k, seed);
      const int64_t n = static_cast<int64_t>(batch.size()), slots = k + (o.background_slot ? 1 : 0);
      // CPU reference.
      std::vector<models::ImageGroundTruth> views;
      for (const Image& im : batch)
        views.push_back({im.boxes.data(), im.labels.data(), im.crowd.data(), static_cast<int64_t>(im.labels.size())});
      const models::BatchTargets want =
          models::assign_targets_batch(Tensor::from_floats({a, 4}, anchors), views, k, o);
      // Packed device ground truth.
      std::vector<float> boxes;
      std::vector<int32_t> labels;
      std::vector<uint8_t> crowd;
      std::vector<int64_t> offsets{0};
      for (const Image& im : batch) {
        boxes.insert(boxes.end(), im.boxes.begin(), im.boxes.end());
        labels.insert(labels.end(), im.labels.begin(), im.labels.end());
        crowd.insert(crowd.end(), im.crowd.begin(), im.crowd.end());
        offsets.push_back(static_cast<int64_t>(labels.size()));
      }
      const int64_t total = offsets.back();
      DeviceArray<float> d_anchors(anchors), d_boxes(boxes), cls_targets(n * a * slots), cls_weights(n * a),
          reg_targets(n * a * 4), reg_weights(n * a);
      DeviceArray<int32_t> d_labels(labels), matches(n * a), invalid(1);
      DeviceArray<uint8_t> d_crowd(crowd);
      DeviceArray<int64_t> d_offsets(offsets), positives(1);
      // Poison the outputs: every element must be written.
      cls_targets.upload(std::vector<float>(n * a * slots, -7.f));
      reg_targets.upload(std::vector<float>(n * a * 4, -7.f));
      assign_targets_batch(d_anchors.get(), a, {d_boxes.get(), d_labels.get(), d_crowd.get(), d_offsets.get(), n, total},
                           k, o,
                           {cls_targets.get(), cls_weights.get(), reg_targets.get(), reg_weights.get(), matches.get(),
                            positives.get(), invalid.get()},
                           nullptr);
      EXPECT_EQ(matches.download(), tensor_values<int32_t>(want.matches));
      EXPECT_EQ(positives.download()[0], want.num_positives);
      EXPECT_EQ(invalid.download()[0], 0);
      EXPECT_TRUE(all_close(cls_targets.download(), tensor_values<float>(want.cls_targets), 0, 0));
      EXPECT_TRUE(all_close(cls_weights.download(), tensor_values<float>(want.cls_weights), 0, 0));
      EXPECT_TRUE(all_close(reg_weights.download(), tensor_values<float>(want.reg_weights), 0, 0));
      // ty, tx exact; th, tw through logf (GPU: 1-2 ulp; emulator: the same libm, exact). The
      // zero-area box encodes to ~ -92: relative tolerance.
      EXPECT_TRUE(all_close(reg_targets.download(), tensor_values<float>(want.reg_targets), 1e-6, 5e-7));
      ASSERT_GT(want.num_positives, 10);  // the batch does exercise positives
    }
}

TEST(CudaTargetAssign, Ssd320SizedBatch) {
  // Two images of 60 boxes (a few crowd) against SSD320's 12,804 anchors (51 tiles, 12 splits),
  // 90 classes, the config's options.
  const std::vector<float> anchors = ssd_like_anchors(false, true);
  const int64_t a = static_cast<int64_t>(anchors.size()) / 4, k = 90, per_image = 60;
  ASSERT_EQ(a, 12804);
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> pos(0.f, 0.9f), size(0.01f, 0.6f);
  std::uniform_int_distribution<int> label(1, static_cast<int>(k)), pick(0, 19);
  std::vector<float> boxes;
  std::vector<int32_t> labels;
  std::vector<uint8_t> crowd;
  for (int64_t i = 0; i < 2 * per_image; ++i) {
    const float y = pos(rng), x = pos(rng);
    boxes.insert(boxes.end(), {y, x, std::min(1.f, y + size(rng)), std::min(1.f, x + size(rng))});
    labels.push_back(label(rng));
    crowd.push_back(pick(rng) == 0);
  }
  const std::vector<models::ImageGroundTruth> views = {{boxes.data(), labels.data(), crowd.data(), per_image},
                                                        {boxes.data() + 4 * per_image, labels.data() + per_image,
                                                         crowd.data() + per_image, per_image}};
  const models::BatchTargets want =
      models::assign_targets_batch(Tensor::from_floats({a, 4}, anchors), views, k, models::TargetAssignerOptions{});
  const std::vector<int64_t> offsets = {0, per_image, 2 * per_image};
  DeviceArray<float> d_anchors(anchors), d_boxes(boxes), cls_targets(2 * a * (k + 1)), cls_weights(2 * a),
      reg_targets(2 * a * 4), reg_weights(2 * a);
  DeviceArray<int32_t> d_labels(labels), matches(2 * a);
  DeviceArray<uint8_t> d_crowd(crowd);
  DeviceArray<int64_t> d_offsets(offsets), positives(1);
  assign_targets_batch(d_anchors.get(), a, {d_boxes.get(), d_labels.get(), d_crowd.get(), d_offsets.get(), 2,
                                            2 * per_image},
                       k, {},
                       {cls_targets.get(), cls_weights.get(), reg_targets.get(), reg_weights.get(), matches.get(),
                        positives.get(), nullptr},
                       nullptr);
  EXPECT_EQ(matches.download(), tensor_values<int32_t>(want.matches));
  EXPECT_EQ(positives.download()[0], want.num_positives);
  EXPECT_TRUE(all_close(cls_targets.download(), tensor_values<float>(want.cls_targets), 0, 0));
  EXPECT_TRUE(all_close(cls_weights.download(), tensor_values<float>(want.cls_weights), 0, 0));
  EXPECT_TRUE(all_close(reg_weights.download(), tensor_values<float>(want.reg_weights), 0, 0));
  EXPECT_TRUE(all_close(reg_targets.download(), tensor_values<float>(want.reg_targets), 1e-6, 5e-7));  // logf
}

TEST(CudaTargetAssign, CountsLabelsOutsideOneToK) {
  const std::vector<float> anchors = ssd_like_anchors();
  const int64_t a = static_cast<int64_t>(anchors.size()) / 4, k = 3;
  const std::vector<float> boxes = {0, 0, 0.5f, 0.5f, 0.5f, 0.5f, 1, 1, 0.2f, 0.2f, 0.4f, 0.4f};
  const std::vector<int32_t> labels = {0, 4, 2};  // two bad labels
  const std::vector<int64_t> offsets = {0, 3};
  DeviceArray<float> d_anchors(anchors), d_boxes(boxes), cls_targets(a * (k + 1)), cls_weights(a), reg_targets(a * 4),
      reg_weights(a);
  DeviceArray<int32_t> d_labels(labels), invalid(1);
  DeviceArray<int64_t> d_offsets(offsets), positives(1);
  assign_targets_batch(d_anchors.get(), a, {d_boxes.get(), d_labels.get(), nullptr, d_offsets.get(), 1, 3}, k, {},
                       {cls_targets.get(), cls_weights.get(), reg_targets.get(), reg_weights.get(), nullptr,
                        positives.get(), invalid.get()},
                       nullptr);
  EXPECT_EQ(invalid.download()[0], 2);
  // Positives of the bad boxes get no class slot: only label 2's anchors have a 1.
  const std::vector<float> cls = cls_targets.download();
  for (int64_t i = 0; i < a; ++i)
    for (int64_t j = 0; j < k + 1; ++j)
      if (cls[i * (k + 1) + j] != 0.f) {
        EXPECT_EQ(j, 2) << "anchor " << i;
      }
}

TEST(CudaTargetAssign, RejectsInvalidMatcherOptions) {
  TargetAssignerOptions o;
  o.matcher.unmatched_threshold = 0.7f;  // above matched
  DeviceArray<float> anchors(4);
  EXPECT_THROW(assign_targets_batch(anchors.get(), 1, {}, 2, o, {}, nullptr), Error);
  o.matcher.unmatched_threshold = 0.5f;
  o.matcher.negatives_lower_than_unmatched = false;  // equal thresholds, negatives between
  EXPECT_THROW(argmax_match(anchors.get(), 1, 1, o.matcher, nullptr, nullptr, nullptr), Error);
}

TEST(CudaArgmaxMatch, MatchesTheCpuWithTiesAndValidRows) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> level(0, 8), coin(0, 3);
  struct Size {
    int64_t rows, cols;
  };
  // Columns: one, a partial block, several blocks, more than one split (> 2 x 1024).
  for (const Size s : {Size{0, 10}, Size{1, 1}, Size{3, 300}, Size{17, 1100}, Size{40, 2500}})
    for (const TargetAssignerOptions& o : option_variants())
      for (const bool with_valid : {false, true}) {
        SCOPED_TRACE("rows " + std::to_string(s.rows) + " cols " + std::to_string(s.cols) + " valid " +
                     std::to_string(with_valid));
        // Similarities on a 1/8 grid: many ties within rows and columns; some all-zero rows.
        std::vector<float> sim(s.rows * s.cols);
        for (int64_t r = 0; r < s.rows; ++r)
          for (int64_t c = 0; c < s.cols; ++c) sim[r * s.cols + c] = r % 5 == 4 ? 0.f : level(rng) / 8.f;
        std::vector<uint8_t> valid(std::max<int64_t>(1, s.rows));
        for (auto& v : valid) v = coin(rng) != 0;
        std::vector<int32_t> want(s.cols);
        models::argmax_match(sim.data(), s.rows, s.cols, o.matcher, with_valid ? valid.data() : nullptr, want.data());
        std::vector<float> padded = sim;
        if (padded.empty()) padded.push_back(0.f);  // a valid allocation for rows = 0
        DeviceArray<float> d_sim(padded);
        DeviceArray<uint8_t> d_valid(valid);
        DeviceArray<int32_t> got(s.cols);
        argmax_match(d_sim.get(), s.rows, s.cols, o.matcher, with_valid ? d_valid.get() : nullptr, got.get(), nullptr);
        EXPECT_EQ(got.download(), want);
      }
}

}  // namespace
}  // namespace trainer::cuda
