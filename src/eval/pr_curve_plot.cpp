#include "trainer/eval/pr_curve_plot.h"

#include <cstdio>

#include "trainer/eval/line_plot.h"

namespace trainer::eval {

void write_pr_curves_plot(const std::vector<PrCurve>& curves, const std::string& title, const std::string& path) {
  LinePlot plot;
  plot.title = title;
  plot.x_label = "recall";
  plot.y_label = "precision";
  plot.x_min = plot.y_min = -0.02;
  plot.x_max = plot.y_max = 1.02;
  for (const PrCurve& c : curves) {
    char label[64];
    if (c.ap >= 0) std::snprintf(label, sizeof label, "IoU %.2f  AP %.3f", c.iou_threshold, c.ap);
    else std::snprintf(label, sizeof label, "IoU %.2f  no ground truth", c.iou_threshold);
    plot.series.push_back({label, c.recall, c.precision});
  }
  write_line_plot(plot, path);
}

}  // namespace trainer::eval
