#include "trainer/models/detectors/postprocess.h"

#include <cmath>

#include "trainer/core/error.h"
#include "trainer/ops/tensor_math.h"

namespace trainer::models {

std::vector<DetectedBox> postprocess_detections(const float* class_logits, const float* box_codes,
                                                const float* anchors, int64_t num_anchors, int64_t num_class_slots,
                                                const PostprocessOptions& o) {
  const int64_t background = o.background_slot ? 1 : 0;
  TRAINER_CHECK(num_class_slots >= background + 1, "postprocess: ", num_class_slots, " class slots (expected ",
                o.background_slot ? "the background and " : "", "at least one class)");
  TRAINER_CHECK(o.logit_scale > 0.f, "postprocess: logit_scale ", o.logit_scale, " must be > 0");
  const int64_t k = num_class_slots - background;
  std::vector<float> boxes(static_cast<size_t>(num_anchors * 4));
  cpu::decode_boxes(box_codes, anchors, num_anchors, o.box_coder, boxes.data());
  // Background slot 0 (if any) sliced off: scores for classes 1..K, class-major [K, A] so that each
  // class's NMS pass reads one contiguous column.
  std::vector<float> scores(static_cast<size_t>(num_anchors * k));
  float* s = scores.data();
#pragma omp parallel for schedule(static)
  for (int64_t a = 0; a < num_anchors; ++a) {
    const float* z = class_logits + a * num_class_slots + background;
    for (int64_t j = 0; j < k; ++j) s[j * num_anchors + a] = 1.f / (1.f + std::exp(-(z[j] / o.logit_scale)));
  }
  cpu::MulticlassNmsOptions nms;
  nms.score_threshold = o.score_threshold;
  nms.iou_threshold = o.iou_threshold;
  nms.max_size_per_class = o.max_detections_per_class;
  nms.max_total_size = o.max_total_detections;
  nms.soft_nms_sigma = o.soft_nms_sigma;
  nms.clip = true;
  std::copy(o.clip_window.begin(), o.clip_window.end(), nms.clip_window);
  nms.class_major = true;
  std::vector<DetectedBox> out;
  for (const cpu::Detection& d : cpu::multiclass_nms(boxes.data(), scores.data(), num_anchors, k, nms)) {
    DetectedBox b;
    std::copy(d.box, d.box + 4, b.box);
    b.score = d.score;
    b.class_id = static_cast<int32_t>(d.class_index + 1);
    out.push_back(b);
  }
  return out;
}

std::vector<std::vector<DetectedBox>> postprocess_batch(const Tensor& class_logits, const Tensor& box_codes,
                                                        const Tensor& anchors, const PostprocessOptions& o,
                                                        const std::vector<std::array<float, 4>>& clip_windows) {
  TRAINER_CHECK(anchors.dtype() == DType::F32 && anchors.rank() == 2 && anchors.dim(1) == 4,
                "postprocess: anchors ", anchors.describe(), " are not f32 [A, 4]");
  const int64_t a = anchors.dim(0);
  TRAINER_CHECK(is_floating(class_logits.dtype()) && class_logits.rank() == 3 && class_logits.dim(1) == a,
                "postprocess: class logits ", class_logits.describe(), " are not [N, ", a, ", classes + 1] floats");
  TRAINER_CHECK(is_floating(box_codes.dtype()) && box_codes.rank() == 3 && box_codes.dim(0) == class_logits.dim(0) &&
                    box_codes.dim(1) == a && box_codes.dim(2) == 4,
                "postprocess: box codes ", box_codes.describe(), " are not [", class_logits.dim(0), ", ", a,
                ", 4] floats");
  TRAINER_CHECK(anchors.device().is_cpu() && class_logits.device().is_cpu() && box_codes.device().is_cpu(),
                "postprocess: runs on CPU tensors");
  // Box decoding is an f32 island: 16-bit network outputs are widened here.
  const Tensor logits = math::cast(class_logits, DType::F32).contiguous(),
               codes = math::cast(box_codes, DType::F32).contiguous(), anchor_data = anchors.contiguous();
  const int64_t n = logits.dim(0), slots = logits.dim(2);
  std::vector<std::vector<DetectedBox>> out;
  // Images one after another: multiclass_nms spreads each image's classes over the threads.
  TRAINER_CHECK(clip_windows.empty() || static_cast<int64_t>(clip_windows.size()) == n, "postprocess: ",
                clip_windows.size(), " clip windows for ", n, " images");
  for (int64_t i = 0; i < n; ++i) {
    PostprocessOptions image = o;
    if (!clip_windows.empty()) image.clip_window = clip_windows[i];
    out.push_back(postprocess_detections(logits.data<float>() + i * a * slots, codes.data<float>() + i * a * 4,
                                         anchor_data.data<float>(), a, slots, image));
  }
  return out;
}

}  // namespace trainer::models
