#include "trainer/data/box_ops.h"

#include <algorithm>
#include <cmath>

namespace trainer::data {
namespace {

template <class Keep>
void keep_if(std::vector<BoxAnnotation>& boxes, Keep keep) {
  boxes.erase(std::remove_if(boxes.begin(), boxes.end(), [&](const BoxAnnotation& b) { return !keep(b); }),
              boxes.end());
}

// tf.clip_by_value: min(max(v, lo), hi); a NaN stays NaN as in TensorFlow's kernel.
float clip_unit(float v) { return std::isnan(v) ? v : std::min(std::max(v, 0.0f), 1.0f); }

}  // namespace

void flip_boxes_left_right(std::vector<BoxAnnotation>& boxes) {
  for (auto& b : boxes) {
    const float xmin = 1.0f - b.xmax, xmax = 1.0f - b.xmin;
    b.xmin = xmin;
    b.xmax = xmax;
  }
}

void prune_completely_outside_window(std::vector<BoxAnnotation>& boxes, const BoxWindow& w) {
  // Written as TensorFlow's "any violation" test: a NaN coordinate violates nothing and stays.
  keep_if(boxes, [&](const BoxAnnotation& b) {
    return !(b.ymin >= w.ymax || b.xmin >= w.xmax || b.ymax <= w.ymin || b.xmax <= w.xmin);
  });
}

float intersection_over_box_area(const BoxWindow& w, const BoxAnnotation& b) {
  // box_list_ops.intersection then area, in its order: heights and widths clamped at 0.
  const float height = std::max(0.0f, std::min(w.ymax, b.ymax) - std::max(w.ymin, b.ymin));
  const float width = std::max(0.0f, std::min(w.xmax, b.xmax) - std::max(w.xmin, b.xmin));
  const float area = (b.ymax - b.ymin) * (b.xmax - b.xmin);
  return height * width / area;
}

void prune_non_overlapping_boxes(std::vector<BoxAnnotation>& boxes, const BoxWindow& window, float min_overlap) {
  keep_if(boxes, [&](const BoxAnnotation& b) { return intersection_over_box_area(window, b) >= min_overlap; });
}

void change_coordinate_frame(std::vector<BoxAnnotation>& boxes, const BoxWindow& w) {
  // TensorFlow subtracts the window's corner, then scales by 1 / size (one float division, then
  // products), not a division per coordinate: the last bit follows that order.
  const float y_scale = 1.0f / (w.ymax - w.ymin), x_scale = 1.0f / (w.xmax - w.xmin);
  for (auto& b : boxes) {
    b.ymin = (b.ymin - w.ymin) * y_scale;
    b.xmin = (b.xmin - w.xmin) * x_scale;
    b.ymax = (b.ymax - w.ymin) * y_scale;
    b.xmax = (b.xmax - w.xmin) * x_scale;
  }
}

void clip_boxes_to_unit(std::vector<BoxAnnotation>& boxes) {
  for (auto& b : boxes) {
    b.ymin = clip_unit(b.ymin);
    b.xmin = clip_unit(b.xmin);
    b.ymax = clip_unit(b.ymax);
    b.xmax = clip_unit(b.xmax);
  }
}

}  // namespace trainer::data
