// A network and the parameter store it owns (parameters, gradients and batchnorm statistics in
// flat buffers, src/nn/README.md). Concrete models: Classifier, SsdDetector.
#pragma once

#include <string>

#include "trainer/nn/parameters.h"

namespace trainer::models {

class Model {
 public:
  virtual ~Model() = default;
  Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  virtual std::string architecture() const = 0;  // "resnet50_v1.5", "ssd_resnet50_v1_fpn"
  nn::ParameterStore& store() { return store_; }
  const nn::ParameterStore& store() const { return store_; }

 protected:
  nn::ParameterStore store_;
};

}  // namespace trainer::models
