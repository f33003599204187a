// Compiled with -ffp-contract=off (src/kernels/cpu/CMakeLists.txt): each product and sum is
// rounded on its own, as in TensorFlow's element-wise kernels, so IoUs and codes land on the
// same float32 values and threshold decisions (IoU >= 0.5, > 0.6) go the same way.
#include "trainer/kernels/cpu/box_ops.h"

#include <algorithm>
#include <cmath>

#include "trainer/core/parallel.h"

namespace trainer::cpu {
namespace {

// A 0 factor is "unset": no scaling of that component.
inline float factor(float s) { return s == 0.f ? 1.f : s; }

// One box with its corners ordered and its area, as the NMS kernel sees it.
struct NmsBox {
  float ymin, xmin, ymax, xmax, area;
};

inline NmsBox nms_box(const float* b) {
  NmsBox r;
  r.ymin = std::min(b[0], b[2]);
  r.xmin = std::min(b[1], b[3]);
  r.ymax = std::max(b[0], b[2]);
  r.xmax = std::max(b[1], b[3]);
  r.area = (r.ymax - r.ymin) * (r.xmax - r.xmin);
  return r;
}

inline float nms_iou(const NmsBox& i, const NmsBox& j) {
  if (i.area <= 0.f || j.area <= 0.f) return 0.f;
  const float ymin = std::max(i.ymin, j.ymin), xmin = std::max(i.xmin, j.xmin);
  const float ymax = std::min(i.ymax, j.ymax), xmax = std::min(i.xmax, j.xmax);
  const float inter = std::max(ymax - ymin, 0.f) * std::max(xmax - xmin, 0.f);
  return inter / (i.area + j.area - inter);
}

struct Candidate {
  float score;
  int64_t index;
};

// Heap order: true when a comes out after b (lower score; equal scores: higher index).
inline bool after(const Candidate& a, const Candidate& b) {
  return a.score < b.score || (a.score == b.score && a.index > b.index);
}

// The greedy loop over precomputed boxes; scores strided (a column of [a, k] scores).
// `candidates` and `kept` are the caller's, reused across calls.
void greedy_nms(const NmsBox* boxes, const float* scores, int64_t stride, int64_t n, float iou_threshold,
                float score_threshold, int64_t max_output, std::vector<Candidate>& candidates,
                std::vector<int64_t>& kept) {
  kept.clear();
  if (max_output <= 0) return;
  candidates.clear();
  for (int64_t i = 0; i < n; ++i) {
    const float s = scores[i * stride];
    if (s > score_threshold) candidates.push_back({s, i});  // NaN fails the comparison
  }
  // A heap pops only as many candidates as it takes to keep max_output boxes, instead of
  // sorting them all (most of 12,804 anchors pass a 1e-8 threshold).
  std::make_heap(candidates.begin(), candidates.end(), after);
  auto end = candidates.end();
  while (end != candidates.begin() && static_cast<int64_t>(kept.size()) < max_output) {
    std::pop_heap(candidates.begin(), end, after);
    --end;
    const NmsBox& box = boxes[end->index];
    bool suppressed = false;
    // Overlapping boxes tend to have close scores: the newest kept boxes are the likeliest to
    // suppress, so look at them first.
    for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
      if (nms_iou(box, boxes[*it]) > iou_threshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) kept.push_back(end->index);
  }
}

// Gaussian soft-NMS as tf.image.non_max_suppression_with_scores (NonMaxSuppressionV5) does it:
// the highest-scoring candidate has its score multiplied by exp(-0.5 IoU^2 / sigma) for every box
// selected since it was last looked at (and zeroed by an IoU above iou_threshold); unchanged, it
// is selected with its score; decayed but still above score_threshold, it goes back into the
// heap; otherwise it is dropped. `kept` gets (index, decayed score) in selection order.
struct SoftCandidate {
  float score;
  int64_t index;
  size_t checked;  // selected boxes already applied to score
};

void soft_nms(const NmsBox* boxes, const float* scores, int64_t stride, int64_t n, float iou_threshold,
              float score_threshold, float sigma, int64_t max_output, std::vector<SoftCandidate>& heap,
              std::vector<std::pair<int64_t, float>>& kept) {
  kept.clear();
  if (max_output <= 0) return;
  heap.clear();
  for (int64_t i = 0; i < n; ++i) {
    const float s = scores[i * stride];
    if (s > score_threshold) heap.push_back({s, i, 0});
  }
  const float scale = -0.5f / sigma;
  auto later = [](const SoftCandidate& a, const SoftCandidate& b) {
    return a.score < b.score || (a.score == b.score && a.index > b.index);
  };
  std::make_heap(heap.begin(), heap.end(), later);
  while (!heap.empty() && static_cast<int64_t>(kept.size()) < max_output) {
    std::pop_heap(heap.begin(), heap.end(), later);
    SoftCandidate c = heap.back();
    heap.pop_back();
    const float original = c.score;
    for (size_t j = kept.size(); j-- > c.checked;) {
      const float iou = nms_iou(boxes[c.index], boxes[kept[j].first]);
      c.score *= iou <= iou_threshold ? std::exp(scale * iou * iou) : 0.f;
      if (c.score <= score_threshold) break;
    }
    c.checked = kept.size();
    if (c.score == original) {
      kept.emplace_back(c.index, c.score);
    } else if (c.score > score_threshold) {
      heap.push_back(c);
      std::push_heap(heap.begin(), heap.end(), later);
    }
  }
}

std::vector<NmsBox> nms_boxes(const float* boxes, int64_t n) {
  std::vector<NmsBox> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[i] = nms_box(boxes + 4 * i);
  return out;
}

}  // namespace

void iou_matrix(const float* a, int64_t n, const float* b, int64_t m, float* out) {
  parallel_for(n * m, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const float* p = a + 4 * (t / m);
      const float* q = b + 4 * (t % m);
      const float ih = std::max(0.f, std::min(p[2], q[2]) - std::max(p[0], q[0]));
      const float iw = std::max(0.f, std::min(p[3], q[3]) - std::max(p[1], q[1]));
      const float inter = ih * iw;
      if (inter == 0.f) {
        out[t] = 0.f;
        continue;
      }
      const float area_p = (p[2] - p[0]) * (p[3] - p[1]);
      const float area_q = (q[2] - q[0]) * (q[3] - q[1]);
      out[t] = inter / (area_p + area_q - inter);
    }
  });
}

