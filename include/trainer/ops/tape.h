// Autograd as a tape (src/ops/README.md). While training, each op front-end records a backward
// closure holding the tensors it saved, with the inputs it will send gradients to; backward()
// runs the closures in reverse, routing gradients by the tensors' grad ids, and frees each
// closure (and the gradients it consumed) as soon as it has run. DAGs need nothing special: a
// tensor used twice gets its gradient contributions summed in its slot. Because every closure
// names its inputs, the tape knows when a leaf (a parameter) has received its last
// contribution, and says so while backward goes on: data parallelism reduces gradients then.
#pragma once

#include <functional>
#include <initializer_list>
#include <vector>

#include "trainer/core/layer_times.h"
#include "trainer/core/part_times.h"
#include "trainer/core/tensor.h"

namespace trainer {

class NumericsCheck;

// What backward closures keep of a tensor whose data they do not need: its gradient slot
// and shape. Capturing a GradRef instead of the Tensor lets the activation's memory go.
struct GradRef {
  int64_t id = -1;
  Shape shape;
  GradRef() = default;
  GradRef(const Tensor& t) : id(t.grad_id()), shape(t.shape()) {}  // NOLINT: implicit on purpose
  bool requires_grad() const { return id >= 0; }
};

class Tape {
 public:
  using Backward = std::function<void(Tape&)>;

  Tape() = default;
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // Gives `t` a fresh gradient slot (t.grad_id()). `op`: the op front-end that made it (the
  // caller's name, for check_numerics).
  void track(Tensor& t, const char* op = __builtin_FUNCTION());
  // A leaf whose gradient lands in `grad` (a view into the flat gradient buffer): the first
  // contribution is copied there, later ones are added; leaves that receive no gradient are
  // zeroed by backward(), so the buffer never needs clearing.
  void track_leaf(Tensor& value, const Tensor& grad);

  // `inputs`: every tensor the closure may accumulate a gradient into (untracked ones and
  // undefined tensors are ignored). A closure that writes into a leaf it did not name fails.
  void record(std::initializer_list<GradRef> inputs, Backward backward, const char* op = __builtin_FUNCTION());
  void record(const std::vector<GradRef>& inputs, Backward backward, const char* op = __builtin_FUNCTION());
  // Closures not yet run.
  size_t size() const { return entries_.size(); }

  // Called during backward() with a leaf's grad id once its gradient is final: every closure
  // that named it has run (leaves nothing named are final, as zeros, before the first).
  void on_leaf_final(std::function<void(int64_t grad_id)> callback) { on_leaf_final_ = std::move(callback); }

  // Closures recorded from now on belong to `part` (null: none); with time_parts set, backward()
  // adds each such closure's time to it (ops/part_scope.h).
  void set_part(const char* part) { part_ = part; }
  void time_parts(PartTimes* times) { part_times_ = times; }
  // Per-layer timing (core/layer_times.h): each closure belongs to the row running when it was
  // recorded, and backward() adds its time there (null: not measured).
  void time_layers(LayerTimes* times) { layer_times_ = times; }
  // Shows `check` every tracked output and every gradient a closure sends (null: nothing).
  void check_numerics(NumericsCheck* check) { numerics_ = check; }

  // Seeds d(root) = seed (same shape as root) and runs every closure in reverse, once.
  void backward(const Tensor& root, const Tensor& seed);

  // For closures: the gradient that reached an output, moved out of its slot (freed when the
  // closure is done with it). Undefined when the output did not reach the loss.
  Tensor take_grad(const GradRef& output);
  // Adds `g` to the gradient of `input` (no-op if the input is untracked).
  void accumulate(const GradRef& input, Tensor g);

 private:
  struct Slot {
    Tensor grad;
    bool leaf = false;
    bool written = false;
    bool final = false;  // leaves: no closure will write it again this backward pass
    int pending = 0;     // leaves: closures naming it that have not run
  };
  struct Entry {
    Backward backward;
    std::vector<int64_t> leaves;  // the leaf inputs it named (most closures: none)
    const char* part = nullptr;
    const char* op = nullptr;
    int layer_row = -1;  // LayerTimes' row, while layer_times_ is set
  };
  template <typename Refs>
  void record_entry(const Refs& inputs, Backward backward, const char* op);
  void add_slot(Tensor& t);
  void finish_leaf(int64_t id);

  std::vector<Slot> slots_;
  std::vector<Entry> entries_;
  std::function<void(int64_t)> on_leaf_final_;
  const char* part_ = nullptr;
  NumericsCheck* numerics_ = nullptr;
  const Entry* running_ = nullptr;  // the closure backward() is in
  size_t running_index_ = 0;
  PartTimes* part_times_ = nullptr;
  LayerTimes* layer_times_ = nullptr;
};

}  // namespace trainer
