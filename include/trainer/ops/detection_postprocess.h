// A detector's raw outputs to its detections, on the device the outputs are on: decode the box
// codes against the anchors, turn the class logits into scores (kernels/detection_shapes.h's
// DetectionScoresShape: sigmoid of logit / logit_scale, the background slot sliced off), and
// run batched multi-class NMS. Only the fixed-size detections come out, so a caller on CUDA
// copies those (a few KB per image) to the host instead of the raw outputs (SSD320 at batch
// 32: 150 MB of logits). Inference only: nothing is recorded on the tape.
#pragma once

#include "trainer/kernels/cpu/box_ops.h"
#include "trainer/ops/context.h"

namespace trainer::ops {

struct DetectionPostprocessOptions {
  cpu::BoxCoderScales box_coder;
  float logit_scale = 1.f;
  bool background_slot = true;  // logit slot 0 is the background, sliced off
  // class_major is the op's business (set for the scores it lays out); soft-NMS
  // (soft_nms_sigma > 0) runs on the CPU only and is an Error for CUDA tensors.
  cpu::MulticlassNmsOptions nms;
};

// Per image, best first: the first counts[i] of `capacity` slots (cpu::multiclass_nms_capacity)
// valid, the rest zero with class -1. Same device as the inputs.
struct DetectionOutputs {
  Tensor boxes;    // F32 [N, capacity, 4] [ymin, xmin, ymax, xmax], clipped when options.nms.clip
  Tensor scores;   // F32 [N, capacity]
  Tensor classes;  // I32 [N, capacity]: the class's index among the scored slots (0 = the first class)
  Tensor counts;   // I32 [N]
};

// class_logits: [N, A, slots] (f32 or bf16; f16 too on CUDA), box_codes: [N, A, 4] float,
// anchors: F32 [A, 4], clip_windows: F32 [N, 4] (image i clipped to row i when options.nms.clip)
// or undefined for options.nms.clip_window; all on one device. Image i's detections are
// cpu::multiclass_nms of its decoded boxes and scores, exactly, on either backend.
DetectionOutputs detection_postprocess(Context& ctx, const Tensor& class_logits, const Tensor& box_codes,
                                       const Tensor& anchors, const Tensor& clip_windows,
                                       const DetectionPostprocessOptions& options);

}  // namespace trainer::ops
