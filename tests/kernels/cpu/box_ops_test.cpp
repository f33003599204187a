// Box arithmetic (kernels/cpu/box_ops.h): IoU and the box coder against values worked out by
// hand, NMS against a naive O(n^2) reference on random boxes and against the ONNX
// NonMaxSuppression conformance cases (tests/kernels/cpu/data/onnx_nms_cases.json, written by
// scripts/detection/onnx_nms_cases.py from Debian's libonnx-testdata).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "trainer/core/random.h"
#include "trainer/kernels/cpu/box_ops.h"

namespace trainer::cpu {
namespace {

std::string fixture(const std::string& name) {
  const char* dir = std::getenv("TRAINER_SOURCE_DIR");
  return std::string(dir ? dir : ".") + "/tests/kernels/cpu/data/" + name;
}

float iou(std::vector<float> a, std::vector<float> b) {
  float out = -1;
  iou_matrix(a.data(), 1, b.data(), 1, &out);
  return out;
}

TEST(BoxOps, IouByHand) {
  // Overlap 0.5 x 0.5 = 0.25; union 1 + 1 - 0.25 = 1.75.
  EXPECT_FLOAT_EQ(iou({0, 0, 1, 1}, {0.5f, 0.5f, 1.5f, 1.5f}), 0.25f / 1.75f);
  // Nested: the inner box (area 0.25) is the intersection; the union is the outer box (area 1).
  EXPECT_FLOAT_EQ(iou({0, 0, 1, 1}, {0.25f, 0.25f, 0.75f, 0.75f}), 0.25f);
  EXPECT_FLOAT_EQ(iou({0.25f, 0.25f, 0.75f, 0.75f}, {0, 0, 1, 1}), 0.25f);
  EXPECT_FLOAT_EQ(iou({0.1f, 0.2f, 0.6f, 0.9f}, {0.1f, 0.2f, 0.6f, 0.9f}), 1.f);
  // Disjoint, and touching along an edge (zero-height intersection): exactly 0.
  EXPECT_EQ(iou({0, 0, 1, 1}, {2, 2, 3, 3}), 0.f);
  EXPECT_EQ(iou({0, 0, 1, 1}, {1, 0, 2, 1}), 0.f);
  // Zero-area boxes: intersection 0, so 0 and not 0/0, even for two identical points.
  EXPECT_EQ(iou({0.5f, 0.5f, 0.5f, 0.5f}, {0, 0, 1, 1}), 0.f);
  EXPECT_EQ(iou({0.5f, 0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f, 0.5f}), 0.f);
  // Column strips: 0.2 x 1 intersection over 1.0 + 0.4 - 0.2.
  EXPECT_FLOAT_EQ(iou({0, 0, 1, 1}, {0, 0.8f, 1, 1.2f}), 0.2f / 1.2f);
}

TEST(BoxOps, IouMatrixLayoutIsRowsOfA) {
  const std::vector<float> a = {0, 0, 1, 1, 0, 0, 0.5f, 0.5f};                  // 2 boxes
  const std::vector<float> b = {0, 0, 1, 1, 0, 0, 0.5f, 0.5f, 2, 2, 3, 3};     // 3 boxes
  std::vector<float> out(6, -1);
  iou_matrix(a.data(), 2, b.data(), 3, out.data());
  const std::vector<float> want = {1, 0.25f, 0, 0.25f, 1, 0};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(out[i], want[i]) << i;
}

TEST(BoxCoder, EncodeByHand) {
  // Anchor [0,0,1,1]: centre (0.5, 0.5), size 1 (+1e-8 rounds away in float32).
  // Box [0.1,0.2,0.5,0.8]: centre (0.3, 0.5), height 0.4, width 0.6.
  // ty = (0.3 - 0.5) / 1 * 10 = -2, tx = 0, th = 5 ln 0.4 = -4.5814537, tw = 5 ln 0.6 = -2.5541281.
  const float anchor[4] = {0, 0, 1, 1}, box[4] = {0.1f, 0.2f, 0.5f, 0.8f};
  float c[4];
  encode_boxes(box, anchor, 1, BoxCoderScales{}, c);
  EXPECT_NEAR(c[0], -2.0, 1e-5);
  EXPECT_NEAR(c[1], 0.0, 1e-5);
  EXPECT_NEAR(c[2], -4.5814537, 1e-5);
  EXPECT_NEAR(c[3], -2.5541281, 1e-5);
  // Unset scales: the raw codes -0.2, 0, ln 0.4, ln 0.6.
  encode_boxes(box, anchor, 1, BoxCoderScales{0, 0, 0, 0}, c);
  EXPECT_NEAR(c[0], -0.2, 1e-6);
  EXPECT_NEAR(c[2], std::log(0.4), 1e-6);
  EXPECT_NEAR(c[3], std::log(0.6), 1e-6);
}

TEST(BoxCoder, EncodeAddsEpsilonToZeroSizes) {
  // A point box inside the unit anchor: th = 5 ln(1e-8 / 1) = -92.103404, finite.
  const float anchor[4] = {0, 0, 1, 1}, point[4] = {0.5f, 0.5f, 0.5f, 0.5f};
  float c[4];
  encode_boxes(point, anchor, 1, BoxCoderScales{}, c);
  EXPECT_NEAR(c[2], 5 * std::log(1e-8), 1e-3);
  EXPECT_NEAR(c[3], 5 * std::log(1e-8), 1e-3);
  // A point anchor and a point box 0.1 apart: ty = 0.1 / 1e-8 * 10 = 1e8, th = 5 ln(1) = 0.
  const float point_anchor[4] = {0.4f, 0.5f, 0.4f, 0.5f};
  encode_boxes(point, point_anchor, 1, BoxCoderScales{}, c);
  EXPECT_NEAR(c[0], 1e8, 1e3);
  EXPECT_EQ(c[1], 0.f);
  EXPECT_EQ(c[2], 0.f);
  for (float v : c) EXPECT_TRUE(std::isfinite(v));
}

TEST(BoxCoder, DecodeByHand) {
  // Anchor [0.2,0.2,0.6,0.4]: centre (0.4, 0.3), height 0.4, width 0.2.
  // Codes [5, -2.5, 5 ln 2, 0] -> ty 0.5, tx -0.25, h = 2 * 0.4, w = 0.2:
  // centre (0.4 + 0.5 * 0.4, 0.3 - 0.25 * 0.2) = (0.6, 0.25) -> [0.2, 0.15, 1.0, 0.35].
  const float anchor[4] = {0.2f, 0.2f, 0.6f, 0.4f};
  const float codes[4] = {5.f, -2.5f, 5.f * std::log(2.f), 0.f};
  float b[4];
  decode_boxes(codes, anchor, 1, BoxCoderScales{}, b);
  const float want[4] = {0.2f, 0.15f, 1.0f, 0.35f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(b[i], want[i], 1e-6) << i;
}

TEST(BoxCoder, RoundTrip) {
  Philox rng(11, 0);
  const int n = 500;
  std::vector<float> boxes(4 * n), anchors(4 * n), codes(4 * n), back(4 * n);
  for (int i = 0; i < n; ++i) {
    for (float* b : {&boxes[4 * i], &anchors[4 * i]}) {
      const float y = rng.uniform(-0.2f, 1.f), x = rng.uniform(-0.2f, 1.f);
      b[0] = y;
      b[1] = x;
      b[2] = y + rng.uniform(0.01f, 0.8f);
      b[3] = x + rng.uniform(0.01f, 0.8f);
    }
  }
  for (BoxCoderScales s : {BoxCoderScales{}, BoxCoderScales{0, 0, 0, 0}, BoxCoderScales{1, 2, 3, 4}}) {
    encode_boxes(boxes.data(), anchors.data(), n, s, codes.data());
    decode_boxes(codes.data(), anchors.data(), n, s, back.data());
    for (int i = 0; i < 4 * n; ++i) ASSERT_NEAR(back[i], boxes[i], 2e-6) << i;
  }
}

// ---- NMS ----

double iou_ref(const float* a, const float* b) {
  const double ay0 = std::min(a[0], a[2]), ax0 = std::min(a[1], a[3]), ay1 = std::max(a[0], a[2]),
               ax1 = std::max(a[1], a[3]);
  const double by0 = std::min(b[0], b[2]), bx0 = std::min(b[1], b[3]), by1 = std::max(b[0], b[2]),
               bx1 = std::max(b[1], b[3]);
  const double area_a = (ay1 - ay0) * (ax1 - ax0), area_b = (by1 - by0) * (bx1 - bx0);
  if (area_a <= 0 || area_b <= 0) return 0;
  const double inter =
      std::max(0.0, std::min(ay1, by1) - std::max(ay0, by0)) * std::max(0.0, std::min(ax1, bx1) - std::max(ax0, bx0));
  return inter / (area_a + area_b - inter);
}

// The textbook algorithm: sort all candidates, then keep each one that overlaps no kept box.
std::vector<int64_t> nms_ref(const float* boxes, const float* scores, int64_t stride, int64_t n, double iou_thr,
                             double score_thr, int64_t max_out) {
  std::vector<int64_t> order;
  for (int64_t i = 0; i < n; ++i)
    if (scores[i * stride] > score_thr) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](int64_t i, int64_t j) {
    return scores[i * stride] > scores[j * stride] || (scores[i * stride] == scores[j * stride] && i < j);
  });
  std::vector<int64_t> kept;
  for (int64_t i : order) {
    if (static_cast<int64_t>(kept.size()) >= max_out) break;
    bool ok = true;
    for (int64_t k : kept)
      if (iou_ref(boxes + 4 * i, boxes + 4 * k) > iou_thr) ok = false;
    if (ok) kept.push_back(i);
  }
  return kept;
}

// Random boxes in a few clusters (so suppression happens), some given with flipped corners,
// scores on a coarse grid (so ties happen).
void random_boxes(Philox& rng, int64_t n, std::vector<float>& boxes, std::vector<float>& scores, int64_t classes) {
  boxes.resize(4 * n);
  scores.resize(n * classes);
  for (int64_t i = 0; i < n; ++i) {
    const float cy = 0.25f + 0.5f * static_cast<float>(rng.below(2)), cx = 0.25f + 0.5f * static_cast<float>(rng.below(2));
    const float y = cy + rng.uniform(-0.3f, 0.3f), x = cx + rng.uniform(-0.3f, 0.3f);
    const float h = rng.uniform(0.f, 0.4f), w = rng.uniform(0.f, 0.4f);
    float* b = &boxes[4 * i];
    b[0] = y - h / 2;
    b[1] = x - w / 2;
    b[2] = y + h / 2;
    b[3] = x + w / 2;
    if (rng.below(5) == 0) {
      std::swap(b[0], b[2]);
      std::swap(b[1], b[3]);
    }
    for (int64_t c = 0; c < classes; ++c) scores[i * classes + c] = static_cast<float>(rng.below(17)) / 16.f;
  }
}

TEST(NonMaxSuppression, MatchesNaiveReferenceOnRandomBoxes) {
  Philox rng(5, 0);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t n = static_cast<int64_t>(rng.below(300));
    std::vector<float> boxes, scores;
    random_boxes(rng, n, boxes, scores, 1);
    const float iou_thr = rng.uniform(0.f, 1.f), score_thr = static_cast<float>(rng.below(8)) / 16.f;
    const int64_t max_out = static_cast<int64_t>(rng.below(60));
    const std::vector<int64_t> got = non_max_suppression(boxes.data(), scores.data(), n, iou_thr, score_thr, max_out);
    const std::vector<int64_t> want = nms_ref(boxes.data(), scores.data(), 1, n, iou_thr, score_thr, max_out);
    ASSERT_EQ(got, want) << "trial " << trial << " n " << n << " iou " << iou_thr << " score " << score_thr;
  }
}

