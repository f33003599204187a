// SSD target assignment as the TF Object Detection API does it for NVIDIA's SSD320 config
// (core/target_assigner.py `assign` called by meta_architectures/ssd_meta_arch.py
// `_assign_targets`): IoU of ground truth against anchors, the argmax matcher, the Faster R-CNN
// box coder, and class targets with an added background slot encoded as zeros.
#pragma once

#include <cstdint>
#include <vector>

#include "trainer/core/tensor.h"
#include "trainer/kernels/cuda/stream.h"
#include "trainer/models/detectors/argmax_matcher.h"

namespace trainer::models {

using trainer::TargetAssignerOptions;  // kernels/target_assign_options.h, shared with CUDA

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

// assign_targets for every image of a batch, on the anchors' device; the targets' tensors are
// on that device too. The ground truth is host memory (the views).
// - CPU anchors: assign_targets per image, images in parallel.
// - CUDA anchors: the CUDA kernels (kernels/cuda/target_assign.h) on `stream`, with the same
//   results (regression targets up to the GPU's logf). The labels are checked on the host first
//   (the same error as the CPU's); the ground truth then goes up packed in one buffer, one
//   host-to-device copy, and num_positives comes back in one small device-to-host copy, which
//   waits for the work queued before it (the forward pass, when the loss calls this).
// anchors: F32 [A, 4]
BatchTargets assign_targets_batch(const Tensor& anchors, const std::vector<ImageGroundTruth>& images,
                                  int64_t num_classes, const TargetAssignerOptions& options,
                                  cuda::Stream stream = nullptr);

}  // namespace trainer::models
