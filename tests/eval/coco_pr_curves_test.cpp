// The precision-recall curves eval mode plots: hand-computed points on a small scene, and the
// same averages summarize() reports.
#include <gtest/gtest.h>

#include <numeric>

#include "trainer/core/error.h"
#include "trainer/eval/coco.h"
#include "trainer/eval/coco_pr_curves.h"

using namespace trainer::eval;

namespace {

CocoAnnotation gt_box(int64_t id, int64_t image, int64_t cat, BBox box) {
  return {.id = id, .image_id = image, .category_id = cat, .bbox = box, .area = box.w * box.h, .iscrowd = false};
}

// Two images, three categories. Category 1: two objects in image 1, found by an exact box
// (score .9), a miss elsewhere (.8) and a box with IoU 0.6 (.7). Category 2: one object, found
// exactly. Category 3 has no ground truth: pycocotools' -1, left out of every average.
struct Scene {
  CocoDataset gt;
  std::vector<Detection> dets;
};
Scene scene() {
  std::vector<CocoImage> images = {{.id = 1, .file_name = "", .width = 640, .height = 480},
                                   {.id = 2, .file_name = "", .width = 640, .height = 480}};
  std::vector<CocoCategory> cats;
  for (int c = 1; c <= 3; ++c) cats.push_back({.id = c, .name = "c" + std::to_string(c), .supercategory = ""});
  std::vector<CocoAnnotation> anns = {gt_box(1, 1, 1, {0, 0, 100, 100}), gt_box(2, 1, 1, {300, 200, 100, 100}),
                                      gt_box(3, 2, 2, {50, 50, 80, 120})};
  std::vector<Detection> dets = {{1, 1, {0, 0, 100, 100}, .9},
                                 {1, 1, {500, 10, 50, 50}, .8},
                                 {1, 1, {300, 200, 100, 60}, .7},  // IoU 0.6 with object 2
                                 {2, 2, {50, 50, 80, 120}, .95}};
  return {CocoDataset(std::move(images), std::move(cats), std::move(anns)), std::move(dets)};
}

double mean(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / v.size(); }

}  // namespace

TEST(CocoPrCurves, PointsAreThePrecisionAveragedOverCategoriesWithGroundTruth) {
  const Scene s = scene();
  const std::vector<PrCurve> curves = coco_pr_curves(evaluate_detections(s.gt, s.dets));
  ASSERT_EQ(curves.size(), 10u);
  EXPECT_EQ(curves[0].iou_threshold, 0.5);
  EXPECT_EQ(curves[9].iou_threshold, 0.95);
  for (const PrCurve& c : curves) {
    ASSERT_EQ(c.recall.size(), 101u);
    ASSERT_EQ(c.precision.size(), 101u);
    EXPECT_EQ(c.recall.front(), 0.0);
    EXPECT_EQ(c.recall.back(), 1.0);
  }
  // IoU 0.5: category 1 reaches recall 1/2 at precision 1 and recall 1 at precision 2/3;
  // category 2 has precision 1 throughout. Category 3 (no ground truth) would pull every point
  // towards -1 if it counted.
  for (int r = 0; r <= 50; ++r) EXPECT_DOUBLE_EQ(curves[0].precision[r], 1.0) << r;
  for (int r = 51; r <= 100; ++r) EXPECT_DOUBLE_EQ(curves[0].precision[r], (2.0 / 3 + 1) / 2) << r;
  // IoU 0.75: the 0.6 box is a false positive, so category 1 never gets past recall 1/2.
  for (int r = 0; r <= 50; ++r) EXPECT_DOUBLE_EQ(curves[5].precision[r], 1.0) << r;
  for (int r = 51; r <= 100; ++r) EXPECT_DOUBLE_EQ(curves[5].precision[r], 0.5) << r;
}

TEST(CocoPrCurves, ApIsWhatSummarizeReportsAndTheMeanOfTheCurve) {
  const Scene s = scene();
  const CocoEvalResult result = evaluate_detections(s.gt, s.dets);
  const CocoSummary summary = summarize(result);
  const std::vector<PrCurve> curves = coco_pr_curves(result);
  EXPECT_EQ(curves[0].ap, summary.stats[1]);  // AP50, bit for bit
  EXPECT_EQ(curves[5].ap, summary.stats[2]);  // AP75
  EXPECT_DOUBLE_EQ(curves[0].ap, (51 + 50 * (2.0 / 3 + 1) / 2) / 101);
  double sum_ap = 0;
  for (const PrCurve& c : curves) {
    EXPECT_NEAR(mean(c.precision), c.ap, 1e-12) << c.iou_threshold;
    sum_ap += c.ap;
  }
  EXPECT_NEAR(sum_ap / curves.size(), summary.stats[0], 1e-12);  // AP@[.5:.95]
}

TEST(CocoPrCurves, AreaRangesAndLimitsFollowTheEvaluation) {
  const Scene s = scene();
  const CocoEvalResult result = evaluate_detections(s.gt, s.dets);
  // Every object is 'large' (area > 96^2): no category has small ground truth.
  for (const PrCurve& c : coco_pr_curves(result, "small", 100)) {
    EXPECT_TRUE(c.precision.empty());
    EXPECT_EQ(c.ap, -1);
  }
  // Among large objects the medium-sized miss (50x50) is ignored: precision 1 at every recall.
  const std::vector<PrCurve> large = coco_pr_curves(result, "large", 100);
  for (double p : large[0].precision) EXPECT_DOUBLE_EQ(p, 1.0);  // tp / (tp + fp + eps), as pycocotools
  // One detection per image and category: category 1 keeps only its .9 box, recall 1/2.
  const std::vector<PrCurve> one = coco_pr_curves(result, "all", 1);
  for (int r = 0; r <= 50; ++r) EXPECT_DOUBLE_EQ(one[0].precision[r], 1.0) << r;
  for (int r = 51; r <= 100; ++r) EXPECT_DOUBLE_EQ(one[0].precision[r], 0.5) << r;
  EXPECT_THROW(coco_pr_curves(result, "huge", 100), trainer::Error);
  EXPECT_THROW(coco_pr_curves(result, "all", 7), trainer::Error);
}
