#include "trainer/ops/numerics_check.h"

#include <algorithm>
#include <cmath>
#include <iterator>
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
  const auto [placement, layer] = place(entry);
  first_ = Finding{backward, op, placement, layer, c.bad, t.numel(), c.first};
}

void NumericsCheck::layer_begins(const std::string& name) {
  if (tape_) open_.emplace_back(name, tape_->size());
}

void NumericsCheck::layer(const std::string& name, const char*, OpClass, const Tensor&, int64_t, double) {
  if (!tape_) return;
  size_t begin = spans_.empty() ? 0 : spans_.back().end;
  // Layers nest (a block around its convolutions): the innermost open one is this one's begin.
  for (auto it = open_.rbegin(); it != open_.rend(); ++it) {
    if (it->first != name) continue;
    begin = it->second;
    open_.erase(std::next(it).base());
    break;
  }
  spans_.push_back({begin, tape_->size(), name});
}

std::pair<NumericsCheck::Placement, std::string> NumericsCheck::place(size_t entry) const {
  const Span* inside = nullptr;  // the innermost span holding the entry: spans nest, the shortest
  const Span* before = nullptr;  // the span that ended last at or before the entry
  for (const Span& s : spans_) {
    if (s.begin <= entry && entry < s.end && (!inside || s.end - s.begin < inside->end - inside->begin))
      inside = &s;
    if (s.end <= entry && (!before || s.end >= before->end)) before = &s;
  }
  if (inside) return {Placement::InLayer, inside->name};
  if (!before) return {spans_.empty() ? Placement::InTheLoss : Placement::BeforeTheFirstLayer, ""};
  const bool past_every_layer = std::all_of(spans_.begin(), spans_.end(), [&](const Span& s) { return s.end <= entry; });
  if (past_every_layer) return {Placement::InTheLoss, ""};
  return {Placement::AfterLayer, before->name};
}

std::string NumericsCheck::describe(const Finding& f) {
  std::string where;
  switch (f.placement) {
    case Placement::InLayer: where = " in layer " + f.layer; break;
    case Placement::AfterLayer: where = " after layer " + f.layer; break;
    case Placement::BeforeTheFirstLayer: where = " before the first layer"; break;
    case Placement::InTheLoss: where = " after the last layer (in the loss)"; break;
  }
  char value[16];
  std::snprintf(value, sizeof value, "%g", static_cast<double>(f.first_bad));
  return str(f.backward ? "backward: the gradient from " : "forward: the output of ", f.op, where, " has ", f.bad,
             " of ", f.total, " values not finite (the first: ", value, ")");
}

}  // namespace trainer
