// SSD target assignment (models/detectors/target_assigner.h) on boxes worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "trainer/models/detectors/target_assigner.h"

namespace trainer::models {
namespace {

struct Result {
  std::vector<float> cls_targets, cls_weights, reg_targets, reg_weights;
  std::vector<int32_t> matches;
  int64_t positives = 0;
};

Result assign(const std::vector<float>& anchors, const std::vector<float>& boxes, const std::vector<int32_t>& labels,
              const std::vector<uint8_t>& crowd, int64_t k, const TargetAssignerOptions& o = {}) {
  const int64_t a = static_cast<int64_t>(anchors.size()) / 4;
  Result r;
  r.cls_targets.assign(a * (k + 1), -7.f);  // every element must be written
  r.cls_weights.assign(a, -7.f);
  r.reg_targets.assign(a * 4, -7.f);
  r.reg_weights.assign(a, -7.f);
  r.matches.assign(a, 99);
  ImageGroundTruth gt{boxes.data(), labels.data(), crowd.empty() ? nullptr : crowd.data(),
                      static_cast<int64_t>(labels.size())};
  r.positives = assign_targets(anchors.data(), a, gt, k, o,
                               {r.cls_targets.data(), r.cls_weights.data(), r.reg_targets.data(),
                                r.reg_weights.data(), r.matches.data()});
  return r;
}

// Anchors: top-left quarter, bottom-right quarter, top-right quarter.
const std::vector<float> kAnchors = {0, 0, 0.5f, 0.5f, 0.5f, 0.5f, 1, 1, 0, 0.5f, 0.5f, 1};

TEST(TargetAssigner, PositiveNegativeAndCrowd) {
  // Box 0 (label 2) is anchor 0 exactly; box 1 (label 1, crowd) is anchor 1 exactly but is
  // dropped from matching, so anchor 1 is a negative like anchor 2.
  const Result r = assign(kAnchors, {0, 0, 0.5f, 0.5f, 0.5f, 0.5f, 1, 1}, {2, 1}, {0, 1}, 3);
  EXPECT_EQ(r.positives, 1);
  EXPECT_EQ(r.matches, (std::vector<int32_t>{0, kUnmatched, kUnmatched}));
  // K + 1 = 4 slots, background first and always 0; label 2 -> slot 2.
  EXPECT_EQ(r.cls_targets, (std::vector<float>{0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(r.cls_weights, (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(r.reg_weights, (std::vector<float>{1, 0, 0}));
  // A box equal to its anchor encodes to zeros; unmatched anchors get zeros too.
  for (float v : r.reg_targets) EXPECT_NEAR(v, 0.f, 1e-6);
}

TEST(TargetAssigner, RegressionTargetIsTheEncodedMatchedBox) {
  // Box [0, 0, 0.4, 0.5] against anchor 0 [0, 0, 0.5, 0.5]: IoU 0.8.
  // Centres (0.2, 0.25) vs (0.25, 0.25): ty = -0.05 / 0.5 * 10 = -1, tx = 0,
  // th = 5 ln(0.4 / 0.5) = -1.1157178, tw = 0.
  const Result r = assign(kAnchors, {0, 0, 0.4f, 0.5f}, {3}, {}, 3);
  EXPECT_EQ(r.matches, (std::vector<int32_t>{0, kUnmatched, kUnmatched}));
  EXPECT_NEAR(r.reg_targets[0], -1.0, 1e-5);
  EXPECT_NEAR(r.reg_targets[1], 0.0, 1e-5);
  EXPECT_NEAR(r.reg_targets[2], 5 * std::log(0.8), 1e-5);
  EXPECT_NEAR(r.reg_targets[3], 0.0, 1e-5);
  EXPECT_EQ(r.cls_targets[3], 1.f);
}

TEST(TargetAssigner, CrowdNeverForcesAMatch) {
  // Only a crowd box: no rows are left, every anchor is a negative.
  const Result r = assign(kAnchors, {0.1f, 0.1f, 0.2f, 0.2f}, {1}, {1}, 2);
  EXPECT_EQ(r.positives, 0);
  EXPECT_EQ(r.matches, (std::vector<int32_t>{kUnmatched, kUnmatched, kUnmatched}));
  // The same box, not crowd: IoU 0.04 with anchor 0, but force-matched.
  const Result f = assign(kAnchors, {0.1f, 0.1f, 0.2f, 0.2f}, {1}, {0}, 2);
  EXPECT_EQ(f.matches, (std::vector<int32_t>{0, kUnmatched, kUnmatched}));
}

TEST(TargetAssigner, MatchesIndexTheCallersBoxes) {
  // Crowd box first: the real box is index 1 in the caller's list.
  const Result r = assign(kAnchors, {0.5f, 0.5f, 1, 1, 0, 0.5f, 0.5f, 1}, {1, 2}, {1, 0}, 2);
  EXPECT_EQ(r.matches, (std::vector<int32_t>{kUnmatched, kUnmatched, 1}));
  EXPECT_EQ(r.cls_targets[2 * 3 + 2], 1.f);
}

TEST(TargetAssigner, IgnoredAnchorsWeighNothing) {
  // Box [0, 0, 0.5, 0.3] vs anchor 0: IoU 0.6 (positive); vs anchor 2 [0, 0.5, 0.5, 1]: 0.
  // A second box [0.5, 0.5, 0.75, 0.95] inside anchor 1: IoU 0.1125 / 0.25 = 0.45 -> ignored
  // with unmatched 0.4 (forcing would make it positive; it is off here).
  TargetAssignerOptions o;
  o.matcher.unmatched_threshold = 0.4f;
  o.matcher.force_match_for_each_row = false;
  o.negative_class_weight = 0.5f;
  const Result r = assign(kAnchors, {0, 0, 0.5f, 0.3f, 0.5f, 0.5f, 0.75f, 0.95f}, {1, 2}, {}, 2, o);
  EXPECT_EQ(r.matches, (std::vector<int32_t>{0, kIgnored, kUnmatched}));
  EXPECT_EQ(r.cls_weights, (std::vector<float>{1, 0, 0.5f}));
  EXPECT_EQ(r.reg_weights, (std::vector<float>{1, 0, 0}));
  EXPECT_EQ(r.positives, 1);
}

TEST(TargetAssigner, NoBoxes) {
  const Result r = assign(kAnchors, {}, {}, {}, 5);
  EXPECT_EQ(r.positives, 0);
  for (float v : r.cls_targets) EXPECT_EQ(v, 0.f);
  EXPECT_EQ(r.cls_weights, (std::vector<float>{1, 1, 1}));
  for (float v : r.reg_targets) EXPECT_EQ(v, 0.f);
}

TEST(TargetAssigner, RejectsLabelsOutsideOneToK) {
  EXPECT_THROW(assign(kAnchors, {0, 0, 0.5f, 0.5f}, {0}, {}, 3), Error);
  EXPECT_THROW(assign(kAnchors, {0, 0, 0.5f, 0.5f}, {4}, {}, 3), Error);
}

TEST(TargetAssigner, BatchStacksImagesAndCountsPositives) {
  const Tensor anchors = Tensor::from_floats({3, 4}, kAnchors);
  const std::vector<float> boxes0 = {0, 0, 0.5f, 0.5f, 0.5f, 0.5f, 1, 1};
  const std::vector<int32_t> labels0 = {1, 2};
  const std::vector<float> boxes2 = {0, 0.5f, 0.5f, 1};
  const std::vector<int32_t> labels2 = {2};
  const std::vector<ImageGroundTruth> images = {
      {boxes0.data(), labels0.data(), nullptr, 2}, {}, {boxes2.data(), labels2.data(), nullptr, 1}};
  const BatchTargets t = assign_targets_batch(anchors, images, 2, {});
  EXPECT_EQ(t.cls_targets.shape(), (Shape{3, 3, 3}));
  EXPECT_EQ(t.reg_targets.shape(), (Shape{3, 3, 4}));
  EXPECT_EQ(t.num_positives, 3);
  const std::vector<int32_t> m(t.matches.data<int32_t>(), t.matches.data<int32_t>() + 9);
  EXPECT_EQ(m, (std::vector<int32_t>{0, 1, -1, -1, -1, -1, -1, -1, 0}));
  // An error names the image.
  const std::vector<int32_t> bad = {7};
  try {
    assign_targets_batch(anchors, {{}, {boxes2.data(), bad.data(), nullptr, 1}}, 2, {});
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("image 1 of the batch: assign_targets: ground-truth box 0 has label 7"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace trainer::models