TEST(NonMaxSuppression, ScoreThresholdIsStrictAndNaNIsNeverKept) {
  // Three disjoint boxes: scores 0.5 (== threshold: dropped, as TF's `score > threshold`),
  // NaN (dropped), 0.7 (kept).
  const std::vector<float> boxes = {0, 0, 0.1f, 0.1f, 0.2f, 0.2f, 0.3f, 0.3f, 0.5f, 0.5f, 0.6f, 0.6f};
  const std::vector<float> scores = {0.5f, std::nanf(""), 0.7f};
  EXPECT_EQ(non_max_suppression(boxes.data(), scores.data(), 3, 0.5f, 0.5f, 10), (std::vector<int64_t>{2}));
  EXPECT_EQ(non_max_suppression(boxes.data(), scores.data(), 3, 0.5f, 0.f, 10), (std::vector<int64_t>{2, 0}));
  EXPECT_TRUE(non_max_suppression(boxes.data(), scores.data(), 3, 0.5f, 0.f, 0).empty());
}

TEST(NonMaxSuppression, IouEqualToThresholdDoesNotSuppress) {
  // [0,0,1,2] contains [0,0,1,1]: intersection 1, union 2, IoU exactly 1/2 in float32.
  // TF suppresses only above the threshold, so at 0.5 both stay; at 0.49 the second goes.
  const std::vector<float> boxes = {0, 0, 1, 2, 0, 0, 1, 1};
  const std::vector<float> scores = {0.9f, 0.8f};
  ASSERT_EQ(nms_iou(&boxes[0], &boxes[4]), 0.5f);
  EXPECT_EQ(non_max_suppression(boxes.data(), scores.data(), 2, 0.5f, 0.f, 10), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(non_max_suppression(boxes.data(), scores.data(), 2, 0.49f, 0.f, 10), (std::vector<int64_t>{0}));
}

TEST(NonMaxSuppression, EqualScoresGoByLowerIndex) {
  // Identical boxes with equal scores: the lowest index is kept, the rest suppressed; disjoint
  // boxes with equal scores come out in index order.
  const std::vector<float> same = {0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1};
  const std::vector<float> s = {0.5f, 0.5f, 0.5f};
  EXPECT_EQ(non_max_suppression(same.data(), s.data(), 3, 0.5f, 0.f, 10), (std::vector<int64_t>{0}));
  const std::vector<float> apart = {2, 2, 3, 3, 0, 0, 1, 1, 4, 4, 5, 5};
  EXPECT_EQ(non_max_suppression(apart.data(), s.data(), 3, 0.5f, 0.f, 10), (std::vector<int64_t>{0, 1, 2}));
}

TEST(NonMaxSuppression, OnnxConformanceCases) {
  // ONNX's NonMaxSuppression (its reference implementation, onnx/reference/ops/
  // op_non_max_suppression.py) has tf.image.non_max_suppression's rules: boxes [y1, x1, y2, x2]
  // in either corner order, only scores > score_threshold, greedy by score with ties to the
  // lower index, suppression when IoU > iou_threshold, zero-area boxes never suppress, at most
  // max_output_boxes_per_class per (batch, class). So all nine cases run, each (batch, class)
  // pair one non_max_suppression call, the triples listed batch by batch, class by class.
  // Only center_point_box_format needs a step TF does not have: its boxes are [x_center,
  // y_center, width, height] and are converted to corners first. (No case sits exactly on a
  // threshold, so > against >= is settled by the tests above, not here.)
  simdjson::dom::parser parser;
  const simdjson::padded_string json = simdjson::padded_string::load(fixture("onnx_nms_cases.json")).value();
  const simdjson::dom::element doc = parser.parse(json).value();
  int cases = 0;
  const simdjson::dom::array all_cases = doc["cases"].get_array().value();
  for (simdjson::dom::element c : all_cases) {
    const std::string name(c["name"].get_string().value());
    SCOPED_TRACE(name);
    auto ints = [](simdjson::dom::element a) {
      std::vector<int64_t> v;
      const simdjson::dom::array items = a.get_array().value();
      for (simdjson::dom::element x : items) v.push_back(x.get_int64().value());
      return v;
    };
    auto floats = [](simdjson::dom::element a) {
      std::vector<float> v;
      const simdjson::dom::array items = a.get_array().value();
      for (simdjson::dom::element x : items) v.push_back(static_cast<float>(x.get_double().value()));
      return v;
    };
    const std::vector<int64_t> box_shape = ints(c["boxes_shape"]), score_shape = ints(c["scores_shape"]);
    std::vector<float> boxes = floats(c["boxes"]);
    const std::vector<float> scores = floats(c["scores"]);
    const int64_t batches = box_shape[0], n = box_shape[1], classes = score_shape[1];
    ASSERT_EQ(score_shape[0], batches);
    ASSERT_EQ(score_shape[2], n);
    if (c["center_point_box"].get_int64().value() == 1) {
      for (int64_t i = 0; i < batches * n; ++i) {
        float* b = &boxes[4 * i];
        const float xc = b[0], yc = b[1], w = b[2], h = b[3];
        b[0] = yc - h / 2;
        b[1] = xc - w / 2;
        b[2] = yc + h / 2;
        b[3] = xc + w / 2;
      }
    }
    const int64_t max_out = c["max_output_boxes_per_class"].get_int64().value();
    const float iou_thr = static_cast<float>(c["iou_threshold"].get_double().value());
    const float score_thr = static_cast<float>(c["score_threshold"].get_double().value());
    std::vector<std::vector<int64_t>> got;
    for (int64_t b = 0; b < batches; ++b)
      for (int64_t k = 0; k < classes; ++k)
        for (int64_t i : non_max_suppression(&boxes[4 * n * b], &scores[(b * classes + k) * n], n, iou_thr, score_thr,
                                             max_out))
          got.push_back({b, k, i});
    std::vector<std::vector<int64_t>> want;
    const simdjson::dom::array selected = c["selected_indices"].get_array().value();
    for (simdjson::dom::element t : selected) want.push_back(ints(t));
    EXPECT_EQ(got, want);
    ++cases;
  }
  EXPECT_EQ(cases, 9);
}

// ---- Multi-class NMS ----

std::vector<Detection> multiclass_ref(const std::vector<float>& boxes, const std::vector<float>& scores, int64_t a,
                                      int64_t k, const MulticlassNmsOptions& o) {
  std::vector<Detection> all;
  for (int64_t c = 0; c < k; ++c)
    for (int64_t i : nms_ref(boxes.data(), scores.data() + c, k, a, o.iou_threshold, o.score_threshold,
                             std::min(o.max_size_per_class, a))) {
      Detection d;
      std::copy(&boxes[4 * i], &boxes[4 * i] + 4, d.box);
      d.score = scores[i * k + c];
      d.class_index = c;
      all.push_back(d);
    }
  // Insertion sort: stable by construction.
  for (size_t i = 1; i < all.size(); ++i)
    for (size_t j = i; j > 0 && all[j].score > all[j - 1].score; --j) std::swap(all[j], all[j - 1]);
  std::vector<Detection> out;
  for (Detection d : all) {
    if (o.clip) {
      for (int c : {0, 2}) d.box[c] = std::clamp(d.box[c], o.clip_window[0], o.clip_window[2]);
      for (int c : {1, 3}) d.box[c] = std::clamp(d.box[c], o.clip_window[1], o.clip_window[3]);
      if (!((d.box[2] - d.box[0]) * (d.box[3] - d.box[1]) > 0)) continue;
    }
    out.push_back(d);
  }
  if (o.max_total_size > 0 && static_cast<int64_t>(out.size()) > o.max_total_size) out.resize(o.max_total_size);
  return out;
}

TEST(MulticlassNms, MatchesReferenceWithTiesAndClipping) {
  Philox rng(9, 0);
  for (int trial = 0; trial < 40; ++trial) {
    const int64_t a = 1 + static_cast<int64_t>(rng.below(200)), k = 1 + static_cast<int64_t>(rng.below(12));
    std::vector<float> boxes, scores;
    random_boxes(rng, a, boxes, scores, k);
    // Some boxes wholly outside [0,1]: clipping leaves them without area and drops them.
    for (int64_t i = 0; i < a; i += 7) {
      boxes[4 * i] += 1.5f;
      boxes[4 * i + 2] += 1.5f;
    }
    MulticlassNmsOptions o;
    o.score_threshold = static_cast<float>(rng.below(4)) / 16.f;
    o.iou_threshold = rng.uniform(0.2f, 0.8f);
    o.max_size_per_class = 1 + static_cast<int64_t>(rng.below(30));
    o.max_total_size = static_cast<int64_t>(rng.below(80));
    o.clip = rng.below(2) == 1;
    const std::vector<Detection> want = multiclass_ref(boxes, scores, a, k, o);
    // The same scores laid out class-major give the same detections.
    std::vector<float> transposed(scores.size());
    for (int64_t i = 0; i < a; ++i)
      for (int64_t c = 0; c < k; ++c) transposed[c * a + i] = scores[i * k + c];
    for (bool class_major : {false, true}) {
      o.class_major = class_major;
      const std::vector<Detection> got =
          multiclass_nms(boxes.data(), class_major ? transposed.data() : scores.data(), a, k, o);
      ASSERT_EQ(got.size(), want.size()) << "trial " << trial << " class_major " << class_major;
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].class_index, want[i].class_index) << "trial " << trial << " detection " << i;
        ASSERT_EQ(got[i].score, want[i].score);
        for (int c = 0; c < 4; ++c) ASSERT_EQ(got[i].box[c], want[i].box[c]);
      }
    }
  }
}

