// COCOeval for iouType 'bbox', exactly as pycocotools 2.0.11 computes it (src/eval/README.md):
// evaluate + accumulate fused into one parallel pass, then summarize's 12 statistics
// with NumPy's summation order. Every floating-point operation is done in the reference order
// (this library is compiled with -ffp-contract=off), so results are bit-identical.
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <span>
#include <string>
#include <vector>

#include "trainer/eval/coco.h"

namespace trainer::eval {

// pycocotools' Params for bbox. Defaults via CocoEvalParams::defaults(gt).
struct CocoEvalParams {
  std::vector<int64_t> img_ids;  // evaluated images (sorted and deduplicated by evaluate)
  std::vector<int64_t> cat_ids;  // evaluated categories (sorted and deduplicated with use_cats)
  std::vector<double> iou_thrs;  // np.linspace(.5, .95, 10)
  std::vector<double> rec_thrs;  // np.linspace(0, 1, 101)
  std::vector<int> max_dets;     // {1, 10, 100}; sorted by evaluate
  std::vector<std::array<double, 2>> area_rng;  // inclusive [lo, hi] on the GT `area` field
  std::vector<std::string> area_rng_lbl;        // {"all", "small", "medium", "large"}
  bool use_cats = true;  // false: all categories of an image are pooled (proposal recall)

  // Params('bbox') with imgIds = sorted(gt.getImgIds()), catIds = sorted(gt.getCatIds()).
  static CocoEvalParams defaults(const CocoDataset& gt);
};

// np.linspace(start, stop, num): element i is i * step + start, the last one exactly stop.
std::vector<double> numpy_linspace(double start, double stop, int num);

// What accumulate() produces (pycocotools' self.eval), arrays in C order:
//   precision, scores: [T][R][K][A][M]; recall: [T][K][A][M]
// with T = iou_thrs, R = rec_thrs, K = categories (1 when !use_cats), A = area ranges,
// M = max_dets. -1 marks "no ground truth to evaluate" (pycocotools' sentinel).
struct CocoEvalResult {
  CocoEvalParams params;  // as evaluated: ids sorted and unique, max_dets sorted
  int T = 0, R = 0, K = 0, A = 0, M = 0;
  std::vector<double> precision;
  std::vector<double> recall;
  std::vector<double> scores;

  double precision_at(int t, int r, int k, int a, int m) const {
    return precision[(((size_t(t) * R + r) * K + k) * A + a) * M + m];
  }
  double scores_at(int t, int r, int k, int a, int m) const {
    return scores[(((size_t(t) * R + r) * K + k) * A + a) * M + m];
  }
  double recall_at(int t, int k, int a, int m) const {
    return recall[((size_t(t) * K + k) * A + a) * M + m];
  }
};

// Evaluates a results dataset (CocoDataset::load_res) against the ground truth: pycocotools'
// evaluate() followed by accumulate(). Parallel over (image, category) cells and then over
// categories with OpenMP; the result does not depend on the thread count.
CocoEvalResult evaluate(const CocoDataset& gt, const CocoDataset& dt, const CocoEvalParams& params);

// In-process entry point for the trainer: loadRes + evaluate + accumulate with default params.
CocoEvalResult evaluate_detections(const CocoDataset& gt, std::span<const Detection> detections);

// How NumPy sums in np.mean, the one place where pycocotools' numbers depend on the NumPy
// version (src/eval/README.md, "NumPy's summation order"): NumPy < 2.3 adds pairwise sums of
// 8192-element chunks, NumPy >= 2.3 sums the whole array pairwise.
enum class NumpySum { Pairwise, Chunked8192 };

// np.add.reduce of a contiguous float64 array, bit for bit.
double numpy_sum(std::span<const double> values, NumpySum mode);

struct CocoSummary {
  std::array<double, 12> stats{};  // AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl
  std::string text;                // the 12 lines summarize() prints, each ending in '\n'
};

// pycocotools' summarize() for bbox. Needs at least 3 max_dets (pycocotools indexes
// maxDets[2]); stat 0 always uses maxDets == 100 and is -1 without it, as in pycocotools.
CocoSummary summarize(const CocoEvalResult& result, NumpySum mode = NumpySum::Pairwise);

// The 12 stats as JSON: {"stats": [...]} with every number in shortest round-trip form.
std::string stats_json(const std::array<double, 12>& stats);

// The keys of the 12 stats in the JSON log (src/cli/README.md): "coco.AP", ..., "coco.ARl".
extern const std::array<const char*, 12> kCocoStatNames;

}  // namespace trainer::eval
