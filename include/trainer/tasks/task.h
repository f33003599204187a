// A task: what a kind of model learns and how it is judged — classification (top-k accuracy) or
// detection (COCO mAP). A task owns its model, builds its data pipeline from the config, computes
// the training loss of its batches, evaluates, predicts and benchmarks. The modes in cli ask the
// task; they know no model. Which task a config gets is decided by its model type, through the
// explicit registry create_task() (src/tasks/README.md).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "trainer/config/config.h"
#include "trainer/core/metrics_log.h"
#include "trainer/data/loader.h"
#include "trainer/ops/graph_recorder.h"
#include "trainer/train/trainer.h"

namespace trainer::tasks {

enum class Split { Train, Eval };

// What a task needs from the run besides its config.
// What a task needs from the run besides its config: how ops execute (device, precision,
// kernels) and the run's seed and place among processes.
struct RunContext : ExecutionSettings {
  uint64_t seed = 0;
  int rank = 0, world_size = 1;

  // An eval-mode execution context for this run (no tape: running batchnorm statistics,
  // folded conv+bn+act).
  Context inference_context() const { return Context(static_cast<const ExecutionSettings&>(*this)); }
  // The eval-mode context an export records in: f32 whatever the run's precision (the exported
  // graph computes in f32), every op told to `graph`.
  Context recording_context(GraphRecorder& graph) const {
    Context ctx = inference_context();
    ctx.precision = PrecisionPolicy();
    ctx.recorder = &graph;
    return ctx;
  }
};

struct EvalOptions {
  std::string output_dir;  // where detections are written (model_dir); "" = nowhere
  int64_t step = -1;       // the checkpoint's step, for file names and logs
  // Under mpirun: every rank evaluates its shard of the eval split and rank 0 gathers the
  // results, computes, prints and returns the metrics (the others return none). Collective.
  dist::Communicator* communicator = nullptr;
  // Where pictures of the evaluation go (detection: eval_config.num_visualizations eval images
  // with their detections drawn, as MetricsLog::image at `step`); null, or a log without sinks:
  // none are made.
  MetricsLog* log = nullptr;
};

struct PredictOptions {
  std::string output_dir;  // where annotated images are written; "" = nowhere
};

class Task : public train::TrainTask {
 public:
  // train::TrainTask: store(), architecture(), loss().
  virtual std::string kind() const = 0;  // "classification", "detection"
  virtual Shape input_shape() const = 0;  // one image after preprocessing: [H, W, C]

  // The task's part of the optimizer options (which parameters are decayed, by how much).
  virtual void configure(train::TrainerOptions& options) const = 0;

  // The data pipeline of a split, as the config's input reader and preprocessing describe it.
  virtual std::unique_ptr<data::Loader> loader(Split split, data::LoaderCursor start = {}) const = 0;
  // A fixed random batch with the task's targets (benchmarks: NVIDIA's synthetic-data runs).
  virtual data::Batch synthetic_batch(int64_t batch_size) const = 0;

  // Inference as deployed, the unit the benchmark times: eval-mode forward plus whatever
  // post-processing the task's outputs need (detection: decoding and NMS).
  virtual void infer(Context& ctx, const data::Batch& batch) const = 0;
  // Evaluates the current weights on the eval split; prints the metrics as the reference tools
  // do and returns them under their JSON-log keys.
  virtual MetricMap evaluate(const EvalOptions& options) = 0;
  // Predict mode: one result block per image file on stdout; returns the number of files that
  // could not be read (reported on stderr).
  virtual int predict(const std::vector<std::string>& files, const PredictOptions& options) = 0;
  // One eval-mode forward of a blank image that tells `observer` about every layer (summary).
  virtual void trace(LayerObserver& observer) = 0;
  // The network as deployed, for export: one f32 eval-mode forward (batchnorm folded) of a blank
  // batch with `graph` recording, the input named "images" ([N,H,W,C], preprocessed as the task's
  // eval transform leaves it) and the task's outputs named (src/tasks/README.md).
  virtual void record_inference(GraphRecorder& graph) = 0;

 protected:
  // One blank image at the network's input size: what trace() and record_inference() run.
  Tensor blank_batch(DType dtype, Device device) const {
    const Shape s = input_shape();
    return Tensor::zeros({1, s[0], s[1], s[2]}, dtype, device);
  }
};

// The registry: the task for the config's model type (model.classifier -> classification,
// model.ssd -> detection). An Error naming the known types otherwise.
std::unique_ptr<Task> create_task(const config::TrainEvalPipelineConfig& config, const RunContext& run);

}  // namespace trainer::tasks
