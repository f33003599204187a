// Raw SSD predictions to detections, as meta_architectures/ssd_meta_arch.py `postprocess` with
// NVIDIA's SSD320 post_processing config does it: decode the box codes against the anchors,
// sigmoid the class logits and slice off the background slot, then batch multi-class NMS
// (core/post_processing.py), which clips the kept boxes to the image window [0, 0, 1, 1] after
// NMS and drops boxes the clipping leaves without area.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "trainer/core/tensor.h"
#include "trainer/kernels/cpu/box_ops.h"
#include "trainer/ops/context.h"

namespace trainer::models {

struct PostprocessOptions {
  cpu::BoxCoderScales box_coder;  // the one the targets were encoded with
  float logit_scale = 1.0f;        // scores = sigmoid(logits / logit_scale)
  float score_threshold = 1e-8f;   // a class score must be > this
  float iou_threshold = 0.6f;
  int64_t max_detections_per_class = 100;
  int64_t max_total_detections = 100;
  bool background_slot = true;  // add_background_class: logit slot 0 is the background, sliced off
  float soft_nms_sigma = 0.f;    // > 0: Gaussian soft-NMS (cpu::MulticlassNmsOptions)
  // Where the image is in the input, [ymin, xmin, ymax, xmax] normalised: kept boxes are clipped
  // to it (those left without area dropped) before max_total_detections, as TF's clip_window from
  // true_image_shape; [0, 0, 1, 1] for an unpadded input.
  std::array<float, 4> clip_window = {0.f, 0.f, 1.f, 1.f};
};

struct DetectedBox {
  float box[4];      // [ymin, xmin, ymax, xmax] normalised, clipped to [0, 1]
  float score;       // sigmoid of the class logit
  int32_t class_id;  // 1..num_classes (the logit slot; the label map's id)
};

// Every image of a batch, each best score first (ties: lower class id, then NMS selection
// order), on the device the network's outputs are on (ops::detection_postprocess): CPU tensors
// are post-processed on the CPU; CUDA ones on the device, and only the detections come back
// (four device-to-host copies: boxes, scores, classes, counts; plus one host-to-device copy of
// the clip windows when given). Soft-NMS has no CUDA kernel: an Error naming the config field
// on CUDA tensors.
// class_logits: [N, A, slots] (num_classes + 1 with slot 0 the background, or num_classes
// without: options.background_slot), box_codes: [N, A, 4], anchors: F32 [A, 4] on the same
// device. clip_windows: one per image (options.clip_window for each), or empty for options' own.
std::vector<std::vector<DetectedBox>> postprocess_batch(Context& ctx, const Tensor& class_logits,
                                                        const Tensor& box_codes, const Tensor& anchors,
                                                        const PostprocessOptions& options,
                                                        const std::vector<std::array<float, 4>>& clip_windows = {});

}  // namespace trainer::models
