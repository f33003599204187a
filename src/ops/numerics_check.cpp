#include "trainer/ops/numerics_check.h"

#include <cmath>
#include <cstdio>

namespace trainer {
namespace {

struct Count {
  int64_t bad = 0;
  float first = 0;
};

// The values are read on the host: a CUDA tensor is copied (explicitly; only when checking).
Count non_finite(const Tensor& t) {
  Count c;
  if (!t.defined() || !is_floating(t.dtype())) return c;
  const std::vector<float> v = (t.device().is_cpu() ? t : t.to(Device::cpu())).to_floats();
  for (const float x : v)
    if (!std::isfinite(x) && c.bad++ == 0) c.first = x;
  return c;
}

}  // namespace

void NumericsCheck::output(const Tensor& t, const char* op) {
  if (first_) return;
  outputs_.push_back({t, op, tape_->size()});
}

void NumericsCheck::check_forward() {
  for (const Output& o : outputs_) {
    if (first_) break;
    found(o.value, o.op, o.entry, false);
  }
  outputs_.clear();
}

void NumericsCheck::gradient(const Tensor& g, const char* op, size_t entry) {
  if (!first_) found(g, op, entry, true);
}

void NumericsCheck::found(const Tensor& t, const std::string& op, size_t entry, bool backward) {
  const Count c = non_finite(t);
  if (c.bad == 0) return;
  first_ = Finding{backward, op, layer_of(entry), c.bad, t.numel(), c.first};
}

void NumericsCheck::layer(const std::string& name, const char*, OpClass, const Tensor&, int64_t, double) {
  if (tape_) layer_ends_.emplace_back(tape_->size(), name);
}

std::string NumericsCheck::layer_of(size_t entry) const {
  for (const auto& [end, name] : layer_ends_)
    if (end > entry) return name;
  return "";
}

std::string NumericsCheck::describe(const Finding& f) {
  const std::string where =
      f.layer.empty() ? std::string(" after the last layer (in the loss)") : " in layer " + f.layer;
  char value[16];
  std::snprintf(value, sizeof value, "%g", static_cast<double>(f.first_bad));
  return str(f.backward ? "backward: the gradient from " : "forward: the output of ", f.op, where, " has ", f.bad,
             " of ", f.total, " values not finite (the first: ", value, ")");
}

}  // namespace trainer
