// A small line-plot renderer (OpenCV underneath): series of (x, y) points drawn as anti-aliased
// lines on a white canvas with axes, ticks and numeric labels, axis titles, a title and a
// legend, written as a PNG. What eval mode's precision-recall curves and the training loss curve
// are drawn with; it knows nothing about what it plots.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace trainer::eval {

struct PlotSeries {
  std::string label;          // the legend's entry ("" = not in the legend)
  std::vector<double> x, y;   // same length; a non-finite point (or y <= 0 on a log axis) breaks the line
};

struct LinePlot {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;  // coloured in order from a ten-colour cycle
  // Axis ranges; unset: the data's range with a small margin.
  std::optional<double> x_min, x_max, y_min, y_max;
  bool log_y = false;  // y on a log10 scale (points with y <= 0 are left out)
  int width = 800, height = 600;
};

// Draws `plot` and writes it to `path` (PNG). An Error naming the path when the plot is
// malformed (x and y of different lengths, a canvas too small) or the file cannot be written.
void write_line_plot(const LinePlot& plot, const std::string& path);

}  // namespace trainer::eval
