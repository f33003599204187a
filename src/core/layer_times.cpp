#include "trainer/core/layer_times.h"

#include "trainer/core/error.h"

namespace trainer {
namespace {

constexpr const char* kBeforeFirstLayer = "before the first layer (step start, input copy)";
constexpr const char* kAfterLastLayer = "after the last layer";

bool lists(const std::string& list, const std::string& item) {
  for (size_t at = list.find(item); at != std::string::npos; at = list.find(item, at + 1)) {
    const size_t end = at + item.size();
    if ((at == 0 || list[at - 1] == ' ') && (end == list.size() || list[end] == ',')) return true;
  }
  return false;
}

}  // namespace

double LayerTimes::lap() {
  const Clock::time_point now = Clock::now();
  const double seconds = std::chrono::duration<double>(now - mark_).count();
  mark_ = now;
  return seconds;
}

int LayerTimes::row(Row::Kind kind, const std::string& name) {
  const std::string key = std::to_string(static_cast<int>(kind)) + name;
  const auto [it, added] = index_.emplace(key, static_cast<int>(rows_.size()));
  if (added) {
    rows_.emplace_back();
    rows_.back().kind = kind;
    rows_.back().name = name;
  }
  return it->second;
}

void LayerTimes::start_step() {
  open_.clear();
  gap_ = -1;
  previous_.clear();
  ++steps_;
  mark_ = Clock::now();
}

void LayerTimes::close_gap(Row::Kind fallback_kind, const std::string& fallback) {
  const double seconds = lap();
  const int target = !open_.empty() ? open_.back() : gap_ >= 0 ? gap_ : row(fallback_kind, fallback);
  rows_[target].forward_seconds += seconds;
  gap_ = -1;
}

void LayerTimes::enter(const std::string& layer) {
  double glue = 0;
  if (!open_.empty() || gap_ >= 0 || previous_.empty()) close_gap(Row::Kind::Outside, kBeforeFirstLayer);
  else glue = lap();
  const int r = row(Row::Kind::Layer, layer);
  rows_[r].forward_seconds += glue;
  ++rows_[r].calls;
  open_.push_back(r);
}

void LayerTimes::exit(const std::string& layer, const char* type) {
  TRAINER_CHECK(!open_.empty() && rows_[open_.back()].name == layer, "per-layer timing: layer ", layer,
                " reported its end without marking its beginning (nn::Module::begin)");
  const int r = open_.back();
  open_.pop_back();
  rows_[r].forward_seconds += lap();
  if (rows_[r].type.empty()) rows_[r].type = type;
  previous_ = layer;
  gap_ = -1;
}

int LayerTimes::recording(const char* op) {
  if (!open_.empty()) return open_.back();
  if (gap_ < 0) {
    gap_ = row(Row::Kind::Ops, previous_.empty() ? std::string(kBeforeFirstLayer) : "after " + previous_);
    ++rows_[gap_].calls;
  }
  std::string& ops = rows_[gap_].type;
  if (!lists(ops, op)) ops += (ops.empty() ? "" : ", ") + std::string(op);
  return gap_;
}

void LayerTimes::begin_backward() { close_gap(Row::Kind::Outside, kAfterLastLayer); }

void LayerTimes::closure_done(int row) { rows_[row].backward_seconds += lap(); }

void LayerTimes::outside(const std::string& what) { close_gap(Row::Kind::Outside, what); }

void LayerTimes::clear() {
  rows_.clear();
  index_.clear();
  open_.clear();
  gap_ = -1;
  previous_.clear();
  steps_ = 0;
}

}  // namespace trainer
