// Wall time of a training step per layer, forward and backward, for benchmark mode's per-layer
// table (benchmark { per_layer: true }), like `caffe time`.
//
// Every moment of a step belongs to exactly one row: the time since the previous mark goes to
// the row the step is in. Marks come from the layers (nn::Module marks where each reporting
// layer begins and ends), from the tape (an op recording a backward closure, each closure
// ending) and from the trainer (the phases outside the layers: loss scaling and optimizer,
// gradient reduction). So the rows add up to the step, and a layer's row holds its own time:
// a layer that runs inside another takes its time out of the outer one's.
//
// The task marks its loss as a layer named "loss" (the row holds the detectors' target assignment).
// Work between two layers (a residual add, a pooling, a fusion, a reshape) gets a row of its own,
// "after <the layer before it>", named by the ops that recorded closures there; time between
// layers with no such op (glue code) goes to the layer that follows. Backward closures go to the
// row that was running when their op recorded them.
//
// CPU work is synchronous, so the time between marks is the work's own; with CUDA's
// asynchronous kernels it would be launch time only, so benchmark mode times layers on the CPU
// only (as it does PartTimes).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace trainer {

class LayerTimes {
 public:
  struct Row {
    enum class Kind { Layer, Ops, Outside };
    Kind kind = Kind::Layer;
    std::string name;
    // Layer: its class (Conv2d, BatchNorm, ...); Ops: the ops that recorded closures, in order.
    std::string type;
    double forward_seconds = 0, backward_seconds = 0;  // summed over the steps
    int64_t calls = 0;                                  // summed over the steps
  };

  // A step begins now (its time starts counting).
  void start_step();
  // A layer's own work begins; the time since the last mark goes to the layer it runs inside,
  // to the ops between layers, or (glue only) to this layer.
  void enter(const std::string& layer);
  // The layer ends: the time since the last mark is its own.
  void exit(const std::string& layer, const char* type);
  // For the tape: the row that an op recording a backward closure now belongs to.
  int recording(const char* op);
  // For the tape: the forward pass is over, backward begins.
  void begin_backward();
  // For the tape: a closure recorded in `row` has just run.
  void closure_done(int row);
  // The time since the last mark belongs to `what`, a phase outside the layers.
  void outside(const std::string& what);

  int64_t steps() const { return steps_; }
  // In order of first appearance: layers and the ops between them in network order, then the
  // phases outside the layers as they first ran.
  const std::vector<Row>& rows() const { return rows_; }
  void clear();

 private:
  using Clock = std::chrono::steady_clock;
  double lap();
  int row(Row::Kind kind, const std::string& name);
  // The time since the last mark goes to the layer running now, else to the ops recorded since
  // the last layer ended, else to the row (fallback_kind, fallback).
  void close_gap(Row::Kind fallback_kind, const std::string& fallback);

  std::vector<Row> rows_;
  std::unordered_map<std::string, int> index_;  // kind + name -> row
  std::vector<int> open_;                       // the layers running now, innermost last
  int gap_ = -1;                                // the ops row of the stretch since the last layer ended
  std::string previous_;                        // the last layer that ended this step
  Clock::time_point mark_;
  int64_t steps_ = 0;
};

}  // namespace trainer
