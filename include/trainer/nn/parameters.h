// Parameters and gradients, each in ONE contiguous f32 buffer (src/README.md, decision 3); every
// parameter is a view into both. Allreduce, grad-norm, finite checks, the optimizer, EMA and
// checkpoint I/O are single passes over the flat buffers. Non-trained state (batchnorm
// running statistics) lives in a third flat buffer.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "trainer/core/tensor.h"
#include "trainer/ops/tape.h"

namespace trainer::nn {

// How a tensor is initialised, as TF's initialisers define it:
//   VarianceScaling: variance_scaling_initializer with a truncated normal
//     (stddev = sqrt(scale / fan) / 0.8796, cut at 2 stddev);
//   TruncatedNormal: truncated_normal_initializer (mean + stddev * z, z re-drawn outside [-2, 2]);
//   Normal: random_normal_initializer (mean + stddev * z).
struct Init {
  enum class Kind { Zeros, Ones, Constant, VarianceScaling, TruncatedNormal, Normal } kind = Kind::Zeros;
  double value = 0;     // Constant: the value; VarianceScaling: scale; (Truncated)Normal: mean
  int64_t fan = 1;      // VarianceScaling: fan_in or fan_out, computed by the layer
  double stddev = 0;    // (Truncated)Normal
  static Init zeros() { return {}; }
  static Init ones() { return {Kind::Ones}; }
  static Init constant(double v) { return {Kind::Constant, v}; }
  static Init variance_scaling(double scale, int64_t fan) { return {Kind::VarianceScaling, scale, fan}; }
  static Init truncated_normal(double mean, double stddev) { return {Kind::TruncatedNormal, mean, 1, stddev}; }
  static Init normal(double mean, double stddev) { return {Kind::Normal, mean, 1, stddev}; }
};

// What a parameter is, for weight-decay rules and reporting. FusionWeight: the learned scalars
// that mix feature maps (BiFPN's fast normalised fusion); never decayed, as automl does.
enum class ParamRole : uint8_t { Weight, Bias, NormScale, NormShift, FusionWeight };

struct Parameter {
  std::string name;  // "layer1.0.conv1.weight"
  Shape shape;
  ParamRole role = ParamRole::Weight;
  Init init;
  int64_t offset = 0;  // elements into the flat buffers
  Tensor value;        // view into values(); tracked as a tape leaf while training
  Tensor grad;         // view into grads()
};

struct Buffer {
  std::string name;  // "layer1.0.bn1.running_mean"
  Shape shape;
  Init init;
  int64_t offset = 0;
  Tensor value;
};

class ParameterStore {
 public:
  // Declaration phase (model construction). Returned references stay valid.
  Parameter& add(std::string name, Shape shape, ParamRole role, Init init);
  Buffer& add_buffer(std::string name, Shape shape, Init init);
  // Allocates the flat buffers, points every view into them and initialises the values.
  // Each tensor's draws come from (seed, its name), so adding a layer never changes others.
  void finalize(uint64_t seed);
  bool finalized() const { return values_.defined(); }

  std::deque<Parameter>& params() { return params_; }
  const std::deque<Parameter>& params() const { return params_; }
  std::deque<Buffer>& buffers() { return buffers_; }
  const std::deque<Buffer>& buffers() const { return buffers_; }
  Tensor& values() { return values_; }
  Tensor& grads() { return grads_; }
  int64_t count() const { return total_; }

  // Moves the flat buffers (values, gradients, statistics) to `device`, every view with them:
  // one explicit copy of the model (src/README.md, decision 4). Initialisation always happens on
  // the CPU (Philox draws), so a model is built there and then moved.
  void to(Device device);
  Device device() const { return values_.defined() ? values_.device() : Device::cpu(); }
  Tensor& buffer_values() { return buffer_values_; }

  // Makes every parameter a tape leaf whose gradient lands in its view of grads().
  void track(Tape& tape);
  // Forgets the tape's ids once its step is over, so a later tape never sees stale ones.
  void untrack();
  // Bumped whenever values change (optimizer step, checkpoint load): cached derived data,
  // such as folded inference weights, compares versions to know when to rebuild.
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  std::deque<Parameter> params_;
  std::deque<Buffer> buffers_;
  Tensor values_, grads_, buffer_values_;
  int64_t total_ = 0, buffer_total_ = 0;
  uint64_t version_ = 0;
};

void initialize(Tensor& t, const Init& init, uint64_t seed, const std::string& name);

}  // namespace trainer::nn
