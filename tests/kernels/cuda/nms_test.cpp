// The CUDA multi-class NMS against cpu::multiclass_nms, image by image, compared exactly (same
// detections, same order, same bits). The inputs are made to hit every rule: scores on a
// coarse grid (ties within and across classes, decided by index and class order), NaN scores
// and scores equal to the threshold (never candidates), boxes with flipped corners, zero area,
// duplicates, boxes outside the clip window (dropped after NMS), IoU thresholds of 0 and 1, and
// limits that make the per-class walk take several 256-candidate tiles and the merge several
// rounds (max_size_per_class and max_total_size above 256, or 0 for "keep all").
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "device_test_util.h"
#include "trainer/core/error.h"
#include "trainer/kernels/cuda/box_ops.h"

namespace trainer::cuda {
namespace {

using testing::DeviceArray;

// One image's boxes in four clusters (so suppression happens), with the corner cases above.
std::vector<float> cluster_boxes(std::mt19937& rng, int64_t a) {
  std::uniform_real_distribution<float> jitter(-0.3f, 0.3f), size(0.f, 0.4f), unit(0.f, 1.f);
  std::vector<float> b(4 * a);
  for (int64_t i = 0; i < a; ++i) {
    const float cy = unit(rng) < 0.5f ? 0.25f : 0.75f, cx = unit(rng) < 0.5f ? 0.25f : 0.75f;
    const float y = cy + jitter(rng), x = cx + jitter(rng), h = size(rng), w = size(rng);
    float* p = &b[4 * i];
    p[0] = y - h / 2;
    p[1] = x - w / 2;
    p[2] = y + h / 2;
    p[3] = x + w / 2;
    if (i % 5 == 1) std::swap(p[0], p[2]), std::swap(p[1], p[3]);
    if (i % 23 == 7) p[3] = p[1];                       // zero area: never suppresses
    if (i % 9 == 4) std::copy(&b[4 * (i / 3)], &b[4 * (i / 3)] + 4, p);  // duplicates: IoU 1
    if (i % 7 == 0) p[0] += 1.5f, p[2] += 1.5f;         // outside the window: clipped away
  }
  return b;
}

// Scores [a, k] on a grid of 1/16 (ties), a few NaN, some exactly at `threshold`.
std::vector<float> grid_scores(std::mt19937& rng, int64_t a, int64_t k, float threshold) {
  std::uniform_int_distribution<int> level(0, 16), pick(0, 40);
  std::vector<float> s(a * k);
  for (float& v : s) {
    const int u = pick(rng);
    v = u == 0 ? std::numeric_limits<float>::quiet_NaN() : (u == 1 ? threshold : level(rng) / 16.f);
  }
  return s;
}

std::vector<float> transpose(const std::vector<float>& s, int64_t images, int64_t a, int64_t k) {
  std::vector<float> t(s.size());
  for (int64_t n = 0; n < images; ++n)
    for (int64_t i = 0; i < a; ++i)
      for (int64_t c = 0; c < k; ++c) t[(n * k + c) * a + i] = s[(n * a + i) * k + c];
  return t;
}

bool same_float(float x, float y) { return std::memcmp(&x, &y, sizeof(float)) == 0; }

// Runs the CUDA NMS on a batch and compares every image with the CPU's multiclass_nms.
void check_batch(const std::vector<float>& boxes, const std::vector<float>& scores, int64_t images, int64_t a,
                 int64_t k, cpu::MulticlassNmsOptions o, const std::string& label) {
  for (const bool class_major : {false, true}) {
    SCOPED_TRACE(label + (class_major ? " class-major" : " anchor-major"));
    o.class_major = class_major;
    const std::vector<float> laid_out = class_major ? transpose(scores, images, a, k) : scores;
    const int64_t capacity = multiclass_nms_capacity(a, k, o);
    DeviceArray<float> d_boxes(boxes), d_scores(laid_out);
    DeviceArray<float> out_boxes(std::max<int64_t>(1, images * capacity * 4)),
        out_scores(std::max<int64_t>(1, images * capacity));
    DeviceArray<int32_t> out_classes(std::max<int64_t>(1, images * capacity)), counts(images);
    multiclass_nms(d_boxes.get(), d_scores.get(), images, a, k, o, nullptr,
                   {out_boxes.get(), out_scores.get(), out_classes.get(), counts.get()}, nullptr);
    const std::vector<float> got_boxes = out_boxes.download(), got_scores = out_scores.download();
    const std::vector<int32_t> got_classes = out_classes.download(), got_counts = counts.download();
    for (int64_t n = 0; n < images; ++n) {
      const std::vector<cpu::Detection> want =
          cpu::multiclass_nms(&boxes[n * a * 4], &laid_out[n * a * k], a, k, o);
      ASSERT_EQ(got_counts[n], static_cast<int32_t>(want.size())) << "image " << n;
      for (int64_t d = 0; d < capacity; ++d) {
        const int64_t o_i = n * capacity + d;
        if (d >= static_cast<int64_t>(want.size())) {  // padding
          ASSERT_EQ(got_classes[o_i], -1) << "image " << n << " slot " << d;
          ASSERT_EQ(got_scores[o_i], 0.f);
          continue;
        }
        const cpu::Detection& w = want[d];
        ASSERT_EQ(got_classes[o_i], w.class_index) << "image " << n << " detection " << d;
        ASSERT_TRUE(same_float(got_scores[o_i], w.score)) << "image " << n << " detection " << d;
        for (int c = 0; c < 4; ++c)
          ASSERT_TRUE(same_float(got_boxes[o_i * 4 + c], w.box[c])) << "image " << n << " detection " << d;
      }
    }
  }
}

TEST(CudaNms, MatchesTheCpuOnRandomBatches) {
  std::mt19937 rng(17);
  std::uniform_int_distribution<int> coin(0, 1), small(1, 40), quarter(0, 3);
  std::uniform_real_distribution<float> iou(0.2f, 0.8f);
  for (int trial = 0; trial < 12; ++trial) {
    const int64_t images = 1 + trial % 3, a = 40 + 37 * trial, k = 1 + trial % 5;
    cpu::MulticlassNmsOptions o;
    o.score_threshold = quarter(rng) / 16.f;
    o.iou_threshold = iou(rng);
    o.max_size_per_class = small(rng);
    o.max_total_size = trial % 4 == 0 ? 0 : small(rng) * 2;
    o.clip = coin(rng) == 1;
    std::vector<float> boxes, scores;
    for (int64_t n = 0; n < images; ++n) {
      const std::vector<float> b = cluster_boxes(rng, a), s = grid_scores(rng, a, k, o.score_threshold);
      boxes.insert(boxes.end(), b.begin(), b.end());
      scores.insert(scores.end(), s.begin(), s.end());
    }
    check_batch(boxes, scores, images, a, k, o, "trial " + std::to_string(trial));
  }
}

TEST(CudaNms, ManyTilesPerClassAndManyMergeRounds) {
  // 700 boxes, 3 classes: with IoU threshold 1 nothing is suppressed, so all ~650 candidates
  // per class are kept (three 256-candidate tiles) and merged in up to eight rounds; with
  // threshold 0 any overlap suppresses; 0.5 in between. Limits above and below a tile.
  std::mt19937 rng(5);
  const int64_t images = 2, a = 700, k = 3;
  std::vector<float> boxes, scores;
  for (int64_t n = 0; n < images; ++n) {
    const std::vector<float> b = cluster_boxes(rng, a), s = grid_scores(rng, a, k, 0.f);
    boxes.insert(boxes.end(), b.begin(), b.end());
    scores.insert(scores.end(), s.begin(), s.end());
  }
  for (const float iou : {1.f, 0.f, 0.5f})
    for (const int64_t per_class : {int64_t{700}, int64_t{300}, int64_t{256}, int64_t{3}})
      for (const int64_t total : {int64_t{0}, int64_t{600}, int64_t{257}, int64_t{100}}) {
        cpu::MulticlassNmsOptions o;
        o.score_threshold = 0.f;
        o.iou_threshold = iou;
        o.max_size_per_class = per_class;
        o.max_total_size = total;
        o.clip = per_class != 300;
        check_batch(boxes, scores, images, a, k, o,
                    "iou " + std::to_string(iou) + " per class " + std::to_string(per_class) + " total " +
                        std::to_string(total));
      }
}

TEST(CudaNms, SsdLikeScoresAndEdgeCases) {
  // Sigmoid scores of N(-4, 3) logits with SSD320's thresholds (1e-8, 0.6, 100, 100, clip):
  // nearly every anchor is a candidate of every class.
  std::mt19937 rng(23);
  std::normal_distribution<float> logit(-4.f, 3.f);
  const int64_t images = 2, a = 600, k = 5;
  std::vector<float> boxes, scores(images * a * k);
  for (int64_t n = 0; n < images; ++n) {
    const std::vector<float> b = cluster_boxes(rng, a);
    boxes.insert(boxes.end(), b.begin(), b.end());
  }
  for (float& s : scores) s = 1.f / (1.f + std::exp(-logit(rng)));
  cpu::MulticlassNmsOptions o;
  o.clip = true;
  check_batch(boxes, scores, images, a, k, o, "ssd320 options");

  // Scores <= 0 with a negative threshold: the best candidates are -0 and +0, which tie (the
  // lower index first, in NMS and in the merge) although their bits differ.
  std::vector<float> signed_scores(images * a * k);
  std::uniform_int_distribution<int> level(-4, 0);
  for (float& s : signed_scores) {
    const int v = level(rng);
    s = v == 0 ? (rng() % 2 ? 0.f : -0.f) : v / 4.f;
  }
  o.score_threshold = -0.6f;
  check_batch(boxes, signed_scores, images, a, k, o, "signed scores");

  // No candidates at all, and limits of zero.
  std::vector<float> low(images * a * k, 1e-9f);
  o.score_threshold = 1e-8f;
  check_batch(boxes, low, images, a, k, o, "no candidates");
  o.max_size_per_class = 0;
  check_batch(boxes, scores, images, a, k, o, "max_size_per_class 0");
}

TEST(CudaNms, Ssd320SizedImage) {
  // One image at SSD320's real size: 12,804 anchors, 90 classes, class-major sigmoid scores,
  // the config's thresholds and limits (each class walks ~12,800 candidates to keep 100).
  std::mt19937 rng(29);
  std::normal_distribution<float> logit(-6.f, 3.f);
  const int64_t a = 12804, k = 90;
  const std::vector<float> boxes = cluster_boxes(rng, a);
  std::vector<float> scores(a * k);
  for (float& s : scores) s = 1.f / (1.f + std::exp(-logit(rng)));
  cpu::MulticlassNmsOptions o;
  o.clip = true;
  check_batch(boxes, scores, 1, a, k, o, "ssd320 size");
}

TEST(CudaNms, EachImageInItsOwnClipWindow) {
  // EfficientDet pads its inputs, so each image is clipped to where its picture is. The CUDA
  // batch against the CPU's batched multiclass_nms (the same layout), and that against
  // cpu::multiclass_nms image by image with the image's window.
  std::mt19937 rng(31);
  std::uniform_real_distribution<float> extent(0.3f, 1.f);
  const int64_t images = 4, a = 300, k = 3;
  std::vector<float> boxes, scores, windows;
  for (int64_t n = 0; n < images; ++n) {
    const std::vector<float> b = cluster_boxes(rng, a), s = grid_scores(rng, a, k, 0.f);
    boxes.insert(boxes.end(), b.begin(), b.end());
    scores.insert(scores.end(), s.begin(), s.end());
    windows.insert(windows.end(), {0.f, 0.f, n == 0 ? 1.f : extent(rng), n == 0 ? 1.f : extent(rng)});
  }
  cpu::MulticlassNmsOptions o;
  o.score_threshold = 0.f;
  o.iou_threshold = 0.5f;
  o.max_size_per_class = 40;
  o.max_total_size = 70;
  o.clip = true;
  const int64_t capacity = cpu::multiclass_nms_capacity(a, k, o);
  std::vector<float> want_boxes(images * capacity * 4), want_scores(images * capacity);
  std::vector<int32_t> want_classes(images * capacity), want_counts(images);
  cpu::multiclass_nms(boxes.data(), scores.data(), images, a, k, o, windows.data(),
                      {want_boxes.data(), want_scores.data(), want_classes.data(), want_counts.data()});
  for (int64_t n = 0; n < images; ++n) {
    cpu::MulticlassNmsOptions own = o;
    std::copy(&windows[4 * n], &windows[4 * n] + 4, own.clip_window);
    const std::vector<cpu::Detection> one = cpu::multiclass_nms(&boxes[n * a * 4], &scores[n * a * k], a, k, own);
    ASSERT_EQ(want_counts[n], static_cast<int32_t>(one.size())) << "image " << n;
    for (size_t d = 0; d < one.size(); ++d) {
      ASSERT_EQ(want_classes[n * capacity + d], one[d].class_index);
      ASSERT_TRUE(same_float(want_scores[n * capacity + d], one[d].score));
      for (int c = 0; c < 4; ++c) ASSERT_TRUE(same_float(want_boxes[(n * capacity + d) * 4 + c], one[d].box[c]));
    }
  }
  DeviceArray<float> d_boxes(boxes), d_scores(scores), d_windows(windows);
  DeviceArray<float> out_boxes(images * capacity * 4), out_scores(images * capacity);
  DeviceArray<int32_t> out_classes(images * capacity), counts(images);
  multiclass_nms(d_boxes.get(), d_scores.get(), images, a, k, o, d_windows.get(),
                 {out_boxes.get(), out_scores.get(), out_classes.get(), counts.get()}, nullptr);
  EXPECT_EQ(counts.download(), want_counts);
  EXPECT_EQ(out_classes.download(), want_classes);
  const std::vector<float> got_boxes = out_boxes.download(), got_scores = out_scores.download();
  for (size_t i = 0; i < got_scores.size(); ++i) ASSERT_TRUE(same_float(got_scores[i], want_scores[i])) << i;
  for (size_t i = 0; i < got_boxes.size(); ++i) ASSERT_TRUE(same_float(got_boxes[i], want_boxes[i])) << i;
}

TEST(CudaNms, RefusesSoftNms) {
  DeviceArray<float> boxes(std::vector<float>{0, 0, 1, 1}), scores(std::vector<float>{0.5f});
  DeviceArray<float> out_boxes(4), out_scores(1);
  DeviceArray<int32_t> out_classes(1), counts(1);
  cpu::MulticlassNmsOptions o;
  o.soft_nms_sigma = 0.5f;
  EXPECT_THROW(
      {
        try {
          multiclass_nms(boxes.get(), scores.get(), 1, 1, 1, o, nullptr,
                         {out_boxes.get(), out_scores.get(), out_classes.get(), counts.get()}, nullptr);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("soft_nms_sigma"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
}

}  // namespace
}  // namespace trainer::cuda
