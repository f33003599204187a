#include "trainer/models/detectors/ssd_loss.h"

#include <algorithm>

#include "trainer/ops/detection_loss.h"
#include "trainer/ops/elementwise.h"

namespace trainer::models {

SsdLoss ssd_loss(Context& ctx, const Tensor& class_logits, const Tensor& box_codes, const BatchTargets& targets,
                 const SsdLossOptions& o) {
  const Tensor cls = ops::sigmoid_focal_loss(ctx, class_logits, targets.cls_targets, targets.cls_weights,
                                             o.focal_alpha, o.focal_gamma);
  const Tensor loc = ops::smooth_l1_loss(ctx, box_codes, targets.reg_targets, targets.reg_weights, o.smooth_l1_delta);
  SsdLoss loss;
  // TF: normalizer = max(reduce_sum(batch_reg_weights), 1), in float32.
  loss.normalizer =
      o.normalize_loss_by_num_matches ? std::max(static_cast<double>(targets.num_positives), 1.0) : 1.0;
  const double loc_normalizer = loss.normalizer * (o.normalize_loc_loss_by_codesize ? box_codes.dim(2) : 1);
  loss.classification = ops::scale(ctx, cls, static_cast<float>(o.classification_weight / loss.normalizer));
  loss.localization = ops::scale(ctx, loc, static_cast<float>(o.localization_weight / loc_normalizer));
  return loss;
}

}  // namespace trainer::models
