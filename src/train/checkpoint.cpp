#include "trainer/train/checkpoint.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>

#include "trainer/core/json_text.h"
#include "trainer/train/safetensors.h"
#include "trainer/train/weight_match.h"

namespace trainer::train {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "trainer-checkpoint-1";
constexpr const char* kOptimizer = "optimizer.momentum";
constexpr const char* kMovingAverage = "optimizer.moving_average";

std::vector<std::pair<int64_t, fs::path>> list_checkpoints(const std::string& dir) {
  std::vector<std::pair<int64_t, fs::path>> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  static const std::regex pattern(R"(ckpt-(\d+)\.safetensors)");
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, m, pattern)) out.emplace_back(std::stoll(m[1].str()), entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

int64_t meta_int(const std::map<std::string, std::string>& meta, const std::string& key, const std::string& path) {
  auto it = meta.find(key);
  TRAINER_CHECK(it != meta.end(), path, ": checkpoint metadata lacks \"", key, "\"");
  int64_t v = 0;
  auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  TRAINER_CHECK(ec == std::errc() && p == it->second.data() + it->second.size(), path, ": metadata ", key, " = \"",
                it->second, "\" is not an integer");
  return v;
}

// A finite number > 0 (the loss scale).
double meta_positive(const std::map<std::string, std::string>& meta, const std::string& key, const std::string& path) {
  auto it = meta.find(key);
  TRAINER_CHECK(it != meta.end(), path, ": checkpoint metadata lacks \"", key, "\"");
  double v = 0;
  auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  TRAINER_CHECK(ec == std::errc() && p == it->second.data() + it->second.size() && std::isfinite(v) && v > 0, path,
                ": metadata ", key, " = \"", it->second, "\" is not a finite number > 0");
  return v;
}

}  // namespace

CheckpointManager::CheckpointManager(std::string directory, int keep_max)
    : directory_(std::move(directory)), keep_max_(std::max(keep_max, 1)) {}

std::string CheckpointManager::save(const nn::ParameterStore& store, const TrainingTensors& training,
                                    const TrainingState& s, const std::string& config_text,
                                    const std::string& architecture) const {
  std::error_code ec;
  fs::create_directories(directory_, ec);
  TRAINER_CHECK(fs::is_directory(directory_), "cannot create the model directory ", directory_, ": ", ec.message());
  // Device tensors are written from host copies (a no-op on the CPU).
  std::vector<NamedTensor> tensors;
  for (const nn::Parameter& p : store.params()) tensors.push_back({p.name, p.value.to(Device::cpu())});
  for (const nn::Buffer& b : store.buffers()) tensors.push_back({b.name, b.value.to(Device::cpu())});
  if (training.momentum) tensors.push_back({kOptimizer, training.momentum->to(Device::cpu())});
  if (training.moving_average) tensors.push_back({kMovingAverage, training.moving_average->to(Device::cpu())});
  const std::map<std::string, std::string> meta = {
      {"format", kFormat},
      {"architecture", architecture},
      {"step", std::to_string(s.step)},
      {"loader_epoch", std::to_string(s.loader_epoch)},
      {"loader_batch", std::to_string(s.loader_batch)},
      {"loss_scale", shortest_text(s.loss_scale)},
      {"loss_scale_good_steps", std::to_string(s.loss_scale_good_steps)},
      {"loss_scale_overflows", std::to_string(s.loss_scale_overflows)},
      {"skipped_steps", std::to_string(s.skipped_steps)},
      {"config", config_text}};
  char name[64];
  std::snprintf(name, sizeof name, "ckpt-%09lld.safetensors", static_cast<long long>(s.step));
  const std::string path = (fs::path(directory_) / name).string();
  // What a process killed mid-write left behind (never a checkpoint: only renamed files are).
  static const std::regex partial(R"(ckpt-\d+\.safetensors\.tmp)");
  for (const auto& entry : fs::directory_iterator(directory_, ec))
    if (std::regex_match(entry.path().filename().string(), partial)) fs::remove(entry.path(), ec);
  try {
    write_safetensors(path, tensors, meta);
  } catch (const Error& e) {
    const auto kept = latest();
    fail("checkpoint of step ", s.step, " not written: ", e.what(), "; ",
         kept ? "the newest checkpoint, " + *kept + ", is kept" : std::string("no earlier checkpoint exists"));
  }
  auto all = list_checkpoints(directory_);
  for (size_t i = 0; i + keep_max_ < all.size(); ++i) fs::remove(all[i].second, ec);
  return path;
}

