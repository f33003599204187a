// The training loss curve of a whole run, resumes included: model_dir/loss_history.csv
// (contract, src/train/README.md), a header line `step,loss,lr` followed by the names of the
// loss's terms if it has any (`step,loss,lr,classification,localization`), then one row per log
// step, each appended and flushed as it is logged. What loss.png is drawn from.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace trainer::train {

inline constexpr const char* kLossHistoryFile = "loss_history.csv";

class LossHistory {
 public:
  struct Row {
    int64_t step = 0;  // updates done when it was logged
    double loss = 0;   // the mean over the steps since the row before
    double lr = 0;
    std::vector<double> terms;  // the loss's terms, means like `loss`, in the header's order
  };
  struct Table {
    std::vector<std::string> term_names;
    std::vector<Row> rows;
  };

  // Continues the history at `path` from `step` (0: a fresh run): rows logged after it by a run
  // that stopped before its next checkpoint are dropped, so the curve has one row per step
  // logged by the run that got there. A file that cannot be read, or that names other terms,
  // is replaced, with a warning.
  LossHistory(std::string path, int64_t step, std::vector<std::string> term_names = {});
  ~LossHistory();
  LossHistory(const LossHistory&) = delete;
  LossHistory& operator=(const LossHistory&) = delete;

  void append(const Row& row);  // row.terms: one per term name

  // The rows of a history file; none when it does not exist. An Error naming path:line for a
  // header that does not start `step,loss,lr` or a row that does not have a number per column.
  static Table read(const std::string& path);

 private:
  std::string path_;
  std::vector<std::string> term_names_;
  std::FILE* file_ = nullptr;
  bool append_failed_ = false;  // warned once
};

}  // namespace trainer::train