TEST(MulticlassNms, MergedOrderAndLimits) {
  // Two disjoint boxes, three classes. Class 0 scores {0.9, 0.3}, class 1 {0.3, 0.8},
  // class 2 {0.9, 0.1}: merged by score with ties in class order:
  // (0.9, c0, box0), (0.9, c2, box0), (0.8, c1, box1), (0.3, c0, box1), (0.3, c1, box0), (0.1, c2, box1).
  const std::vector<float> boxes = {0, 0, 0.4f, 0.4f, 0.5f, 0.5f, 0.9f, 0.9f};
  const std::vector<float> scores = {0.9f, 0.3f, 0.9f, 0.3f, 0.8f, 0.1f};
  MulticlassNmsOptions o;
  o.score_threshold = 0.f;
  o.max_total_size = 5;
  const std::vector<Detection> d = multiclass_nms(boxes.data(), scores.data(), 2, 3, o);
  ASSERT_EQ(d.size(), 5u);
  const int64_t classes[5] = {0, 2, 1, 0, 1};
  const float want_scores[5] = {0.9f, 0.9f, 0.8f, 0.3f, 0.3f};
  const float first_y[5] = {0, 0, 0.5f, 0.5f, 0};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(d[i].class_index, classes[i]) << i;
    EXPECT_EQ(d[i].score, want_scores[i]) << i;
    EXPECT_EQ(d[i].box[0], first_y[i]) << i;
  }
  o.max_size_per_class = 1;  // one per class: (0.9, c0), (0.9, c2), (0.8, c1)
  EXPECT_EQ(multiclass_nms(boxes.data(), scores.data(), 2, 3, o).size(), 3u);
}

