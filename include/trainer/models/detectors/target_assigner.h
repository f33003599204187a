// SSD target assignment as the TF Object Detection API does it for NVIDIA's SSD320 config
// (core/target_assigner.py `assign` called by meta_architectures/ssd_meta_arch.py
// `_assign_targets`): IoU of ground truth against anchors, the argmax matcher, the Faster R-CNN
// box coder, and class targets with an added background slot encoded as zeros.
#pragma once

#include <cstdint>
#include <vector>

#include "trainer/core/tensor.h"
#include "trainer/kernels/cpu/box_ops.h"
#include "trainer/models/detectors/argmax_matcher.h"

namespace trainer::models {

struct TargetAssignerOptions {
  ArgmaxMatcherOptions matcher;    // SSD320: 0.5 / 0.5, negatives below, force match each row
  cpu::BoxCoderScales box_coder;   // SSD320: 10, 10, 5, 5
  float negative_class_weight = 1.0f;  // classification weight of unmatched anchors
  // add_background_class: class targets have a background slot 0 (always 0 here), so label l is
  // slot l; without it (EfficientDet's config) there are num_classes slots and label l is slot l - 1.
  bool background_slot = true;
};

// One image's ground truth (a view; the caller owns the memory).
struct ImageGroundTruth {
  const float* boxes = nullptr;       // [count, 4] normalised [ymin, xmin, ymax, xmax]
  const int32_t* labels = nullptr;    // [count] class ids 1..num_classes
  const uint8_t* is_crowd = nullptr;  // [count] or null (no crowd boxes)
  int64_t count = 0;
};

// Where one image's targets go (caller-provided, every element is written).
struct ImageTargets {
  float* cls_targets = nullptr;  // [A, slots]: num_classes + 1 with the background slot, else num_classes
  float* cls_weights = nullptr;  // [A]
  float* reg_targets = nullptr;  // [A, 4]
  float* reg_weights = nullptr;  // [A]
  int32_t* matches = nullptr;    // [A] or null: ground-truth index (into the view), kUnmatched, kIgnored
};

// Assigns one image's targets and returns its number of positives (anchors matched to a box).
// - Class targets have num_classes + 1 slots, slot 0 the background, which is always 0
//   (encode_background_as_zeros); a positive gets a one-hot 1 at slot `label`; unmatched and
//   ignored anchors get all zeros. Without the background slot: num_classes slots, label - 1.
// - Class weights: 1 for positives, negative_class_weight for unmatched anchors, 0 for ignored.
// - Regression targets and weights: the encoded matched box and 1 for positives; zeros and 0
//   otherwise.
// - Crowd boxes are dropped before matching, so they never make a positive and never force a
//   match; anchors covering only a crowd box become negatives. (Our choice: TF's SSD training
//   has no crowd handling; the COCO evaluator ignores detections on crowd regions instead.)
// - A box that overlaps no anchor at all still force-matches anchor 0 (tf.argmax of an
//   all-zero row), as in TF; zero-area boxes do the same with huge regression targets, so
//   the data pipeline should drop degenerate boxes.
// anchors: [num_anchors, 4]
int64_t assign_targets(const float* anchors, int64_t num_anchors, const ImageGroundTruth& gt, int64_t num_classes,
                       const TargetAssignerOptions& options, const ImageTargets& out);

struct BatchTargets {
  Tensor cls_targets;  // F32 [N, A, slots]
  Tensor cls_weights;  // F32 [N, A]
  Tensor reg_targets;  // F32 [N, A, 4]
  Tensor reg_weights;  // F32 [N, A]
  Tensor matches;      // I32 [N, A]
  int64_t num_positives = 0;  // over the batch: sum(reg_weights), the loss normaliser before max(., 1)
};

// assign_targets for every image of a batch (images in parallel).
// anchors: F32 [A, 4]
BatchTargets assign_targets_batch(const Tensor& anchors, const std::vector<ImageGroundTruth>& images,
                                  int64_t num_classes, const TargetAssignerOptions& options);

}  // namespace trainer::models
