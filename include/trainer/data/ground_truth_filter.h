// The checks every detection dataset applies to the objects it reads, so that bad annotations
// cost a box, never a run: a NaN coordinate drops the box (TensorFlow's
// filter_groundtruth_with_nan_box_coordinates); a class id outside 1..num_classes or missing
// from the label map drops the box; coordinates outside [0, 1] are clipped, and a box left with
// no area (zero-area, inverted, or wholly outside the image) is dropped. Each kind is counted
// and logged once per dataset with the first offender (sample and object number); an image
// left without boxes is kept (all its anchors become negatives).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "trainer/data/annotations.h"
#include "trainer/data/label_map.h"

namespace trainer::data {

struct GroundTruthCounts {
  int64_t nan_dropped = 0;        // a NaN coordinate
  int64_t bad_label_dropped = 0;  // class id outside 1..num_classes or not in the label map
  int64_t clipped = 0;            // a coordinate outside [0, 1], clipped (the box kept)
  int64_t empty_dropped = 0;      // no area after clipping: zero-area, inverted or outside
};

class GroundTruthFilter {
 public:
  // dataset: names the dataset in the once-per-dataset warnings. label_map may be null.
  GroundTruthFilter(std::string dataset, int64_t num_classes, std::shared_ptr<const LabelMap> label_map);

  // Cleans the boxes of one sample in place, in order: NaN, label, clip, area. `sample` names
  // the sample (file@offset, path) in warnings; class_texts, when the labels came from
  // image/object/class/text, gives each box's text for them. Thread-safe.
  void clean(std::vector<BoxAnnotation>& boxes, std::string_view sample,
             const std::vector<std::string>* class_texts = nullptr) const;

  GroundTruthCounts counts() const;
  int64_t num_classes() const { return num_classes_; }
  const std::shared_ptr<const LabelMap>& label_map() const { return label_map_; }

 private:
  std::string dataset_;
  int64_t num_classes_;
  std::shared_ptr<const LabelMap> label_map_;
  mutable std::atomic<int64_t> nan_dropped_{0}, bad_label_dropped_{0}, clipped_{0}, empty_dropped_{0};
  mutable std::atomic<bool> warned_nan_{false}, warned_label_{false}, warned_clip_{false}, warned_empty_{false};
};

}  // namespace trainer::data
