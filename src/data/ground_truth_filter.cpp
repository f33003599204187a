#include "trainer/data/ground_truth_filter.h"

#include <algorithm>
#include <cmath>

#include "trainer/core/error.h"
#include "trainer/core/log.h"

namespace trainer::data {
namespace {

std::string coords(const BoxAnnotation& b) {
  return str("[ymin ", b.ymin, ", xmin ", b.xmin, ", ymax ", b.ymax, ", xmax ", b.xmax, "]");
}

// Logs `message` the first time `flag` is raised: one line per kind and dataset, not per box.
template <class... Args>
void warn_once(std::atomic<bool>& flag, Args&&... message) {
  if (!flag.exchange(true)) log_warn(std::forward<Args>(message)...);
}

}  // namespace

GroundTruthFilter::GroundTruthFilter(std::string dataset, int64_t num_classes, std::shared_ptr<const LabelMap> label_map)
    : dataset_(std::move(dataset)), num_classes_(num_classes), label_map_(std::move(label_map)) {
  TRAINER_CHECK(num_classes_ > 0, dataset_, ": num_classes must be positive (object class ids are 1..num_classes), got ",
                num_classes_);
}

void GroundTruthFilter::clean(std::vector<BoxAnnotation>& boxes, std::string_view sample,
                              const std::vector<std::string>* class_texts) const {
  std::vector<BoxAnnotation> kept;
  kept.reserve(boxes.size());
  for (size_t i = 0; i < boxes.size(); ++i) {
    BoxAnnotation b = boxes[i];
    if (std::isnan(b.ymin) || std::isnan(b.xmin) || std::isnan(b.ymax) || std::isnan(b.xmax)) {
      ++nan_dropped_;
      warn_once(warned_nan_, "data: ", sample, ": object ", i, " has a NaN coordinate ", coords(b),
                "; dropping such boxes (as TensorFlow does; warned once for ", dataset_, ")");
      continue;
    }
    const bool in_range = b.label >= 1 && b.label <= num_classes_;
    if (!in_range || (label_map_ && !label_map_->contains(b.label))) {
      ++bad_label_dropped_;
      const std::string text = class_texts && i < class_texts->size() ? str(" (class text \"", (*class_texts)[i], "\")") : "";
      warn_once(warned_label_, "data: ", sample, ": object ", i, " has class id ", b.label, text, ", ",
                in_range ? str("which is not in the label map ", label_map_->source())
                         : str("outside 1..", num_classes_, " (num_classes)"),
                "; dropping such boxes (warned once for ", dataset_, ")");
      continue;
    }
    const BoxAnnotation original = b;
    for (float* v : {&b.ymin, &b.xmin, &b.ymax, &b.xmax}) *v = std::clamp(*v, 0.0f, 1.0f);
    if (!(b.ymax > b.ymin && b.xmax > b.xmin)) {
      ++empty_dropped_;
      warn_once(warned_empty_, "data: ", sample, ": object ", i, " has no area inside the image ", coords(original),
                " (zero-area, inverted or outside); dropping such boxes (warned once for ", dataset_, ")");
      continue;
    }
    if (b.ymin != original.ymin || b.xmin != original.xmin || b.ymax != original.ymax || b.xmax != original.xmax) {
      ++clipped_;
      warn_once(warned_clip_, "data: ", sample, ": object ", i, " reaches outside the image ", coords(original),
                "; clipping such boxes to [0, 1] (warned once for ", dataset_, ")");
    }
    kept.push_back(b);
  }
  boxes = std::move(kept);
}

GroundTruthCounts GroundTruthFilter::counts() const {
  return {nan_dropped_.load(), bad_label_dropped_.load(), clipped_.load(), empty_dropped_.load()};
}

}  // namespace trainer::data
