#include "trainer/core/metrics_log.h"

#include <cerrno>
#include <cmath>
#include <cstring>

#include "trainer/core/error.h"
#include "trainer/core/json_text.h"

namespace trainer {
namespace {

void append_value(std::string& out, const MetricValue& v) {
  if (const double* d = std::get_if<double>(&v)) {
    if (!std::isfinite(*d)) {  // JSON has no NaN/Infinity literals: say it as a string
      out += json_quoted(std::isnan(*d) ? "NaN" : (*d > 0 ? "Infinity" : "-Infinity"));
      return;
    }
    out += shortest_text(*d);
  } else if (const int64_t* i = std::get_if<int64_t>(&v)) {
    out += std::to_string(*i);
  } else {
    out += json_quoted(std::get<std::string>(v));
  }
}

}  // namespace

MetricsLog::MetricsLog(const std::string& path) {
  if (path.empty()) return;
  file_ = std::fopen(path.c_str(), "a");
  TRAINER_CHECK(file_ != nullptr, "cannot open --log-json file ", path, ": ", std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::log(int64_t step, const MetricMap& data) {
  write("LOG", step, data);
  for (const auto& sink : sinks_) sink->log(step, data);
}

void MetricsLog::metric(const MetricMap& data, std::optional<int64_t> at_step) {
  write("METRIC", std::nullopt, data);
  for (const auto& sink : sinks_) sink->metric(at_step, data);
}

void MetricsLog::image(int64_t step, const std::string& tag, const EncodedImage& image) {
  for (const auto& sink : sinks_) sink->image(step, tag, image);
}

void MetricsLog::write(const char* type, std::optional<int64_t> step, const MetricMap& data) {
  if (!file_) return;
  std::string line = "{\"type\": \"";
  line += type;
  line += "\", \"step\": ";
  line += step ? std::to_string(*step) : "[]";
  line += ", \"data\": {";
  bool first = true;
  for (const auto& [k, v] : data) {
    if (!first) line += ", ";
    first = false;
    line += json_quoted(k);
    line += ": ";
    append_value(line, v);
  }
  line += "}}\n";
  std::fputs(line.c_str(), file_);
  std::fflush(file_);  // a crash must not lose the lines before it
}

}  // namespace trainer
