// The precision-recall curves behind COCO's AP, one per IoU threshold, taken from what
// accumulate() produced: what eval mode plots (pr_curves-<step>.png, src/eval/README.md).
#pragma once

#include <string>
#include <vector>

#include "trainer/eval/coco_eval.h"

namespace trainer::eval {

struct PrCurve {
  double iou_threshold = 0;
  // Precision at each of params.rec_thrs, averaged over the categories that have ground truth
  // in the area range (pycocotools' -1 cells left out, as summarize() leaves them out). Empty
  // when no category has any.
  std::vector<double> recall, precision;
  // summarize()'s AP at this threshold, bit for bit (NumPy's pairwise summation over every
  // category's points); -1 when no category has ground truth.
  double ap = -1;
};

// One curve per IoU threshold for area range `area` and the `max_dets` limit ("all" and 100: the
// curves behind coco.AP, AP50 and AP75). An Error when `result` has no such area or limit.
std::vector<PrCurve> coco_pr_curves(const CocoEvalResult& result, const std::string& area = "all",
                                    int max_dets = 100);

}  // namespace trainer::eval
