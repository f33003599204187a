// A neck: the feature pyramid a detector builds over its backbone's endpoints (FPN, BiFPN). It
// returns P_min..P_max, level l at stride 2^l, all depth() channels, and registers its
// parameters under its module name.
#pragma once

#include <vector>

#include "trainer/nn/module.h"

namespace trainer::models {

class Neck : public nn::Module {
 public:
  using nn::Module::Module;
  // features: the backbone's endpoints, all of them, in its order -> P_min..P_max.
  virtual std::vector<Tensor> forward(Context& ctx, const std::vector<Tensor>& features) const = 0;
  virtual int min_level() const = 0;
  virtual int max_level() const = 0;
  virtual int64_t depth() const = 0;
};

}  // namespace trainer::models
