// The TF Object Detection API's box-list operations that augmentation applies to normalised
// boxes (object_detection/core/box_list_ops.py and preprocessor.py), in float32 and in
// TensorFlow's operation order, so kept and dropped boxes and their coordinates are TensorFlow's.
// Each keeps the surviving boxes in order with their label, crowd flag and area (the BoxList
// "extra fields").
#pragma once

#include <vector>

#include "trainer/data/annotations.h"

namespace trainer::data {

// A region of the image in normalised coordinates, [ymin, xmin, ymax, xmax].
struct BoxWindow {
  float ymin = 0, xmin = 0, ymax = 1, xmax = 1;
};

// _flip_boxes_left_right: xmin' = 1 - xmax, xmax' = 1 - xmin.
void flip_boxes_left_right(std::vector<BoxAnnotation>& boxes);

// prune_completely_outside_window: drops boxes with ymin >= window.ymax, xmin >= window.xmax,
// ymax <= window.ymin or xmax <= window.xmin (touching the window's edge is outside).
void prune_completely_outside_window(std::vector<BoxAnnotation>& boxes, const BoxWindow& window);

// Intersection over the box's own area (box_list_ops.ioa(window, box)). A zero-area box gives
// 0/0 = NaN, an inverted one a negative area.
float intersection_over_box_area(const BoxWindow& window, const BoxAnnotation& box);

// prune_non_overlapping_boxes(boxes, window, min_overlap): keeps boxes whose
// intersection_over_box_area >= min_overlap. NaN never passes, so zero-area boxes are dropped.
void prune_non_overlapping_boxes(std::vector<BoxAnnotation>& boxes, const BoxWindow& window, float min_overlap);

// change_coordinate_frame: coordinates relative to the window, (y - window.ymin) *
// (1 / window height), likewise x; the window becomes [0, 0, 1, 1].
void change_coordinate_frame(std::vector<BoxAnnotation>& boxes, const BoxWindow& window);

// tf.clip_by_value(boxes, 0, 1) on every coordinate (boxes may become empty; nothing is dropped).
void clip_boxes_to_unit(std::vector<BoxAnnotation>& boxes);

}  // namespace trainer::data
