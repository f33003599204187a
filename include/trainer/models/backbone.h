// A backbone: the feature extractor a classifier or detector builds on. It returns named
// endpoints (C2..C5: the stage outputs at strides 4..32) and registers its parameters in the
// model's store under its module name ("backbone."), so a checkpoint of one model can seed
// another's backbone by name.
#pragma once

#include <string>
#include <vector>

#include "trainer/nn/module.h"

namespace trainer::models {

struct Endpoint {
  std::string name;  // "C3"
  int64_t stride = 1;
  int64_t channels = 0;
};

class Backbone : public nn::Module {
 public:
  using nn::Module::Module;
  // images: [N, H, W, C] -> one map per endpoint, in endpoints() order:
  // [N, ceil(H / stride), ceil(W / stride), channels].
  virtual std::vector<Tensor> forward(Context& ctx, const Tensor& images) const = 0;
  virtual const std::vector<Endpoint>& endpoints() const = 0;
  virtual std::string architecture() const = 0;  // "resnet50_v1.5"

  // The endpoint called `name`, by position; an Error listing the known ones otherwise.
  size_t endpoint_index(const std::string& name) const;
};

}  // namespace trainer::models
