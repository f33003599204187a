#include "trainer/cli/tensorboard_sink.h"

#include <filesystem>
#include <utility>
#include <vector>

#include "trainer/core/error.h"
#include "trainer/core/log.h"

namespace trainer::cli {
namespace {

std::vector<std::pair<std::string, float>> scalars_of(const MetricMap& data) {
  std::vector<std::pair<std::string, float>> out;
  for (const auto& [key, value] : data) {
    if (const double* d = std::get_if<double>(&value)) out.emplace_back(key, static_cast<float>(*d));
    else if (const int64_t* i = std::get_if<int64_t>(&value)) out.emplace_back(key, static_cast<float>(*i));
  }
  return out;
}

}  // namespace

data::EventsWriter& TensorBoardSink::writer(std::unique_ptr<data::EventsWriter>& w, const char* folder) {
  if (!w) {
    w = std::make_unique<data::EventsWriter>((std::filesystem::path(dir_) / folder).string());
    log_info("tensorboard: writing ", w->path());
  }
  return *w;
}

void TensorBoardSink::log(int64_t step, const MetricMap& data) {
  data::EventsWriter& w = writer(train_, "train");
  w.scalars(step, scalars_of(data));
  w.flush();  // once per log step: a live TensorBoard follows the run
}

void TensorBoardSink::metric(std::optional<int64_t> step, const MetricMap& data) {
  if (!step) return;
  data::EventsWriter& w = writer(eval_, "eval");
  w.scalars(*step, scalars_of(data));
  w.flush();
}

void TensorBoardSink::image(int64_t step, const std::string& tag, const EncodedImage& image) {
  data::EventsWriter& w = writer(eval_, "eval");
  w.image(step, tag, image);
  w.flush();
}

std::optional<std::string> tensorboard_dir(const config::RuntimeConfig& runtime) {
  if (!runtime.tensorboard_dir().empty()) return runtime.tensorboard_dir();
  if (!runtime.model_dir().empty()) return runtime.model_dir();
  return std::nullopt;
}

void attach_tensorboard(MetricsLog& log, const config::RuntimeConfig& runtime, bool is_root) {
  if (!is_root) return;
  const auto dir = tensorboard_dir(runtime);
  if (!dir) return;
  // Now rather than at the first record, which may come after a long evaluation.
  std::error_code ec;
  std::filesystem::create_directories(*dir, ec);
  TRAINER_CHECK(!ec, runtime.tensorboard_dir().empty() ? "runtime.model_dir" : "runtime.tensorboard_dir",
                ": cannot create ", *dir, " for TensorBoard's events files: ", ec.message());
  log.add_sink(std::make_unique<TensorBoardSink>(*dir));
}

}  // namespace trainer::cli
