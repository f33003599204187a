// runtime.tensorboard_dir: the run's metrics as TensorBoard events files, in the layout the TF2
// Object Detection API's model_main_tf2.py leaves in its model_dir, so `tensorboard --logdir`
// shows two runs: <dir>/train (every LOG record: loss, lr, loss_scale, train.imgs_per_sec, ...)
// and <dir>/eval (each evaluation's metrics and pictures at its checkpoint's step). Keeping an
// evaluation in its own folder lets an eval job write while training does: TensorBoard reads
// one folder's files in name order and would stop following an older file in the same folder.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "trainer/config/config.h"
#include "trainer/core/metrics_log.h"
#include "trainer/data/events_writer.h"

namespace trainer::cli {

class TensorBoardSink : public MetricsSink {
 public:
  explicit TensorBoardSink(std::string dir) : dir_(std::move(dir)) {}

  // Numbers become scalars tagged with their JSON key; text values are left out.
  void log(int64_t step, const MetricMap& data) override;
  // A summary without a step (the parameter count) has no place on TensorBoard's step axis.
  void metric(std::optional<int64_t> step, const MetricMap& data) override;
  void image(int64_t step, const std::string& tag, const EncodedImage& image) override;

 private:
  // Each folder's file is made on first use: a run that never evaluates leaves no eval/ folder.
  data::EventsWriter& writer(std::unique_ptr<data::EventsWriter>& w, const char* folder);

  std::string dir_;
  std::unique_ptr<data::EventsWriter> train_, eval_;
};

// Where the events go: runtime.tensorboard_dir, else runtime.model_dir (TensorFlow's habit);
// nullopt when both are empty.
std::optional<std::string> tensorboard_dir(const config::RuntimeConfig& runtime);

// Attaches a TensorBoardSink to `log` on the process that logs (rank 0 under mpirun), if the
// config gives it a folder.
void attach_tensorboard(MetricsLog& log, const config::RuntimeConfig& runtime, bool is_root);

}  // namespace trainer::cli
