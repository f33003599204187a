#include "trainer/train/weight_match.h"

namespace trainer::train {
namespace {

std::map<std::string, Tensor*> store_tensors(nn::ParameterStore& store, std::string_view prefix) {
  std::map<std::string, Tensor*> out;
  for (nn::Parameter& p : store.params())
    if (p.name.starts_with(prefix)) out[p.name] = &p.value;
  for (nn::Buffer& b : store.buffers())
    if (b.name.starts_with(prefix)) out[b.name] = &b.value;
  return out;
}

}  // namespace

std::string WeightMatch::problems(size_t limit) const {
  std::string msg;
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    msg += str(msg.empty() ? " " : "; ", names.size(), " ", what, ": ");
    for (size_t i = 0; i < names.size() && i < limit; ++i) msg += (i ? ", " : "") + names[i];
    if (names.size() > limit) msg += str(", ... (", names.size() - limit, " more)");
  };
  list("missing", missing);
  list("unexpected", unexpected);
  list("mis-shaped", mis_shaped);
  return msg;
}

WeightMatch match_weights(const nn::ParameterStore& store, const std::map<std::string, Tensor>& tensors,
                          std::string_view prefix) {
  WeightMatch m;
  const std::map<std::string, Tensor*> wanted = store_tensors(const_cast<nn::ParameterStore&>(store), prefix);
  for (const auto& [name, dst] : wanted) {
    auto it = tensors.find(name);
    if (it == tensors.end())
      m.missing.push_back(name);
    else if (it->second.shape() != dst->shape() || it->second.dtype() != dst->dtype())
      m.mis_shaped.push_back(name + " (" + it->second.describe() + " in the file, " + dst->describe() +
                             " in the model)");
    else
      m.loaded.push_back(name);
  }
  for (const auto& [name, t] : tensors)
    if (name.starts_with(prefix) && !wanted.count(name)) m.unexpected.push_back(name);
  return m;
}

void copy_matched(nn::ParameterStore& store, const std::map<std::string, Tensor>& tensors, const WeightMatch& match) {
  const std::map<std::string, Tensor*> wanted = store_tensors(store, "");
  for (const std::string& name : match.loaded) wanted.at(name)->copy_from(tensors.at(name));
  store.bump_version();
}

}  // namespace trainer::train
