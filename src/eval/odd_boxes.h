// Boxes with a zero or negative width or height. pycocotools evaluates them as they are (their
// IoU with any box is 0, and a detection's area w*h can be negative); we do the same, and say
// so once per file.
#pragma once

#include <cstddef>
#include <string_view>

#include "trainer/eval/coco.h"

namespace trainer::eval::detail {

inline bool is_odd_box(const BBox& b) { return !(b.w > 0 && b.h > 0); }

// Logs one warning naming how many boxes are odd and the first one, as `source: N boxes ...,
// the first array[first].bbox [x, y, w, h]`.
void warn_odd_boxes(std::string_view source, std::string_view array, size_t count, size_t first,
                    const BBox& box);

// The warning for a file's annotations or detections (anything with a `bbox`), if any is odd.
template <class Items>
void warn_odd_boxes(const Items& items, std::string_view source, std::string_view array) {
  size_t count = 0, first = 0;
  for (size_t i = 0; i < items.size(); ++i)
    if (is_odd_box(items[i].bbox) && count++ == 0) first = i;
  if (count > 0) warn_odd_boxes(source, array, count, first, items[first].bbox);
}

}  // namespace trainer::eval::detail