std::optional<std::string> CheckpointManager::latest() const {
  auto all = list_checkpoints(directory_);
  if (all.empty()) return std::nullopt;
  return all.back().second.string();
}

std::vector<std::string> CheckpointManager::newest_first() const {
  std::vector<std::string> out;
  const auto all = list_checkpoints(directory_);
  for (auto it = all.rbegin(); it != all.rend(); ++it) out.push_back(it->second.string());
  return out;
}

bool is_trainer_checkpoint(const std::map<std::string, std::string>& metadata) {
  auto format = metadata.find("format");
  return format != metadata.end() && format->second == kFormat;
}

namespace {

// load_checkpoint on a file already read.
TrainingState load_from(const SafetensorsFile& file, const std::string& path, nn::ParameterStore& store,
                        const TrainingTensors& training) {
  auto format = file.metadata.find("format");
  TRAINER_CHECK(format != file.metadata.end() && format->second == kFormat, path, ": not a trainer checkpoint (format ",
                format == file.metadata.end() ? std::string("missing") : format->second, ", expected ", kFormat, ")");
  std::map<std::string, Tensor> weights = file.tensors;
  weights.erase(kOptimizer);
  weights.erase(kMovingAverage);
  const WeightMatch match = match_weights(store, weights);
  TRAINER_CHECK(match.complete(), path, " does not fit this model:", match.problems());
  copy_matched(store, weights, match);
  if (Tensor* momentum = training.momentum) {
    auto it = file.tensors.find(kOptimizer);
    if (it != file.tensors.end()) {
      TRAINER_CHECK(it->second.shape() == momentum->shape() && it->second.dtype() == momentum->dtype(), path,
                    ": optimizer state ", it->second.describe(), " does not fit ", momentum->describe());
      momentum->copy_from(it->second);
    } else {
      momentum->zero_();
    }
  }
  if (Tensor* average = training.moving_average) {
    auto it = file.tensors.find(kMovingAverage);
    const Tensor& from = it != file.tensors.end() ? it->second : store.values();
    TRAINER_CHECK(from.shape() == average->shape() && from.dtype() == average->dtype(), path, ": moving average ",
                  from.describe(), " does not fit ", average->describe());
    average->copy_from(from);
  }
  store.bump_version();
  TrainingState s;
  s.step = meta_int(file.metadata, "step", path);
  s.loader_epoch = meta_int(file.metadata, "loader_epoch", path);
  s.loader_batch = meta_int(file.metadata, "loader_batch", path);
  s.loss_scale_good_steps = meta_int(file.metadata, "loss_scale_good_steps", path);
  s.loss_scale = meta_positive(file.metadata, "loss_scale", path);
  // Absent from checkpoints written before they were counted.
  if (file.metadata.count("loss_scale_overflows")) s.loss_scale_overflows = meta_int(file.metadata, "loss_scale_overflows", path);
  if (file.metadata.count("skipped_steps")) s.skipped_steps = meta_int(file.metadata, "skipped_steps", path);
  return s;
}

}  // namespace

TrainingState load_checkpoint(const std::string& path, nn::ParameterStore& store, const TrainingTensors& training) {
  return load_from(read_safetensors(path), path, store, training);
}

TrainingState load_inference_weights(const std::string& path, nn::ParameterStore& store, bool moving_average) {
  const SafetensorsFile file = read_safetensors(path);
  const TrainingState state = load_from(file, path, store, {});
  if (!moving_average) return state;
  auto it = file.tensors.find(kMovingAverage);
  TRAINER_CHECK(it != file.tensors.end(), path, " has no moving average of the weights (", kMovingAverage,
                "): it was trained with train_config.optimizer.use_moving_average: false; set "
                "eval_config.use_moving_averages: false to use its weights");
  TRAINER_CHECK(it->second.numel() == store.values().numel() && it->second.dtype() == DType::F32, path, ": ",
                kMovingAverage, " ", it->second.describe(), " does not fit the model's ", store.values().numel(),
                " parameters");
  store.values().copy_from(it->second.reshape(store.values().shape()));
  store.bump_version();
  return state;
}

}  // namespace trainer::train
