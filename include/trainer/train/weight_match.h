// Which tensors of a file fit a model's parameter store, by name and shape: the one comparison
// behind loading a checkpoint (everything must fit) and importing weights to fine-tune from
// (what fits is copied, the rest is reported by name).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "trainer/nn/parameters.h"

namespace trainer::train {

struct WeightMatch {
  std::vector<std::string> loaded;      // in the store and the file, same shape and dtype
  std::vector<std::string> missing;     // in the store, not in the file
  std::vector<std::string> unexpected;  // in the file, not in the store
  std::vector<std::string> mis_shaped;  // "name (f32[8] in the file, f32[16] in the model)"
  bool complete() const { return missing.empty() && unexpected.empty() && mis_shaped.empty(); }
  // " 2 missing: a, b; 1 unexpected: c" (at most `limit` names per list).
  std::string problems(size_t limit = 10) const;
};

// Compares the store's parameters and buffers whose names start with `prefix` against the
// file's tensors whose names start with it (others are not considered).
WeightMatch match_weights(const nn::ParameterStore& store, const std::map<std::string, Tensor>& tensors,
                          std::string_view prefix = {});

// Copies every `loaded` tensor into the store and bumps its version.
void copy_matched(nn::ParameterStore& store, const std::map<std::string, Tensor>& tensors, const WeightMatch& match);

}  // namespace trainer::train
