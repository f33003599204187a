// DLLogger-style JSON lines (contract: src/cli/README.md): one object per line,
//   {"type": "LOG"|"METRIC", "step": N or [], "data": {...}}
// Keys used outside the project: loss, lr, loss_scale, train.imgs_per_sec, infer.imgs_per_sec,
// infer.latency_ms.p50|p90|p99, parameters, top1, top5 and the 12 coco.* stats.
//
// The same records go to any sinks attached (TensorBoard's event files), so every consumer sees
// one stream of metrics; pictures (a few eval images with their predictions) go to the sinks only.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace trainer {

using MetricValue = std::variant<double, int64_t, std::string>;
using MetricMap = std::map<std::string, MetricValue>;

// A picture for a sink, encoded (PNG) with its size: RGB (channels 3) or gray (1).
struct EncodedImage {
  int height = 0, width = 0, channels = 0;
  std::vector<uint8_t> png;
};

// Another consumer of the log's records. `step`: a LOG record's step; for a METRIC record the
// training step its values describe (an evaluation: its checkpoint's), nullopt for a summary of
// the run (parameter count, benchmark means).
class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  virtual void log(int64_t step, const MetricMap& data) = 0;
  virtual void metric(std::optional<int64_t> step, const MetricMap& data) = 0;
  virtual void image(int64_t step, const std::string& tag, const EncodedImage& image) = 0;
};

class MetricsLog {
 public:
  MetricsLog() = default;
  explicit MetricsLog(const std::string& path);  // "" = no file
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void add_sink(std::unique_ptr<MetricsSink> sink) { sinks_.push_back(std::move(sink)); }

  // A training-time record at `step` ("LOG"), or a final/summary one ("METRIC", step []).
  // at_step: the training step a METRIC record's values describe (an evaluation's checkpoint);
  // the JSON line keeps step [] (DLLogger's summary form), the sinks get it.
  void log(int64_t step, const MetricMap& data);
  void metric(const MetricMap& data, std::optional<int64_t> at_step = std::nullopt);
  // To the sinks only: the JSON lines hold numbers.
  void image(int64_t step, const std::string& tag, const EncodedImage& image);
  bool enabled() const { return file_ != nullptr; }
  // Whether anything receives images (producing them costs a decode and a PNG encode each).
  bool has_sinks() const { return !sinks_.empty(); }

 private:
  void write(const char* type, std::optional<int64_t> step, const MetricMap& data);
  std::FILE* file_ = nullptr;
  std::vector<std::unique_ptr<MetricsSink>> sinks_;
};

}  // namespace trainer
