#include "trainer/eval/coco_pr_curves.h"

#include <algorithm>

#include "trainer/core/error.h"

namespace trainer::eval {

std::vector<PrCurve> coco_pr_curves(const CocoEvalResult& res, const std::string& area, int max_dets) {
  const CocoEvalParams& p = res.params;
  const auto a_it = std::find(p.area_rng_lbl.begin(), p.area_rng_lbl.end(), area);
  TRAINER_CHECK(a_it != p.area_rng_lbl.end(), "precision-recall curves: no area range '", area,
                "' in the evaluation");
  const auto m_it = std::find(p.max_dets.begin(), p.max_dets.end(), max_dets);
  TRAINER_CHECK(m_it != p.max_dets.end(), "precision-recall curves: maxDets ", max_dets,
                " was not evaluated");
  const int a = static_cast<int>(a_it - p.area_rng_lbl.begin());
  const int m = static_cast<int>(m_it - p.max_dets.begin());

  // A category has ground truth in this range for every threshold and recall point or for none
  // (accumulate skips it whole), so the same categories count at every point.
  std::vector<int> with_gt;
  for (int k = 0; k < res.K; ++k)
    if (res.T > 0 && res.R > 0 && res.precision_at(0, 0, k, a, m) > -1) with_gt.push_back(k);

  std::vector<PrCurve> curves(res.T);
  std::vector<double> points;  // precision[t, :, :, a, m] > -1 in C order: what summarize averages
  for (int t = 0; t < res.T; ++t) {
    PrCurve& c = curves[t];
    c.iou_threshold = p.iou_thrs[t];
    if (with_gt.empty()) continue;
    points.clear();
    for (int r = 0; r < res.R; ++r) {
      double sum = 0;
      for (int k : with_gt) {
        const double v = res.precision_at(t, r, k, a, m);
        sum += v;
        points.push_back(v);
      }
      c.recall.push_back(p.rec_thrs[r]);
      c.precision.push_back(sum / static_cast<double>(with_gt.size()));
    }
    c.ap = numpy_sum(points, NumpySum::Pairwise) / static_cast<double>(points.size());
  }
  return curves;
}

}  // namespace trainer::eval
