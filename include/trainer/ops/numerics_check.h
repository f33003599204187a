// runtime { check_numerics: true }: finds the first op whose output (forward) or gradient
// (backward) holds a NaN or an infinity, and names it with the layer it belongs to — what TF's
// tf.debugging.enable_check_numerics does, on the tape. The trainer also runs one such check on
// the batch of a step whose loss or gradients came out non-finite, so that a diverging run says
// where it started even with the option off.
//
// How a finding is placed: the tape tells the check about every output it tracks and every
// gradient a closure sends (with the op's name, the function that recorded it), and the check,
// as the step's LayerObserver, learns where each reporting layer begins and ends on the tape
// (nn::Module::begin and report). An op recorded inside a layer's span belongs to it (the
// innermost one); an op between two layers (a residual add, a pooling, BiFPN's fusion) is
// "after" the layer before it; ops past the last layer are the loss's. A layer that reports
// without marking its beginning spans from the previous layer's end.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "trainer/ops/context.h"

namespace trainer {

class NumericsCheck final : public LayerObserver {
 public:
  // Where the op ran relative to the layers.
  enum class Placement { InLayer, AfterLayer, BeforeTheFirstLayer, InTheLoss };
  struct Finding {
    bool backward = false;
    std::string op;     // the op front-end that recorded it (conv2d, batch_norm, ...)
    Placement placement = Placement::InTheLoss;
    std::string layer;  // the module name (InLayer, AfterLayer), else ""
    int64_t bad = 0, total = 0;
    float first_bad = 0;  // the first non-finite value (nan, inf or -inf)
  };

  // Starts watching `tape` (the check reads its length to place ops in layers).
  void watch(Tape& tape) {
    tape_ = &tape;
    tape.check_numerics(this);
  }

  // From the tape: an op's output, kept until check_forward() (values are final by then).
  void output(const Tensor& t, const char* op);
  // From the tape: a gradient a backward closure sends to one of its inputs.
  void gradient(const Tensor& g, const char* op, size_t entry);
  // Call after the forward pass: checks the outputs seen, in the order they were made.
  void check_forward();

  void layer_begins(const std::string& name) override;
  void layer(const std::string& name, const char* type, OpClass op_class, const Tensor& output, int64_t params,
             double flops) override;

  const std::optional<Finding>& first() const { return first_; }
  // "forward: the output of conv2d in layer backbone.layer1.0.conv1 has 12 of 4096 values not finite
  // (the first: nan)"; "... of add after layer backbone.layer1.0.conv3 has ...".
  static std::string describe(const Finding& f);

 private:
  struct Span {
    size_t begin, end;  // tape entries [begin, end)
    std::string name;
  };
  // Where an op that records tape entry `entry` ran: (placement, layer name).
  std::pair<Placement, std::string> place(size_t entry) const;
  void found(const Tensor& t, const std::string& op, size_t entry, bool backward);

  struct Output {
    Tensor value;
    const char* op;
    size_t entry;  // the tape entry its op records next
  };
  const Tape* tape_ = nullptr;
  std::vector<Output> outputs_;
  std::vector<std::pair<std::string, size_t>> open_;  // layers begun, not yet reported: (name, begin)
  std::vector<Span> spans_;                           // in the order the layers reported
  std::optional<Finding> first_;
};

}  // namespace trainer
