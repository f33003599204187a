// Base of the layer library: a named node of the model tree. Parameters are declared in a
// ParameterStore at construction (they live in its flat buffers), so a Module holds only
// pointers to its views and its configuration.
#pragma once

#include <string>

#include "trainer/ops/context.h"

namespace trainer::nn {

class Module {
 public:
  explicit Module(std::string name) : name_(std::move(name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const std::string& name() const { return name_; }

 protected:
  // A layer that reports calls begin() first, where its own work starts, and report() where it
  // ends: per-layer timing (ExecutionSettings::layer_times) takes the time between as the layer's,
  // check_numerics the ops between as the layer's (the ops outside any layer as "after" one).
  void begin(Context& ctx) const {
    if (ctx.layer_times) ctx.layer_times->enter(name_);
    if (ctx.observer) ctx.observer->layer_begins(name_);
  }
  // Tells the context's observer (if any) about this layer's output.
  void report(Context& ctx, const char* type, OpClass op_class, const Tensor& output, int64_t params,
              double flops) const {
    if (ctx.layer_times) ctx.layer_times->exit(name_, type);
    if (ctx.observer) ctx.observer->layer(name_, type, op_class, output, params, flops);
  }
  std::string child(const std::string& suffix) const { return name_.empty() ? suffix : name_ + "." + suffix; }

 private:
  std::string name_;
};

// A module with one input map and one output: what towers and sequences of layers hold.
class Layer : public Module {
 public:
  using Module::Module;
  virtual Tensor forward(Context& ctx, const Tensor& x) const = 0;
};

}  // namespace trainer::nn
