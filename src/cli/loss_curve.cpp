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
    const std::vector<train::LossHistory::Row> rows = train::LossHistory::read(history);
    if (rows.empty()) return std::nullopt;
    eval::PlotSeries loss{"loss", {}, {}};
    double lowest = INFINITY, highest = 0;
    for (const train::LossHistory::Row& row : rows) {
      loss.x.push_back(static_cast<double>(row.step));
      loss.y.push_back(row.loss);
      if (std::isfinite(row.loss)) lowest = std::min(lowest, row.loss), highest = std::max(highest, row.loss);
    }
    eval::LinePlot plot;
    plot.title = "training loss, steps " + std::to_string(rows.front().step) + " to " + std::to_string(rows.back().step);
    plot.x_label = "step";
    plot.y_label = "loss";
    // A loss that falls by an order of magnitude or more reads better on a log scale: the early
    // steps would flatten the rest of the curve.
    plot.log_y = lowest > 0 && highest >= 10 * lowest;
    if (plot.log_y) plot.y_label = "loss (log scale)";
    plot.series.push_back(std::move(loss));
    eval::write_line_plot(plot, path);
    return path;
  } catch (const Error& e) {
    log_warn("no loss curve: ", e.what());
    return std::nullopt;
  }
}

}  // namespace trainer::cli
