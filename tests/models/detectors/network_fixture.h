// The golden network fixtures of tests/models/data/ (SSD320 against a PyTorch re-implementation,
// EfficientDet against effdet): safetensors files with weights in trainer's names, stored F16
// to stay small and widened to F32 here, read with train::read_safetensors.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>

#include "trainer/nn/parameters.h"
#include "trainer/ops/tensor_math.h"
#include "trainer/train/safetensors.h"

namespace trainer::testing {

// tests/models/data/<name> under TRAINER_SOURCE_DIR (a script's one-off output elsewhere, too).
inline std::string network_fixture_path(const std::string& name) {
  const char* dir = std::getenv("TRAINER_SOURCE_DIR");
  return std::string(dir ? dir : ".") + "/tests/models/data/" + name;
}

struct NetworkFixture {
  std::map<std::string, Tensor> tensors;  // F32 (F16 widened) or I64
  std::map<std::string, std::string> metadata;
};

// The safetensors file with its 16-bit floats widened to F32.
inline NetworkFixture read_network_fixture(const std::string& path) {
  train::SafetensorsFile file = train::read_safetensors(path);
  NetworkFixture out;
  out.metadata = std::move(file.metadata);
  for (auto& [name, t] : file.tensors)
    out.tensors.emplace(name, t.dtype() == DType::F16 ? math::cast(t, DType::F32) : t);
  return out;
}

// Copies the fixture's tensors into the store by name: every model tensor must be in the file,
// with its shape, and (when `exact`) every file tensor in the model.
inline void load_network_fixture(const std::map<std::string, Tensor>& file, nn::ParameterStore& store, bool exact) {
  std::set<std::string> used;
  auto copy = [&](const std::string& name, const Shape& shape, Tensor& dst) {
    auto it = file.find(name);
    ASSERT_NE(it, file.end()) << name << " is not in the fixture";
    ASSERT_EQ(it->second.shape(), shape) << name;
    std::memcpy(dst.data<float>(), it->second.data<float>(), it->second.nbytes());
    used.insert(name);
  };
  for (nn::Parameter& p : store.params()) copy(p.name, p.shape, p.value);
  for (nn::Buffer& b : store.buffers()) copy(b.name, b.shape, b.value);
  store.bump_version();
  if (exact) {
    for (const auto& [name, t] : file) EXPECT_TRUE(used.count(name)) << name << " is in the fixture but not in the model";
  }
}

}  // namespace trainer::testing
