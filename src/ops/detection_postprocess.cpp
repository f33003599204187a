#include "trainer/ops/detection_postprocess.h"

#include "dispatch.h"
#include "trainer/kernels/cpu/detection_scores.h"
#include "trainer/kernels/cuda/box_ops.h"
#include "trainer/kernels/cuda/detection_scores.h"
#include "trainer/ops/graph_recorder.h"
#include "trainer/ops/shape_ops.h"

namespace trainer::ops {

DetectionOutputs detection_postprocess(Context& ctx, const Tensor& class_logits, const Tensor& box_codes,
                                       const Tensor& anchors_in, const Tensor& clip_windows_in,
                                       const DetectionPostprocessOptions& o) {
  constexpr const char* op = "detection_postprocess";
  TRAINER_CHECK(anchors_in.dtype() == DType::F32 && anchors_in.rank() == 2 && anchors_in.dim(1) == 4, op,
                ": anchors ", anchors_in.describe(), " are not f32 [A, 4]");
  const int64_t a = anchors_in.dim(0);
  const int64_t background = o.background_slot ? 1 : 0;
  TRAINER_CHECK(is_floating(class_logits.dtype()) && class_logits.rank() == 3 && class_logits.dim(1) == a &&
                    class_logits.dim(2) >= background + 1,
                op, ": class logits ", class_logits.describe(), " are not [N, ", a, ", ",
                o.background_slot ? "1 + " : "", "classes] floats with at least one class");
  const int64_t n = class_logits.dim(0), slots = class_logits.dim(2), k = slots - background;
  TRAINER_CHECK(is_floating(box_codes.dtype()) && box_codes.rank() == 3 && box_codes.dim(0) == n &&
                    box_codes.dim(1) == a && box_codes.dim(2) == 4,
                op, ": box codes ", box_codes.describe(), " are not [", n, ", ", a, ", 4] floats");
  TRAINER_CHECK(o.logit_scale > 0.f, op, ": logit_scale ", o.logit_scale, " must be > 0");
  const Device device = class_logits.device();
  TRAINER_CHECK(box_codes.device() == device && anchors_in.device() == device, op, ": class logits ",
                class_logits.describe(), ", box codes ", box_codes.describe(), " and anchors ", anchors_in.describe(),
                " are on different devices");
  // Before any kernel is queued (cuda::multiclass_nms refuses it too, but only after the scores
  // and boxes were made).
  TRAINER_CHECK(device.is_cpu() || !(o.nms.soft_nms_sigma > 0.f), op, ": soft-NMS (soft_nms_sigma ",
                o.nms.soft_nms_sigma,
                ") has no CUDA kernel; post-process on the CPU or use greedy NMS (soft_nms_sigma 0)");
  if (clip_windows_in.defined())
    TRAINER_CHECK(clip_windows_in.dtype() == DType::F32 && clip_windows_in.shape() == Shape({n, 4}) &&
                      clip_windows_in.device() == device,
                  op, ": clip windows ", clip_windows_in.describe(), " are not f32 [", n, ", 4] on ", device.name());

  // Box decoding is an f32 island: 16-bit box codes are widened here; the score kernel widens
  // the logits as it reads them.
  const Tensor logits = class_logits.contiguous(), codes = cast(ctx, box_codes, DType::F32).contiguous(),
               anchors = anchors_in.contiguous();
  const Tensor clip_windows = clip_windows_in.defined() ? clip_windows_in.contiguous() : Tensor();
  const float* windows = clip_windows.defined() ? clip_windows.data<float>() : nullptr;
  DetectionScoresShape scores_shape;
  scores_shape.images = n;
  scores_shape.anchors = a;
  scores_shape.slots = slots;
  scores_shape.background = background;
  scores_shape.logit_scale = o.logit_scale;
  cpu::MulticlassNmsOptions nms = o.nms;
  nms.class_major = true;  // what detection_scores writes
  const int64_t capacity = cpu::multiclass_nms_capacity(a, k, nms);

  Tensor boxes = Tensor::empty({n, a, 4}, DType::F32, device), scores = Tensor::empty({n, k, a}, DType::F32, device);
  DetectionOutputs out{Tensor::empty({n, capacity, 4}, DType::F32, device),
                       Tensor::empty({n, capacity}, DType::F32, device),
                       Tensor::empty({n, capacity}, DType::I32, device), Tensor::empty({n}, DType::I32, device)};
  const NmsDetections written{out.boxes.data<float>(), out.scores.data<float>(), out.classes.data<int32_t>(),
                              out.counts.data<int32_t>()};
  ops_detail::dispatch(op, logits, ctx.stream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    TRAINER_RUN_KERNEL(backend, detection_scores<T>, logits.data<T>(), scores_shape, scores.data<float>());
    TRAINER_RUN_KERNEL(backend, decode_boxes_batch, codes.data<float>(), anchors.data<float>(), n, a, o.box_coder,
                       boxes.data<float>());
    TRAINER_RUN_KERNEL(backend, multiclass_nms, boxes.data<float>(), scores.data<float>(), n, a, k, nms, windows,
                       written);
  });
  if (ctx.recorder) ctx.recorder->refuse(op);
  return out;
}

}  // namespace trainer::ops
