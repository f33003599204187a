// SSD target assignment on the CUDA backend for a whole batch: the argmax matcher
// (models/detectors/argmax_matcher.h) and models::assign_targets_batch
// (models/detectors/target_assigner.h), with the same results, on device memory.
//
// The options (ArgmaxMatcherOptions, TargetAssignerOptions) and the match codes (kUnmatched,
// kIgnored) are kernels/target_assign_options.h's, the same the CPU code takes. Pointers are
// device memory unless said otherwise. Asynchronous on `stream`; scratch from the caching
// allocator (runtime.h).
#pragma once

#include <cstdint>

#include "trainer/kernels/cuda/stream.h"
#include "trainer/kernels/target_assign_options.h"

namespace trainer::cuda {

// models::argmax_match on a device similarity matrix: [num_rows, num_cols] f32 (rows = ground
// truth, columns = anchors); valid_rows: [num_rows] or null (all valid); matches: [num_cols].
// Same rules: first row on ties per column, thresholds, force match with the first column on
// ties per valid row and the lowest row winning a contested column; no rows: all kUnmatched.
// Similarities must not be NaN. Throws (on the host, before launching) for invalid options.
void argmax_match(const float* similarity, int64_t num_rows, int64_t num_cols, const ArgmaxMatcherOptions& options,
                  const uint8_t* valid_rows, int32_t* matches, Stream stream);

// A batch's ground truth packed image after image: image i owns rows offsets[i] ..
// offsets[i + 1] - 1 of the arrays (the rows of models::ImageGroundTruth i, in order).
struct BatchGroundTruth {
  const float* boxes = nullptr;       // [total, 4] normalised [ymin, xmin, ymax, xmax]
  const int32_t* labels = nullptr;    // [total] class ids 1..num_classes
  const uint8_t* is_crowd = nullptr;  // [total] or null (no crowd boxes)
  const int64_t* offsets = nullptr;   // [images + 1], offsets[0] = 0, offsets[images] = total
  int64_t images = 0;                 // host value
  int64_t total = 0;                  // host value: rows of all images
};

// Where the targets go: models::BatchTargets' tensors, every element written.
struct BatchTargetsOut {
  float* cls_targets = nullptr;     // [images, A, slots]: num_classes + 1 with the background slot, else num_classes
  float* cls_weights = nullptr;     // [images, A]
  float* reg_targets = nullptr;     // [images, A, 4]
  float* reg_weights = nullptr;     // [images, A]
  int32_t* matches = nullptr;       // [images, A] or null: row within the image, kUnmatched, kIgnored
  int64_t* num_positives = nullptr; // [1] or null: anchors matched over the batch (BatchTargets::num_positives)
  // [1] or null: ground-truth rows whose label is outside 1..num_classes. The CPU version throws
  // for them; here such a positive gets no class slot (its class row stays all zero). For
  // ground truth that is on the device already; models::assign_targets_batch checks host labels
  // before it uploads them instead.
  int32_t* invalid_labels = nullptr;
};

// models::assign_targets_batch on the device: per image, crowd boxes dropped, IoU of the
// remaining boxes against the anchors, the argmax matcher, class targets (one-hot at the
// label's slot for positives: slot label with options.background_slot, whose slot 0 stays 0,
// else slot label - 1), class weights (1 / negative_class_weight / 0
// for positive / unmatched / ignored), Faster R-CNN-encoded regression targets with weight 1
// for positives, zeros elsewhere. Matching decisions and class targets equal the CPU's exactly;
// regression targets up to the GPU's logf (1-2 ulp; exact in the emulated build).
// anchors: [num_anchors, 4]
void assign_targets_batch(const float* anchors, int64_t num_anchors, const BatchGroundTruth& gt,
                          int64_t num_classes, const TargetAssignerOptions& options, const BatchTargetsOut& out,
                          Stream stream);

}  // namespace trainer::cuda
