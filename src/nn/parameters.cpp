#include "trainer/nn/parameters.h"

#include <cmath>
#include <functional>
#include <unordered_set>

#include "trainer/core/random.h"

namespace trainer::nn {
namespace {

uint64_t name_hash(const std::string& s) {  // FNV-1a: stable across runs and platforms
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

void initialize(Tensor& t, const Init& init, uint64_t seed, const std::string& name) {
  float* p = t.data<float>();
  const int64_t n = t.numel();
  Philox rng(seed, mix_stream({name_hash(name)}));
  switch (init.kind) {
    case Init::Kind::Zeros: std::fill_n(p, n, 0.f); return;
    case Init::Kind::Ones: std::fill_n(p, n, 1.f); return;
    case Init::Kind::Constant: std::fill_n(p, n, static_cast<float>(init.value)); return;
    case Init::Kind::VarianceScaling: {
      // 0.8796... is the stddev of a unit normal truncated to [-2, 2]; dividing by it gives
      // the truncated distribution the intended variance (as TF does).
      const double stddev = std::sqrt(init.value / static_cast<double>(std::max<int64_t>(init.fan, 1))) /
                            0.87962566103423978;
      for (int64_t i = 0; i < n; ++i) {
        float v;
        do v = rng.normal();
        while (std::abs(v) > 2.f);
        p[i] = static_cast<float>(stddev * v);
      }
      return;
    }
    case Init::Kind::TruncatedNormal:
    case Init::Kind::Normal: {
      const bool truncated = init.kind == Init::Kind::TruncatedNormal;
      for (int64_t i = 0; i < n; ++i) {
        float v;
        do v = rng.normal();
        while (truncated && std::abs(v) > 2.f);
        p[i] = static_cast<float>(init.value + init.stddev * v);
      }
      return;
    }
  }
}

Parameter& ParameterStore::add(std::string name, Shape shape, ParamRole role, Init init) {
  TRAINER_CHECK(!finalized(), "parameter ", name, " declared after the model was built");
  Parameter& p = params_.emplace_back();
  p.name = std::move(name);
  p.shape = std::move(shape);
  p.role = role;
  p.init = init;
  p.offset = total_;
  total_ += shape_numel(p.shape);
  return p;
}

Buffer& ParameterStore::add_buffer(std::string name, Shape shape, Init init) {
  TRAINER_CHECK(!finalized(), "buffer ", name, " declared after the model was built");
  Buffer& b = buffers_.emplace_back();
  b.name = std::move(name);
  b.shape = std::move(shape);
  b.init = init;
  b.offset = buffer_total_;
  buffer_total_ += shape_numel(b.shape);
  return b;
}

void ParameterStore::finalize(uint64_t seed) {
  std::unordered_set<std::string> seen;
  for (const Parameter& p : params_) TRAINER_CHECK(seen.insert(p.name).second, "duplicate parameter name ", p.name);
  for (const Buffer& b : buffers_) TRAINER_CHECK(seen.insert(b.name).second, "duplicate buffer name ", b.name);
  values_ = Tensor::empty({total_}, DType::F32);
  grads_ = Tensor::zeros({total_}, DType::F32);
  buffer_values_ = Tensor::empty({buffer_total_}, DType::F32);
  for (Parameter& p : params_) {
    const int64_t n = shape_numel(p.shape);
    p.value = values_.slice(0, p.offset, p.offset + n).reshape(p.shape);
    p.grad = grads_.slice(0, p.offset, p.offset + n).reshape(p.shape);
    initialize(p.value, p.init, seed, p.name);
  }
  for (Buffer& b : buffers_) {
    const int64_t n = shape_numel(b.shape);
    b.value = buffer_values_.slice(0, b.offset, b.offset + n).reshape(b.shape);
    initialize(b.value, b.init, seed, b.name);
  }
  ++version_;
}

namespace {

Tensor moved(const Tensor& t, Device device) {
  Tensor out = Tensor::empty(t.shape(), t.dtype(), device);
  out.copy_from(t);
  return out;
}

}  // namespace

void ParameterStore::to(Device device) {
  TRAINER_CHECK(finalized(), "parameters moved to ", device.name(), " before the model was built");
  if (device == values_.device()) return;
  values_ = moved(values_, device);
  grads_ = moved(grads_, device);
  buffer_values_ = moved(buffer_values_, device);
  for (Parameter& p : params_) {
    const int64_t n = shape_numel(p.shape);
    p.value = values_.slice(0, p.offset, p.offset + n).reshape(p.shape);
    p.grad = grads_.slice(0, p.offset, p.offset + n).reshape(p.shape);
  }
  for (Buffer& b : buffers_) {
    const int64_t n = shape_numel(b.shape);
    b.value = buffer_values_.slice(0, b.offset, b.offset + n).reshape(b.shape);
  }
  ++version_;
}

void ParameterStore::track(Tape& tape) {
  for (Parameter& p : params_) tape.track_leaf(p.value, p.grad);
}

void ParameterStore::untrack() {
  for (Parameter& p : params_) p.value.set_grad_id(-1);
}

}  // namespace trainer::nn
