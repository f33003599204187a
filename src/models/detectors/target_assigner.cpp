#include "trainer/models/detectors/target_assigner.h"

#include <algorithm>
#include <exception>

#include "trainer/core/error.h"

namespace trainer::models {

int64_t assign_targets(const float* anchors, int64_t num_anchors, const ImageGroundTruth& gt, int64_t num_classes,
                       const TargetAssignerOptions& o, const ImageTargets& out) {
  TRAINER_CHECK(num_classes >= 1, "assign_targets: num_classes ", num_classes, " must be >= 1");
  TRAINER_CHECK(gt.count == 0 || (gt.boxes && gt.labels), "assign_targets: ", gt.count,
                " ground-truth boxes without box or label data");
  // Crowd boxes leave the matching; `rows` maps matrix rows back to ground-truth indices.
  std::vector<int64_t> rows;
  std::vector<float> boxes;
  for (int64_t g = 0; g < gt.count; ++g) {
    TRAINER_CHECK(gt.labels[g] >= 1 && gt.labels[g] <= num_classes, "assign_targets: ground-truth box ", g,
                  " has label ", gt.labels[g], " outside 1..", num_classes);
    if (gt.is_crowd && gt.is_crowd[g]) continue;
    rows.push_back(g);
    boxes.insert(boxes.end(), gt.boxes + 4 * g, gt.boxes + 4 * g + 4);
  }
  const int64_t num_rows = static_cast<int64_t>(rows.size());

  // IoU similarity [rows, anchors] (box_list_ops.iou(groundtruth, anchors)), then the matcher.
  std::vector<float> similarity(static_cast<size_t>(num_rows * num_anchors));
  cpu::iou_matrix(boxes.data(), num_rows, anchors, num_anchors, similarity.data());
  std::vector<int32_t> match(static_cast<size_t>(num_anchors));
  argmax_match(similarity.data(), num_rows, num_anchors, o.matcher, nullptr, match.data());

  const int64_t slots = num_classes + (o.background_slot ? 1 : 0), first_class = o.background_slot ? 0 : 1;
  std::fill(out.cls_targets, out.cls_targets + num_anchors * slots, 0.f);
  std::fill(out.reg_targets, out.reg_targets + num_anchors * 4, 0.f);
  int64_t positives = 0;
  for (int64_t a = 0; a < num_anchors; ++a) {
    const int32_t m = match[a];
    if (m >= 0) {
      const int64_t g = rows[m];
      out.cls_targets[a * slots + gt.labels[g] - first_class] = 1.f;
      out.cls_weights[a] = 1.f;
      out.reg_weights[a] = 1.f;
      cpu::encode_boxes(gt.boxes + 4 * g, anchors + 4 * a, 1, o.box_coder, out.reg_targets + 4 * a);
      ++positives;
    } else {
      out.cls_weights[a] = m == kIgnored ? 0.f : o.negative_class_weight;
      out.reg_weights[a] = 0.f;
    }
    if (out.matches) out.matches[a] = m >= 0 ? static_cast<int32_t>(rows[m]) : m;
  }
  return positives;
}

BatchTargets assign_targets_batch(const Tensor& anchors, const std::vector<ImageGroundTruth>& images,
                                  int64_t num_classes, const TargetAssignerOptions& o) {
  TRAINER_CHECK(anchors.dtype() == DType::F32 && anchors.rank() == 2 && anchors.dim(1) == 4 &&
                    anchors.device().is_cpu(),
                "assign_targets_batch: anchors ", anchors.describe(), " are not a CPU f32 [A, 4] tensor");
  validate(o.matcher);
  const Tensor anchor_data = anchors.contiguous();
  const int64_t n = static_cast<int64_t>(images.size()), a = anchors.dim(0),
                slots = num_classes + (o.background_slot ? 1 : 0);
  BatchTargets t;
  t.cls_targets = Tensor::empty({n, a, slots}, DType::F32);
  t.cls_weights = Tensor::empty({n, a}, DType::F32);
  t.reg_targets = Tensor::empty({n, a, 4}, DType::F32);
  t.reg_weights = Tensor::empty({n, a}, DType::F32);
  t.matches = Tensor::empty({n, a}, DType::I32);
  std::vector<int64_t> positives(static_cast<size_t>(n));
  // An error thrown inside an OpenMP region would terminate: catch it per image, rethrow after.
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t i = 0; i < n; ++i) {
    try {
      const ImageTargets out{t.cls_targets.data<float>() + i * a * slots, t.cls_weights.data<float>() + i * a,
                             t.reg_targets.data<float>() + i * a * 4, t.reg_weights.data<float>() + i * a,
                             t.matches.data<int32_t>() + i * a};
      positives[i] = assign_targets(anchor_data.data<float>(), a, images[i], num_classes, o, out);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  }
  for (int64_t i = 0; i < n; ++i)
    if (errors[i]) {
      try {
        std::rethrow_exception(errors[i]);
      } catch (const Error& e) {
        fail("image ", i, " of the batch: ", e.what());
      }
    }
  for (int64_t p : positives) t.num_positives += p;
  return t;
}

}  // namespace trainer::models
