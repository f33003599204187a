// MetricsLog: the JSON lines keep their contract (a METRIC record's step is [] even when the
// record describes a training step), while every sink gets the same records with their steps.
#include "trainer/core/metrics_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace trainer {
namespace {

struct Recorded {
  std::vector<std::string> calls;
};

class RecordingSink : public MetricsSink {
 public:
  explicit RecordingSink(Recorded& out) : out_(out) {}
  void log(int64_t step, const MetricMap& data) override {
    out_.calls.push_back("log " + std::to_string(step) + " " + std::to_string(data.size()));
  }
  void metric(std::optional<int64_t> step, const MetricMap& data) override {
    out_.calls.push_back("metric " + (step ? std::to_string(*step) : std::string("none")) + " " +
                         std::to_string(data.size()));
  }
  void image(int64_t step, const std::string& tag, const EncodedImage& image) override {
    out_.calls.push_back("image " + std::to_string(step) + " " + tag + " " + std::to_string(image.width));
  }

 private:
  Recorded& out_;
};

TEST(MetricsLog, SinksGetEveryRecordWithItsStepAndTheJsonKeepsItsForm) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("trainer-metrics-log-" + std::to_string(::getpid()) + ".json");
  std::filesystem::remove(path);
  Recorded recorded;
  {
    MetricsLog log(path.string());
    EXPECT_FALSE(log.has_sinks());
    log.add_sink(std::make_unique<RecordingSink>(recorded));
    EXPECT_TRUE(log.has_sinks());
    log.log(10, {{"loss", 0.5}, {"lr", 0.1}});
    log.metric({{"parameters", int64_t{42}}});
    log.metric({{"top1", 0.75}, {"top5", 0.9}, {"eval.images", int64_t{8}}}, 10);
    log.image(10, "detections/0", EncodedImage{2, 3, 3, {1, 2, 3}});
  }
  EXPECT_EQ(recorded.calls, (std::vector<std::string>{"log 10 2", "metric none 1", "metric 10 3",
                                                      "image 10 detections/0 3"}));
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(),
            "{\"type\": \"LOG\", \"step\": 10, \"data\": {\"loss\": 0.5, \"lr\": 0.1}}\n"
            "{\"type\": \"METRIC\", \"step\": [], \"data\": {\"parameters\": 42}}\n"
            "{\"type\": \"METRIC\", \"step\": [], \"data\": {\"eval.images\": 8, \"top1\": 0.75, \"top5\": 0.9}}\n");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace trainer
