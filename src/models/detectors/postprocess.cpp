#include "trainer/models/detectors/postprocess.h"

#include "trainer/core/error.h"
#include "trainer/ops/detection_postprocess.h"

namespace trainer::models {

std::vector<std::vector<DetectedBox>> postprocess_batch(Context& ctx, const Tensor& class_logits,
                                                        const Tensor& box_codes, const Tensor& anchors,
                                                        const PostprocessOptions& o,
                                                        const std::vector<std::array<float, 4>>& clip_windows) {
  const Device device = class_logits.device();
  TRAINER_CHECK(device.is_cpu() || !(o.soft_nms_sigma > 0.f), "postprocess: soft-NMS (",
                "model.ssd.post_processing.batch_non_max_suppression.soft_nms_sigma ", o.soft_nms_sigma,
                ") has no CUDA kernel; set it to 0 (greedy NMS) or evaluate with runtime.device: CPU");
  const int64_t n = class_logits.rank() > 0 ? class_logits.dim(0) : 0;
  TRAINER_CHECK(clip_windows.empty() || static_cast<int64_t>(clip_windows.size()) == n, "postprocess: ",
                clip_windows.size(), " clip windows for ", n, " images");
  ops::DetectionPostprocessOptions op;
  op.box_coder = o.box_coder;
  op.logit_scale = o.logit_scale;
  op.background_slot = o.background_slot;
  op.nms.score_threshold = o.score_threshold;
  op.nms.iou_threshold = o.iou_threshold;
  op.nms.max_size_per_class = o.max_detections_per_class;
  op.nms.max_total_size = o.max_total_detections;
  op.nms.soft_nms_sigma = o.soft_nms_sigma;
  op.nms.clip = true;
  std::copy(o.clip_window.begin(), o.clip_window.end(), op.nms.clip_window);
  Tensor windows;
  if (!clip_windows.empty()) {
    std::vector<float> rows;
    for (const std::array<float, 4>& w : clip_windows) rows.insert(rows.end(), w.begin(), w.end());
    windows = Tensor::from_floats({n, 4}, rows).to(device);
  }
  const ops::DetectionOutputs found = ops::detection_postprocess(ctx, class_logits, box_codes, anchors, windows, op);
  // Only the detections come to the host (no copy for CPU tensors).
  const Tensor boxes = found.boxes.to(Device::cpu()), scores = found.scores.to(Device::cpu()),
               classes = found.classes.to(Device::cpu()), counts = found.counts.to(Device::cpu());
  const int64_t capacity = scores.dim(1);
  std::vector<std::vector<DetectedBox>> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t d = 0; d < counts.data<int32_t>()[i]; ++d) {
      const int64_t slot = i * capacity + d;
      DetectedBox b;
      std::copy(boxes.data<float>() + 4 * slot, boxes.data<float>() + 4 * slot + 4, b.box);
      b.score = scores.data<float>()[slot];
      b.class_id = classes.data<int32_t>()[slot] + 1;
      out[i].push_back(b);
    }
  }
  return out;
}

}  // namespace trainer::models
