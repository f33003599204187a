// COCO's precision-recall curves as a picture: eval mode's pr_curves-<step>.png.
#pragma once

#include <string>
#include <vector>

#include "trainer/eval/coco_pr_curves.h"

namespace trainer::eval {

// Precision against recall, one line per IoU threshold, each labelled with its AP, written to
// `path` (PNG) under `title`. Thresholds without ground truth are listed as such and not drawn.
void write_pr_curves_plot(const std::vector<PrCurve>& curves, const std::string& title, const std::string& path);

}  // namespace trainer::eval
