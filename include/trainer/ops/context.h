// What an op needs to know about the step it runs in, passed explicitly (no global modes).
#pragma once

#include <string>

#include "trainer/core/dtype.h"
#include "trainer/core/layer_times.h"
#include "trainer/core/part_times.h"
#include "trainer/core/random.h"
#include "trainer/kernels/cpu/conv2d.h"
#include "trainer/kernels/cuda/stream.h"
#include "trainer/ops/precision.h"

namespace trainer::dist {
class Communicator;
}  // namespace trainer::dist

namespace trainer::cuda {
class StreamContext;
}
#include "trainer/ops/tape.h"

namespace trainer {

class GraphRecorder;  // ops/graph_recorder.h

// Sees every layer's output as the model runs (for `--mode summary` and check_numerics).
class LayerObserver {
 public:
  virtual ~LayerObserver() = default;
  // A layer's own work starts (nn::Module::begin); layer() below is where it ends.
  virtual void layer_begins(const std::string& /*name*/) {}
  // flops: multiply-adds x 2 for this call's whole batch.
  // op_class: what the layer's main op is, for its precision (PrecisionPolicy::of).
  virtual void layer(const std::string& name, const char* type, OpClass op_class, const Tensor& output, int64_t params,
                     double flops) = 0;
};

// How a run executes its ops: where, in which precision, with which kernels. Chosen once from the
// config (src/cli/pipeline.cpp); the task's RunContext and the TrainerOptions carry one, and
// every Context starts as a copy of it, so a new run setting is one field here.
struct ExecutionSettings {
  // Where the step runs: the parameters live there and the task copies its inputs there.
  Device device = Device::cpu();
  // Which dtype each class of op computes and stores in (trainer/ops/precision.h).
  PrecisionPolicy precision;
  // CPU: whether 3x3 stride-1 f32 convolutions may run as Winograd (kernels/cpu/conv2d.h);
  // runtime.cpu_conv_algorithm in the config.
  cpu::ConvAlgorithm cpu_conv_algorithm = cpu::ConvAlgorithm::Winograd;
  // CUDA, real builds only: when set, convolutions and matmuls go to cuDNN and cuBLASLt on this
  // context's handles (runtime.conv_backend CUDNN) instead of our own kernels.
  cuda::StreamContext* libraries = nullptr;
  // Data parallelism with runtime.sync_batchnorm: batchnorm's batch statistics, and the sums its
  // backward needs, are taken over every rank's batch through this communicator (null: each
  // process's own batch).
  dist::Communicator* sync_batchnorm = nullptr;
  // Benchmark mode's breakdown: time in the parts the model marks (ops/part_scope.h); null: not
  // measured.
  PartTimes* part_times = nullptr;
  // Benchmark mode's per-layer table (benchmark.per_layer): the layers mark where they begin and
  // end (nn::Module), the tape where closures are recorded and run; null: not measured.
  LayerTimes* layer_times = nullptr;
};

struct Context : ExecutionSettings {
  // Non-null while training: ops record their backward here. Null in eval/inference.
  Tape* tape = nullptr;
  // Batchnorm uses batch statistics (and updates running ones) when true.
  bool training = false;
  // Optional: told about each layer's output.
  LayerObserver* observer = nullptr;
  // The draws of stochastic layers (drop-connect) while training, from a generator the task
  // seeds per step (so a resumed run draws the same); null: nothing is dropped.
  Philox* rng = nullptr;
  // The part of the network running now (ops/part_scope.h), while part_times is set.
  const char* part = nullptr;
  // The stream CUDA kernels run on (null: the default stream). CPU work ignores it.
  cuda::Stream stream = nullptr;
  // Optional: told about each op as it runs, to write the inference graph (`trainer export`).
  GraphRecorder* recorder = nullptr;

  Context() = default;
  Context(Tape* tape_, bool training_, PrecisionPolicy precision_ = {}) : tape(tape_), training(training_) {
    precision = precision_;
  }
  explicit Context(const ExecutionSettings& settings, Tape* tape_ = nullptr, bool training_ = false)
      : ExecutionSettings(settings), tape(tape_), training(training_) {}

  // Convolutions and matmuls run in this type (F32, or BF16/F16 for mixed precision);
  // parameters stay F32 masters and are cast on the way in.
  DType gemm_dtype() const { return precision.gemm(); }

  bool recording(const Tensor& a) const { return tape && a.requires_grad(); }
  bool recording(const Tensor& a, const Tensor& b) const { return tape && (a.requires_grad() || b.requires_grad()); }
};

}  // namespace trainer
