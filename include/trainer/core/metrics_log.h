// DLLogger-style JSON lines (contract: src/cli/README.md): one object per line,
//   {"type": "LOG"|"METRIC", "step": N or [], "data": {...}}
// Keys used outside the project: loss, lr, loss_scale, train.imgs_per_sec, infer.imgs_per_sec,
// infer.latency_ms.p50|p90|p99, parameters, top1, top5 and the 12 coco.* stats.
#pragma once

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <variant>

namespace trainer {

using MetricValue = std::variant<double, int64_t, std::string>;
using MetricMap = std::map<std::string, MetricValue>;

class MetricsLog {
 public:
  MetricsLog() = default;
  explicit MetricsLog(const std::string& path);  // "" = no file
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // A training-time record at `step` ("LOG"), or a final/summary one ("METRIC", step []).
  void log(int64_t step, const MetricMap& data) { write("LOG", step, data); }
  void metric(const MetricMap& data) { write("METRIC", std::nullopt, data); }
  bool enabled() const { return file_ != nullptr; }

 private:
  void write(const char* type, std::optional<int64_t> step, const MetricMap& data);
  std::FILE* file_ = nullptr;
};

}  // namespace trainer
