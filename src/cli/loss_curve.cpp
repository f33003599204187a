#include "trainer/cli/loss_curve.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "trainer/core/error.h"
#include "trainer/core/log.h"
#include "trainer/eval/line_plot.h"
#include "trainer/train/loss_history.h"

namespace trainer::cli {

std::optional<std::string> write_loss_curve(const std::string& model_dir) {
  if (model_dir.empty()) return std::nullopt;
  const std::filesystem::path dir(model_dir);
  const std::string history = (dir / train::kLossHistoryFile).string();
  const std::string path = (dir / kLossCurveFile).string();
  try {
    const train::LossHistory::Table history_table = train::LossHistory::read(history);
    const std::vector<train::LossHistory::Row>& rows = history_table.rows;
    if (rows.empty()) return std::nullopt;
    // The total, then each term of it (when the task's loss has named terms).
    std::vector<eval::PlotSeries> series(1 + history_table.term_names.size());
    series[0].label = history_table.term_names.empty() ? "loss" : "total";
    for (size_t i = 0; i < history_table.term_names.size(); ++i) series[i + 1].label = history_table.term_names[i];
    double lowest = INFINITY, highest = 0;
    for (const train::LossHistory::Row& row : rows)
      for (size_t i = 0; i < series.size(); ++i) {
        const double v = i == 0 ? row.loss : row.terms[i - 1];
        series[i].x.push_back(static_cast<double>(row.step));
        series[i].y.push_back(v);
        if (std::isfinite(v)) lowest = std::min(lowest, v), highest = std::max(highest, v);
      }
    eval::LinePlot plot;
    plot.title = "training loss, steps " + std::to_string(rows.front().step) + " to " + std::to_string(rows.back().step);
    plot.x_label = "step";
    plot.y_label = "loss";
    // A loss that falls by an order of magnitude or more reads better on a log scale: the early
    // steps would flatten the rest of the curve.
    plot.log_y = lowest > 0 && highest >= 10 * lowest;
    if (plot.log_y) plot.y_label = "loss (log scale)";
    plot.series = std::move(series);
    eval::write_line_plot(plot, path);
    return path;
  } catch (const Error& e) {
    log_warn("no loss curve: ", e.what());
    return std::nullopt;
  }
}

}  // namespace trainer::cli