void encode_boxes(const float* boxes, const float* anchors, int64_t n, const BoxCoderScales& s, float* codes) {
  constexpr float kEpsilon = 1e-8f;
  const float fy = factor(s.y), fx = factor(s.x), fh = factor(s.h), fw = factor(s.w);
  parallel_for(n, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* b = boxes + 4 * i;
      const float* a = anchors + 4 * i;
      // get_center_coordinates_and_sizes, then the epsilon on every size.
      float ha = a[2] - a[0], wa = a[3] - a[1];
      const float yca = a[0] + ha / 2.f, xca = a[1] + wa / 2.f;
      float h = b[2] - b[0], w = b[3] - b[1];
      const float yc = b[0] + h / 2.f, xc = b[1] + w / 2.f;
      ha += kEpsilon;
      wa += kEpsilon;
      h += kEpsilon;
      w += kEpsilon;
      float* c = codes + 4 * i;
      c[0] = (yc - yca) / ha * fy;
      c[1] = (xc - xca) / wa * fx;
      c[2] = std::log(h / ha) * fh;
      c[3] = std::log(w / wa) * fw;
    }
  });
}

void decode_boxes(const float* codes, const float* anchors, int64_t n, const BoxCoderScales& s, float* boxes) {
  const float fy = factor(s.y), fx = factor(s.x), fh = factor(s.h), fw = factor(s.w);
  parallel_for(n, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* c = codes + 4 * i;
      const float* a = anchors + 4 * i;
      const float ha = a[2] - a[0], wa = a[3] - a[1];
      const float yca = a[0] + ha / 2.f, xca = a[1] + wa / 2.f;
      const float ty = c[0] / fy, tx = c[1] / fx, th = c[2] / fh, tw = c[3] / fw;
      const float w = std::exp(tw) * wa, h = std::exp(th) * ha;
      const float yc = ty * ha + yca, xc = tx * wa + xca;
      float* b = boxes + 4 * i;
      b[0] = yc - h / 2.f;
      b[1] = xc - w / 2.f;
      b[2] = yc + h / 2.f;
      b[3] = xc + w / 2.f;
    }
  });
}

void decode_boxes_batch(const float* codes, const float* anchors, int64_t images, int64_t a, const BoxCoderScales& s,
                        float* boxes) {
  for (int64_t n = 0; n < images; ++n) decode_boxes(codes + n * a * 4, anchors, a, s, boxes + n * a * 4);
}

float nms_iou(const float* a, const float* b) { return nms_iou(nms_box(a), nms_box(b)); }

