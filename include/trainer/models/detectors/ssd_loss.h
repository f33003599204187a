// The loss of meta_architectures/ssd_meta_arch.py `loss` for the SSD320 config (no hard example
// mining, no sampler): sigmoid focal classification loss over all num_classes + 1 slots and
// smooth-L1 localization loss over the box codes, both summed and normalised by the number of
// positives in the batch (at least 1), the localization loss also by the code size.
#pragma once

#include "trainer/models/detectors/target_assigner.h"
#include "trainer/ops/context.h"

namespace trainer::models {

struct SsdLossOptions {
  float focal_alpha = 0.25f;  // < 0: no alpha factor
  float focal_gamma = 2.0f;
  float smooth_l1_delta = 1.0f;
  float classification_weight = 1.0f;
  float localization_weight = 1.0f;
  bool normalize_loss_by_num_matches = true;
  bool normalize_loc_loss_by_codesize = true;
};

struct SsdLoss {
  Tensor classification;  // F32 scalar, recorded on the tape
  Tensor localization;    // F32 scalar, recorded on the tape
  double normalizer = 1;  // max(num_positives, 1), or 1 without normalize_loss_by_num_matches
};

// class_logits: [N, A, num_classes + 1] f32/bf16, box_codes: [N, A, 4] f32/bf16; targets from
// assign_targets_batch for the same anchors.
//   classification = classification_weight / normalizer * sum focal
//   localization   = localization_weight / (normalizer * 4) * sum smooth_l1
SsdLoss ssd_loss(Context& ctx, const Tensor& class_logits, const Tensor& box_codes, const BatchTargets& targets,
                 const SsdLossOptions& options);

}  // namespace trainer::models
