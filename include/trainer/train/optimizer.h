// Momentum SGD as TensorFlow's MomentumOptimizer (the NVIDIA recipe's optimizer), fused with
// L2 weight decay into one pass over the flat parameter buffer.
#pragma once

#include <vector>

#include "trainer/kernels/shapes.h"
#include "trainer/nn/parameters.h"

namespace trainer::train {

struct MomentumSgdOptions {
  double momentum = 0.875;
  bool nesterov = false;
  double weight_decay = 0.0;  // gradient += weight_decay * w, i.e. loss += wd * sum(w^2) / 2
  bool decay_norm_params = false;  // batchnorm gamma/beta
  bool decay_biases = true;
};

class MomentumSgd {
 public:
  MomentumSgd(nn::ParameterStore& store, const MomentumSgdOptions& options);

  // accum = momentum * accum + g;  w -= lr * accum  (Nesterov: w -= lr * (g + momentum * accum)),
  // with g = grad + wd * w on decayed parameters. Bumps the store's version.
  void step(double lr);

  // [store.count()] on the parameters' device, saved in checkpoints.
  Tensor& accumulators();
  const MomentumSgdOptions& options() const { return options_; }

 private:
  // Moves the momentum and the segment table to the store's device (it may move after
  // construction: models are built on the CPU).
  void follow_store();

  nn::ParameterStore& store_;
  MomentumSgdOptions options_;
  std::vector<SgdSegment> segments_;  // consecutive parameters with the same decay merged
  Tensor segment_table_;              // segments_ on the store's device
  Tensor accum_;
};

}  // namespace trainer::train
