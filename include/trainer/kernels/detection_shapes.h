// What the detection post-processing kernels of both backends take (kernels/shapes.h's
// sibling): the scores layout and where batched multi-class NMS writes its detections. The
// op front-end (ops/detection_postprocess.h) describes its work with these once and runs it
// on either backend.
#pragma once

#include <cstdint>

namespace trainer {

// Class scores of a detection head: logits [images, anchors, slots] in, sigmoid(logit /
// logit_scale) out for the slots after the first `background` ones (the background class,
// sliced off), class-major [images, classes(), anchors] so each class's NMS pass reads one
// contiguous column.
struct DetectionScoresShape {
  int64_t images = 0, anchors = 0, slots = 0;
  int64_t background = 1;  // 1: slot 0 is the background; 0: every slot is a class
  float logit_scale = 1.f;

  int64_t classes() const { return slots - background; }
};

// Where batched multi-class NMS writes each image's detections, best first: `capacity` slots
// per image (multiclass_nms_capacity, kernels/cpu/box_ops.h), the first counts[i] of image i
// valid, the rest zero with class -1.
struct NmsDetections {
  float* boxes = nullptr;      // [images, capacity, 4] (clipped when options.clip)
  float* scores = nullptr;     // [images, capacity]
  int32_t* classes = nullptr;  // [images, capacity] column of the scores (cpu::Detection::class_index)
  int32_t* counts = nullptr;   // [images]
};

}  // namespace trainer
