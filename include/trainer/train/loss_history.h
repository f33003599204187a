// The training loss curve of a whole run, resumes included: model_dir/loss_history.csv
// (contract, src/train/README.md), a header line `step,loss,lr` and one row per log step, each
// appended and flushed as it is logged. What loss.png is drawn from.
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
  };

  // Continues the history at `path` from `step` (0: a fresh run): rows logged after it by a run
  // that stopped before its next checkpoint are dropped, so the curve has one row per step
  // logged by the run that got there. A file that cannot be read is replaced, with a warning.
  LossHistory(std::string path, int64_t step);
  ~LossHistory();
  LossHistory(const LossHistory&) = delete;
  LossHistory& operator=(const LossHistory&) = delete;

  void append(const Row& row);

  // The rows of a history file; none when it does not exist. An Error naming path:line for a
  // line that is not `step,loss,lr`.
  static std::vector<Row> read(const std::string& path);

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  bool append_failed_ = false;  // warned once
};

}  // namespace trainer::train
