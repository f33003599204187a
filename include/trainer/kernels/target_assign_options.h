// The options of detection target assignment (the TF Object Detection API's argmax matcher and
// target assigner), shared by the CPU code (models/detectors/argmax_matcher.h,
// target_assigner.h) and the CUDA kernels (kernels/cuda/target_assign.h): one definition, so
// both backends are told the same thing by the config.
#pragma once

#include <cstdint>

#include "trainer/core/error.h"
#include "trainer/kernels/cpu/box_ops.h"  // BoxCoderScales

namespace trainer {

// Match results per anchor: a ground-truth row >= 0, or one of these.
constexpr int32_t kUnmatched = -1;  // a negative (background) anchor
constexpr int32_t kIgnored = -2;    // neither positive nor negative: no loss at all

struct ArgmaxMatcherOptions {
  // The config's ignore_thresholds: true matches every column to its best row (no thresholds).
  bool ignore_thresholds = false;
  float matched_threshold = 0.5f;    // positive if the best similarity >= this
  float unmatched_threshold = 0.5f;  // must be <= matched_threshold
  // true: best < unmatched is negative and unmatched <= best < matched is ignored;
  // false: the other way round (then the thresholds must differ).
  bool negatives_lower_than_unmatched = true;
  // Each valid row claims the column it is most similar to, whatever the thresholds.
  bool force_match_for_each_row = true;
};

// Checks the matcher constructor's rules; throws naming the offending values.
inline void validate(const ArgmaxMatcherOptions& o) {
  if (o.ignore_thresholds) return;
  TRAINER_CHECK(o.unmatched_threshold <= o.matched_threshold, "argmax matcher: unmatched_threshold ",
                o.unmatched_threshold, " is greater than matched_threshold ", o.matched_threshold);
  TRAINER_CHECK(o.negatives_lower_than_unmatched || o.unmatched_threshold != o.matched_threshold,
                "argmax matcher: with negatives between the thresholds (negatives_lower_than_unmatched: false) ",
                "matched_threshold and unmatched_threshold cannot both be ", o.matched_threshold);
}

struct TargetAssignerOptions {
  ArgmaxMatcherOptions matcher;    // SSD320: 0.5 / 0.5, negatives below, force match each row
  cpu::BoxCoderScales box_coder;   // SSD320: 10, 10, 5, 5
  float negative_class_weight = 1.0f;  // classification weight of unmatched anchors
  // add_background_class: class targets have a background slot 0 (always 0 here), so label l is
  // slot l; without it (EfficientDet's config) there are num_classes slots and label l is slot l - 1.
  bool background_slot = true;
};

}  // namespace trainer
