// Wall time spent in named parts of a network (depthwise convolutions, squeeze-excite), forward
// and backward, for benchmark mode's breakdown. Model code marks a part with ops::PartScope; the
// tape times the backward closures recorded inside it. CPU work is synchronous, so the time
// between entering and leaving a part is its own; on CUDA it would be launch time only, so
// benchmark mode reports parts on the CPU only.
#pragma once

#include <map>
#include <string>

namespace trainer {

class PartTimes {
 public:
  void add(const char* part, double seconds) { seconds_[part] += seconds; }
  const std::map<std::string, double>& seconds() const { return seconds_; }
  void clear() { seconds_.clear(); }

 private:
  std::map<std::string, double> seconds_;
};

}  // namespace trainer