// Gaussian soft-NMS (TF's non_max_suppression_with_scores, sigma 0.5 as EfficientDet's): B
// overlaps A with IoU 1/3 and keeps 0.8 x exp(-0.5 (1/3)^2 / 0.5) = 0.7157 of its score, so the
// disjoint C (0.72) now comes before it; D covers A with IoU 0.81 > iou_threshold 0.8 and goes.
TEST(MulticlassNms, SoftNmsDecaysOverlapsAndReordersThem) {
  const std::vector<float> boxes = {0, 0, 1, 1,      // A
                                    0, 0.5f, 1, 1.5f,  // B: IoU(A, B) = 0.5 / 1.5
                                    5, 5, 6, 6,      // C: disjoint
                                    0, 0, 0.9f, 0.9f};  // D: IoU(A, D) = 0.81
  const std::vector<float> scores = {0.9f, 0.8f, 0.72f, 0.85f};
  MulticlassNmsOptions o;
  o.iou_threshold = 0.8f;
  o.score_threshold = 0.001f;
  o.soft_nms_sigma = 0.5f;
  const std::vector<Detection> d = multiclass_nms(boxes.data(), scores.data(), 4, 1, o);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_FLOAT_EQ(d[0].score, 0.9f);
  EXPECT_FLOAT_EQ(d[1].score, 0.72f);
  EXPECT_EQ(d[1].box[0], 5.f);
  EXPECT_NEAR(d[2].score, 0.8 * std::exp(-0.5 * (1.0 / 9.0) / 0.5), 1e-6);
  EXPECT_EQ(d[2].box[1], 0.5f);
  o.soft_nms_sigma = 0.f;  // greedy: B (IoU 1/3 <= 0.8) stays with its score, D goes
  const std::vector<Detection> g = multiclass_nms(boxes.data(), scores.data(), 4, 1, o);
  ASSERT_EQ(g.size(), 3u);
  EXPECT_FLOAT_EQ(g[1].score, 0.8f);
}

}  // namespace
}  // namespace trainer::cpu
