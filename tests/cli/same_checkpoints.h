// The resume tests' verdict: two checkpoints hold the same tensors, bit for bit, and the same
// loader position.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "trainer/train/safetensors.h"

namespace trainer::testing {

// Every tensor of checkpoint `a` has the same name, shape and bytes in `b` (and `b` no others),
// and both continue the data at the same batch. Returns `a`, and how many tensors it compared.
inline std::pair<train::SafetensorsFile, int> expect_same_checkpoints(const std::filesystem::path& a,
                                                                      const std::filesystem::path& b) {
  train::SafetensorsFile x = train::read_safetensors(a.string());
  const train::SafetensorsFile y = train::read_safetensors(b.string());
  EXPECT_EQ(x.tensors.size(), y.tensors.size()) << a << " and " << b;
  int compared = 0;
  for (const auto& [name, t] : x.tensors) {
    const auto other = y.tensors.find(name);
    if (other == y.tensors.end() || other->second.shape() != t.shape()) {
      ADD_FAILURE() << name << " is missing from " << b << " or has another shape";
      continue;
    }
    EXPECT_EQ(std::memcmp(t.raw(), other->second.raw(), t.nbytes()), 0) << name << " differs after resuming";
    ++compared;
  }
  EXPECT_EQ(x.metadata.at("loader_batch"), y.metadata.at("loader_batch"));
  return {std::move(x), compared};
}

}  // namespace trainer::testing
