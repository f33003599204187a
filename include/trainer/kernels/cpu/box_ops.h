// Box arithmetic of the TF Object Detection API: pairwise IoU, the Faster R-CNN box coder, and
// greedy non-maximum suppression (single class, and per class with a merged top list).
// Boxes are float32 [ymin, xmin, ymax, xmax], normalised to [0, 1] unless said otherwise.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "trainer/kernels/detection_shapes.h"

namespace trainer::cpu {

// out[i, j] = IoU(a[i], b[j]) as core/box_list_ops.py `iou`: intersection / union, and exactly 0
// where the intersection is 0 (so also where the union is 0). Corners are taken as given (a box
// with ymax < ymin has negative area and never intersects).
// a: [n, 4], b: [m, 4], out: [n, m]
void iou_matrix(const float* a, int64_t n, const float* b, int64_t m, float* out);

// Scale factors of box_coders/faster_rcnn_box_coder.py for [ty, tx, th, tw]. A factor of 0
// means "unset": that component is not scaled (all four 0 is the coder's scale_factors=None).
struct BoxCoderScales {
  float y = 10, x = 10, h = 5, w = 5;
};

// codes[i] = [ty, tx, th, tw] of boxes[i] against anchors[i]:
//   ty = (yc - yca) / ha * y,   th = log(h / ha) * h_scale   (x, w alike)
// with 1e-8 (the coder's EPSILON) added to every height and width, boxes' and anchors', before
// dividing and taking logs, so zero-size boxes give large finite codes instead of NaN.
// boxes, anchors, codes: [n, 4]
void encode_boxes(const float* boxes, const float* anchors, int64_t n, const BoxCoderScales& scales, float* codes);

// The inverse, as the coder's _decode: h = exp(th / h_scale) * ha, yc = ty / y_scale * ha + yca,
// corners yc -+ h / 2. No epsilon here (TF adds none in decode), so decode(encode(b)) equals b
// only up to the 1e-8 that encode added.
// codes, anchors, boxes: [n, 4]
void decode_boxes(const float* codes, const float* anchors, int64_t n, const BoxCoderScales& scales, float* boxes);

// decode_boxes for a batch sharing one set of anchors (post-processing):
// codes, boxes: [images, a, 4], anchors: [a, 4].
void decode_boxes_batch(const float* codes, const float* anchors, int64_t images, int64_t a,
                        const BoxCoderScales& scales, float* boxes);

// IoU as tf.image.non_max_suppression computes it: corners are ordered per box first (a box
// given as [ymax, xmax, ymin, xmin] is the same box), and a box of zero area has IoU 0 with
// everything.
float nms_iou(const float* a, const float* b);

// Greedy NMS with tf.image.non_max_suppression's rules: candidates are the boxes whose score is
// strictly greater than score_threshold (a box scoring exactly the threshold is never kept),
// visited by descending score, ties by lower index; a candidate is dropped when its IoU
// (nms_iou) with an already kept box is strictly greater than iou_threshold. Stops after
// max_output kept boxes. NaN scores are never candidates. Returns kept indices in selection order.
// boxes: [n, 4], scores: [n]
std::vector<int64_t> non_max_suppression(const float* boxes, const float* scores, int64_t n, float iou_threshold,
                                         float score_threshold, int64_t max_output);

struct Detection {
  float box[4];         // [ymin, xmin, ymax, xmax]
  float score;
  int64_t class_index;  // column of `scores`
};

struct MulticlassNmsOptions {
  float score_threshold = 1e-8f;
  float iou_threshold = 0.6f;
  int64_t max_size_per_class = 100;
  int64_t max_total_size = 100;  // 0: keep all
  // > 0: Gaussian soft-NMS with this sigma instead of greedy NMS (TF's
  // non_max_suppression_with_scores): overlapping boxes are down-weighted by
  // exp(-0.5 IoU^2 / sigma) rather than dropped (still dropped above iou_threshold), and the
  // detections carry their decayed scores.
  float soft_nms_sigma = 0.f;
  // After NMS, as core/post_processing.py does with a clip_window: kept boxes are clipped to
  // `clip_window` and boxes left with zero area are dropped, before max_total_size applies.
  bool clip = false;
  float clip_window[4] = {0.f, 0.f, 1.f, 1.f};
  // scores are [k, a] (each class's column contiguous, which the per-class passes read much
  // faster) instead of [a, k].
  bool class_major = false;
};

// core/post_processing.py `multiclass_non_max_suppression` (one image, boxes shared by all
// classes, no static padding): per class, non_max_suppression(score_threshold, iou_threshold,
// max_size_per_class); the kept boxes of all classes, concatenated in class order, sorted by
// descending score with ties kept in that order (tf.nn.top_k is stable); then the optional
// clip and zero-area filter; then the first max_total_size. Classes run in parallel.
// boxes: [a, 4], scores: [a, k] (or [k, a] with class_major)
std::vector<Detection> multiclass_nms(const float* boxes, const float* scores, int64_t a, int64_t k,
                                      const MulticlassNmsOptions& options);

// Detections per image that multiclass_nms can produce: min(max_total_size, k * per_class), or
// k * per_class when max_total_size is 0, with per_class = min(max_size_per_class, a).
inline int64_t multiclass_nms_capacity(int64_t a, int64_t k, const MulticlassNmsOptions& o) {
  const int64_t all = k * std::max<int64_t>(0, std::min(o.max_size_per_class, a));
  return o.max_total_size > 0 ? std::min(o.max_total_size, all) : all;
}

// multiclass_nms for every image of a batch, written to the fixed layout the CUDA backend
// produces (NmsDetections, multiclass_nms_capacity slots per image), so the two backends share
// one signature. clip_windows: [images, 4], image i clipped to its own window when options.clip
// (nullptr: options.clip_window for all). Images run one after another: multiclass_nms spreads
// each image's classes over the threads.
// boxes: [images, a, 4]; scores: [images, a, k] (or [images, k, a] with options.class_major)
void multiclass_nms(const float* boxes, const float* scores, int64_t images, int64_t a, int64_t k,
                    const MulticlassNmsOptions& options, const float* clip_windows, const NmsDetections& out);

}  // namespace trainer::cpu