std::vector<int64_t> non_max_suppression(const float* boxes, const float* scores, int64_t n, float iou_threshold,
                                         float score_threshold, int64_t max_output) {
  const std::vector<NmsBox> prepared = nms_boxes(boxes, n);
  std::vector<Candidate> candidates;
  std::vector<int64_t> kept;
  greedy_nms(prepared.data(), scores, 1, n, iou_threshold, score_threshold, std::min(max_output, n), candidates,
             kept);
  return kept;
}

std::vector<Detection> multiclass_nms(const float* boxes, const float* scores, int64_t a, int64_t k,
                                      const MulticlassNmsOptions& o) {
  const std::vector<NmsBox> prepared = nms_boxes(boxes, a);
  std::vector<std::vector<std::pair<int64_t, float>>> kept(static_cast<size_t>(k));  // (anchor, score)
  const int64_t per_class = std::min(o.max_size_per_class, a);
#pragma omp parallel if (k > 1)
  {
    std::vector<Candidate> candidates;
    std::vector<SoftCandidate> soft;
    std::vector<int64_t> hard;
#pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < k; ++c) {
      const float* column = o.class_major ? scores + c * a : scores + c;
      const int64_t stride = o.class_major ? 1 : k;
      if (o.soft_nms_sigma > 0.f) {
        soft_nms(prepared.data(), column, stride, a, o.iou_threshold, o.score_threshold, o.soft_nms_sigma, per_class,
                 soft, kept[c]);
      } else {
        greedy_nms(prepared.data(), column, stride, a, o.iou_threshold, o.score_threshold, per_class, candidates, hard);
        kept[c].clear();
        for (int64_t i : hard) kept[c].emplace_back(i, column[i * stride]);
      }
    }
  }
  std::vector<Detection> all;
  for (int64_t c = 0; c < k; ++c)
    for (const auto& [i, score] : kept[c]) {
      Detection d;
      std::copy(boxes + 4 * i, boxes + 4 * i + 4, d.box);
      d.score = score;
      d.class_index = c;
      all.push_back(d);
    }
  // Class order, then selection order, for equal scores: tf.nn.top_k keeps the lower index first.
  std::stable_sort(all.begin(), all.end(), [](const Detection& x, const Detection& y) { return x.score > y.score; });
  if (o.clip) {
    const float* w = o.clip_window;
    std::vector<Detection> clipped;
    clipped.reserve(all.size());
    for (Detection d : all) {
      // box_list_ops.clip_to_window: each coordinate into [min, max] of its axis, then boxes
      // left without area are dropped.
      d.box[0] = std::max(std::min(d.box[0], w[2]), w[0]);
      d.box[2] = std::max(std::min(d.box[2], w[2]), w[0]);
      d.box[1] = std::max(std::min(d.box[1], w[3]), w[1]);
      d.box[3] = std::max(std::min(d.box[3], w[3]), w[1]);
      if ((d.box[2] - d.box[0]) * (d.box[3] - d.box[1]) > 0.f) clipped.push_back(d);
    }
    all = std::move(clipped);
  }
  if (o.max_total_size > 0 && static_cast<int64_t>(all.size()) > o.max_total_size)
    all.resize(static_cast<size_t>(o.max_total_size));
  return all;
}

void multiclass_nms(const float* boxes, const float* scores, int64_t images, int64_t a, int64_t k,
                    const MulticlassNmsOptions& options, const float* clip_windows, const NmsDetections& out) {
  const int64_t capacity = multiclass_nms_capacity(a, k, options);
  for (int64_t n = 0; n < images; ++n) {
    MulticlassNmsOptions image = options;
    if (clip_windows) std::copy(clip_windows + 4 * n, clip_windows + 4 * n + 4, image.clip_window);
    const std::vector<Detection> found = multiclass_nms(boxes + n * a * 4, scores + n * a * k, a, k, image);
    out.counts[n] = static_cast<int32_t>(found.size());
    for (int64_t d = 0; d < capacity; ++d) {
      const int64_t o = n * capacity + d;
      const bool valid = d < static_cast<int64_t>(found.size());
      for (int c = 0; c < 4; ++c) out.boxes[4 * o + c] = valid ? found[d].box[c] : 0.f;
      out.scores[o] = valid ? found[d].score : 0.f;
      out.classes[o] = valid ? static_cast<int32_t>(found[d].class_index) : -1;
    }
  }
}

}  // namespace trainer::cpu
