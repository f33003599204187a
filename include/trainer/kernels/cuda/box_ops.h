// Box arithmetic of the TF Object Detection API on the CUDA backend: cpu/box_ops.h's contract
// plus a stream, with the same float32 results: IoUs, the box coder and NMS perform the CPU's
// float operations in its order, without FMA contraction (box_math.cuh), so IoU thresholds
// decide the same way and NMS keeps the same boxes in the same order. The coder's logf/expf
// may differ from the C library's by 1-2 ulp on a GPU (exact in the emulated build).
// Pointers are device memory; boxes are f32 [ymin, xmin, ymax, xmax]. Asynchronous on
// `stream`; scratch memory comes from the caching allocator (runtime.h).
#pragma once

#include <cstdint>

#include "trainer/kernels/cpu/box_ops.h"  // BoxCoderScales, MulticlassNmsOptions, multiclass_nms_capacity
#include "trainer/kernels/detection_shapes.h"
#include "trainer/kernels/cuda/stream.h"

namespace trainer::cuda {

// out[i, j] = IoU(a[i], b[j]) as cpu::iou_matrix. a: [n, 4], b: [m, 4], out: [n, m]
void iou_matrix(const float* a, int64_t n, const float* b, int64_t m, float* out, Stream stream);

// cpu::encode_boxes: codes[i] = [ty, tx, th, tw] of boxes[i] against anchors[i].
// boxes, anchors, codes: [n, 4]
void encode_boxes(const float* boxes, const float* anchors, int64_t n, const cpu::BoxCoderScales& scales,
                  float* codes, Stream stream);

// cpu::decode_boxes: boxes[i] from codes[i] against anchors[i]. codes, anchors, boxes: [n, 4]
void decode_boxes(const float* codes, const float* anchors, int64_t n, const cpu::BoxCoderScales& scales,
                  float* boxes, Stream stream);

// decode_boxes for a batch sharing one set of anchors (post-processing):
// codes, boxes: [images, a, 4], anchors: [a, 4].
void decode_boxes_batch(const float* codes, const float* anchors, int64_t images, int64_t a,
                        const cpu::BoxCoderScales& scales, float* boxes, Stream stream);

// cpu::multiclass_nms for every image of a batch: per class TF's greedy NMS (score > threshold,
// descending score with the lower index first on ties, a candidate dropped when its IoU with a
// kept box is > iou_threshold, at most max_size_per_class), then all classes merged by score with
// ties in class order then selection order, the optional clip (dropping boxes left without
// area), and the first max_total_size. Image i's detections are exactly cpu::multiclass_nms of
// its boxes and scores: same boxes, scores, classes, same order. The output layout is
// NmsDetections' with cpu::multiclass_nms_capacity slots per image. clip_windows: [images, 4]
// device memory, image i clipped to its own window when options.clip (EfficientDet's padded
// inputs), or nullptr for options.clip_window. Greedy NMS only: soft-NMS (soft_nms_sigma > 0)
// has no CUDA kernel and is an Error.
// boxes: [images, a, 4]; scores: [images, a, k] (or [images, k, a] with options.class_major)
void multiclass_nms(const float* boxes, const float* scores, int64_t images, int64_t a, int64_t k,
                    const cpu::MulticlassNmsOptions& options, const float* clip_windows, const NmsDetections& out,
                    Stream stream);

}  // namespace trainer::cuda
