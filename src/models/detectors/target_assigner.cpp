#include "trainer/models/detectors/target_assigner.h"

#include <algorithm>
#include <cstring>
#include <exception>

#include "trainer/core/device_upload.h"
#include "trainer/core/error.h"
#if TRAINER_HAS_CUDA_KERNELS
#include "trainer/kernels/cuda/target_assign.h"
#endif

namespace trainer::models {
namespace {

// What assign_targets requires of one image's ground truth; the CUDA path checks it on the host
// before the upload, so both backends refuse the same input with the same words.
void check_ground_truth(const ImageGroundTruth& gt, int64_t num_classes) {
  TRAINER_CHECK(num_classes >= 1, "assign_targets: num_classes ", num_classes, " must be >= 1");
  TRAINER_CHECK(gt.count == 0 || (gt.boxes && gt.labels), "assign_targets: ", gt.count,
                " ground-truth boxes without box or label data");
  for (int64_t g = 0; g < gt.count; ++g)
    TRAINER_CHECK(gt.labels[g] >= 1 && gt.labels[g] <= num_classes, "assign_targets: ground-truth box ", g,
                  " has label ", gt.labels[g], " outside 1..", num_classes);
}

[[noreturn]] void fail_in_image(int64_t image, const Error& e) { fail("image ", image, " of the batch: ", e.what()); }

BatchTargets empty_targets(int64_t images, int64_t anchors, int64_t slots, Device device) {
  BatchTargets t;
  t.cls_targets = Tensor::empty({images, anchors, slots}, DType::F32, device);
  t.cls_weights = Tensor::empty({images, anchors}, DType::F32, device);
  t.reg_targets = Tensor::empty({images, anchors, 4}, DType::F32, device);
  t.reg_weights = Tensor::empty({images, anchors}, DType::F32, device);
  t.matches = Tensor::empty({images, anchors}, DType::I32, device);
  return t;
}

BatchTargets assign_on_cpu(const Tensor& anchors, const std::vector<ImageGroundTruth>& images, int64_t num_classes,
                           const TargetAssignerOptions& o) {
  const Tensor anchor_data = anchors.contiguous();
  const int64_t n = static_cast<int64_t>(images.size()), a = anchors.dim(0),
                slots = num_classes + (o.background_slot ? 1 : 0);
  BatchTargets t = empty_targets(n, a, slots, Device::cpu());
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
        fail_in_image(i, e);
      }
    }
  for (int64_t p : positives) t.num_positives += p;
  return t;
}

#if TRAINER_HAS_CUDA_KERNELS
BatchTargets assign_on_cuda(const Tensor& anchors, const std::vector<ImageGroundTruth>& images, int64_t num_classes,
                            const TargetAssignerOptions& o, cuda::Stream stream) {
  const int64_t n = static_cast<int64_t>(images.size()), a = anchors.dim(0),
                slots = num_classes + (o.background_slot ? 1 : 0);
  int64_t total = 0;
  for (int64_t i = 0; i < n; ++i) {
    try {
      check_ground_truth(images[i], num_classes);
    } catch (const Error& e) {
      fail_in_image(i, e);
    }
    total += images[i].count;
  }
  // The ground truth in one host buffer, so it goes up in one copy: offsets (i64, n + 1), boxes
  // (f32, total x 4), labels (i32, total), crowd flags (u8, total), each 8-byte aligned.
  const int64_t boxes_at = 8 * (n + 1), labels_at = boxes_at + 16 * total,
                crowd_at = labels_at + (4 * total + 7) / 8 * 8, bytes = crowd_at + total;
  const Tensor packed = Tensor::empty({bytes}, DType::U8);
  char* host = static_cast<char*>(packed.raw());
  auto* offsets = reinterpret_cast<int64_t*>(host);
  offsets[0] = 0;
  for (int64_t i = 0; i < n; ++i) {
    const ImageGroundTruth& gt = images[i];
    const int64_t at = offsets[i], count = gt.count;
    if (count > 0) {
      std::memcpy(host + boxes_at + 16 * at, gt.boxes, 16 * count);
      std::memcpy(host + labels_at + 4 * at, gt.labels, 4 * count);
      if (gt.is_crowd) std::memcpy(host + crowd_at + at, gt.is_crowd, count);
      else std::memset(host + crowd_at + at, 0, count);
    }
    offsets[i + 1] = at + count;
  }
  const Device device = anchors.device();
  const Tensor uploaded = upload(packed, device).ready();
  const char* gt = static_cast<const char*>(uploaded.raw());
  const Tensor anchor_data = anchors.contiguous();
  BatchTargets t = empty_targets(n, a, slots, device);
  const Tensor positives = Tensor::empty({1}, DType::I64, device);
  cuda::assign_targets_batch(anchor_data.data<float>(), a,
                             {reinterpret_cast<const float*>(gt + boxes_at), reinterpret_cast<const int32_t*>(gt + labels_at),
                              reinterpret_cast<const uint8_t*>(gt + crowd_at), reinterpret_cast<const int64_t*>(gt), n,
                              total},
                             num_classes, o,
                             {t.cls_targets.data<float>(), t.cls_weights.data<float>(), t.reg_targets.data<float>(),
                              t.reg_weights.data<float>(), t.matches.data<int32_t>(), positives.data<int64_t>(), nullptr},
                             stream);
  t.num_positives = positives.to(Device::cpu()).data<int64_t>()[0];
  return t;
}
#endif

}  // namespace

int64_t assign_targets(const float* anchors, int64_t num_anchors, const ImageGroundTruth& gt, int64_t num_classes,
                       const TargetAssignerOptions& o, const ImageTargets& out) {
  check_ground_truth(gt, num_classes);
  // Crowd boxes leave the matching; `rows` maps matrix rows back to ground-truth indices.
  std::vector<int64_t> rows;
  std::vector<float> boxes;
  for (int64_t g = 0; g < gt.count; ++g) {
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
                                  int64_t num_classes, const TargetAssignerOptions& o, cuda::Stream stream) {
  TRAINER_CHECK(anchors.dtype() == DType::F32 && anchors.rank() == 2 && anchors.dim(1) == 4,
                "assign_targets_batch: anchors ", anchors.describe(), " are not an f32 [A, 4] tensor");
  validate(o.matcher);
  if (anchors.device().is_cpu()) return assign_on_cpu(anchors, images, num_classes, o);
#if TRAINER_HAS_CUDA_KERNELS
  return assign_on_cuda(anchors, images, num_classes, o, stream);
#else
  (void)stream;
  fail("assign_targets_batch: anchors ", anchors.describe(), " are on ", anchors.device().name(),
       " but this build has no CUDA kernels");
#endif
}

}  // namespace trainer::models
