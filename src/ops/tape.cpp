#include "trainer/ops/tape.h"

#include <chrono>

#include "trainer/ops/numerics_check.h"
#include "trainer/ops/tensor_math.h"

namespace trainer {

void Tape::add_slot(Tensor& t) {
  t.set_grad_id(static_cast<int64_t>(slots_.size()));
  slots_.emplace_back();
}

void Tape::track(Tensor& t, const char* op) {
  add_slot(t);
  if (numerics_) numerics_->output(t, op);
}

void Tape::track_leaf(Tensor& value, const Tensor& grad) {
  TRAINER_CHECK(grad.shape() == value.shape(), "gradient buffer ", grad.describe(), " does not fit ", value.describe());
  add_slot(value);
  slots_.back().grad = grad;
  slots_.back().leaf = true;
}

template <typename Refs>
void Tape::record_entry(const Refs& inputs, Backward backward, const char* op) {
  Entry e{std::move(backward), {}, part_, op, layer_times_ ? layer_times_->recording(op) : -1};
  for (const GradRef& in : inputs) {
    if (!in.requires_grad()) continue;
    TRAINER_ASSERT(in.id < static_cast<int64_t>(slots_.size()));
    Slot& slot = slots_[in.id];
    if (!slot.leaf) continue;
    ++slot.pending;
    e.leaves.push_back(in.id);
  }
  entries_.push_back(std::move(e));
}

void Tape::record(std::initializer_list<GradRef> inputs, Backward backward, const char* op) {
  record_entry(inputs, std::move(backward), op);
}
void Tape::record(const std::vector<GradRef>& inputs, Backward backward, const char* op) {
  record_entry(inputs, std::move(backward), op);
}

void Tape::finish_leaf(int64_t id) {
  Slot& slot = slots_[id];
  if (!slot.written) slot.grad.zero_();
  slot.final = true;
  if (on_leaf_final_) on_leaf_final_(id);
}

Tensor Tape::take_grad(const GradRef& output) {
  if (!output.requires_grad()) return {};
  TRAINER_ASSERT(output.id < static_cast<int64_t>(slots_.size()));
  Slot& slot = slots_[output.id];
  TRAINER_ASSERT(!slot.leaf);
  return std::move(slot.grad);
}

void Tape::accumulate(const GradRef& input, Tensor g) {
  if (!input.requires_grad() || !g.defined()) return;
  if (numerics_ && running_) numerics_->gradient(g, running_->op, running_index_);
  TRAINER_ASSERT(input.id < static_cast<int64_t>(slots_.size()));
  Slot& slot = slots_[input.id];
  TRAINER_CHECK(g.shape() == input.shape, "gradient ", g.describe(), " for a tensor of shape ", shape_str(input.shape),
                ": shapes differ");
  if (slot.leaf) {
    TRAINER_CHECK(!slot.final, "tape: a backward closure wrote the gradient of leaf ", input.id,
                  " without naming it among its inputs (Tape::record)");
    if (g.dtype() != slot.grad.dtype()) g = math::cast(g, slot.grad.dtype());
    if (!slot.written) slot.grad.copy_from(g);
    else math::add_(slot.grad, g);
    slot.written = true;
    return;
  }
  if (slot.grad.defined() && slot.grad.dtype() != g.dtype()) g = math::cast(g, slot.grad.dtype());
  if (!slot.grad.defined()) {
    slot.grad = std::move(g);
  } else if (slot.grad.same_storage(g) || !slot.written) {
    // The first gradient may alias a tensor someone else holds (e.g. a closure passed its
    // own upstream grad through); make the slot's copy private before adding into it.
    slot.grad = math::add(slot.grad, g);
    slot.written = true;
  } else {
    math::add_(slot.grad, g);
  }
}

void Tape::backward(const Tensor& root, const Tensor& seed) {
  TRAINER_CHECK(root.requires_grad(), "backward: the loss ", root.describe(), " does not depend on anything tracked");
  TRAINER_CHECK(seed.shape() == root.shape(), "backward: seed ", seed.describe(), " for ", root.describe());
  slots_[root.grad_id()].grad = seed;
  for (int64_t id = 0; id < static_cast<int64_t>(slots_.size()); ++id)
    if (slots_[id].leaf && slots_[id].pending == 0) finish_leaf(id);
  if (layer_times_) layer_times_->begin_backward();
  for (size_t i = entries_.size(); i-- > 0;) {
    Entry e = std::move(entries_[i]);
    entries_.pop_back();
    running_ = &e;
    running_index_ = i;
    if (part_times_ && e.part) {
      const auto start = std::chrono::steady_clock::now();
      e.backward(*this);
      part_times_->add(e.part, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    } else {
      e.backward(*this);  // the closure and everything it saved die at the end of this iteration
    }
    running_ = nullptr;
    if (layer_times_ && e.layer_row >= 0) layer_times_->closure_done(e.layer_row);
    for (const int64_t id : e.leaves)
      if (--slots_[id].pending == 0) finish_leaf(id);
  }
  for (Slot& slot : slots_) {
    slot.written = slot.leaf ? false : slot.written;
    slot.final = false;
    if (!slot.leaf) slot.grad = Tensor();
  }
}

}  // namespace trainer
