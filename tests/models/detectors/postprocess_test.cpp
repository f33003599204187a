// SSD post-processing (models/detectors/postprocess.h) on predictions worked out by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "trainer/models/detectors/postprocess.h"

namespace trainer::models {
namespace {

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

// One image's predictions through postprocess_batch on the CPU.
std::vector<DetectedBox> detect_one(const std::vector<float>& logits, const std::vector<float>& codes,
                                    const std::vector<float>& anchors, int64_t a, int64_t slots,
                                    const PostprocessOptions& o) {
  Context ctx;
  return postprocess_batch(ctx, Tensor::from_floats({1, a, slots}, logits), Tensor::from_floats({1, a, 4}, codes),
                           Tensor::from_floats({a, 4}, anchors), o)[0];
}

TEST(Postprocess, SigmoidBackgroundSliceNmsAndClip) {
  // Zero codes decode to the anchors themselves. Logits are [background, class 1, class 2].
  const std::vector<float> anchors = {
      0.1f, 0.1f, 0.4f, 0.4f,   // a0
      -0.2f, 0.5f, 0.3f, 1.2f,  // a1: sticks out above and to the right
      1.2f, 1.2f, 1.5f, 1.5f,   // a2: wholly outside the image
      0.1f, 0.1f, 0.4f, 0.4f};  // a3: a0 again
  const std::vector<float> logits = {5, 2, -1,  //
                                     0, -3, 0.5f,  //
                                     0, 4, 4,   //
                                     0, 1, -2};
  const std::vector<float> codes(16, 0.f);
  // Class 1 NMS keeps a2 (0.982), a0 (0.881), a1 (0.047); a3 (0.731) overlaps a0 with IoU 1.
  // Class 2 keeps a2 (0.982), a1 (0.622), a0 (0.269); a3 (0.119) again suppressed by a0.
  // Merged by score, then clipped to [0, 1]: a2 collapses to a point and is dropped; a1
  // becomes [0, 0.5, 0.3, 1]. The background logit 5 of a0 plays no part.
  const std::vector<DetectedBox> d = detect_one(logits, codes, anchors, 4, 3, PostprocessOptions{});
  ASSERT_EQ(d.size(), 4u);
  const int32_t classes[4] = {1, 2, 2, 1};
  const double scores[4] = {sigmoid(2), sigmoid(0.5), sigmoid(-1), sigmoid(-3)};
  const float boxes[4][4] = {{0.1f, 0.1f, 0.4f, 0.4f}, {0, 0.5f, 0.3f, 1}, {0.1f, 0.1f, 0.4f, 0.4f}, {0, 0.5f, 0.3f, 1}};
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE("detection " + std::to_string(i));
    EXPECT_EQ(d[i].class_id, classes[i]);
    EXPECT_NEAR(d[i].score, scores[i], 1e-6);
    for (int c = 0; c < 4; ++c) EXPECT_NEAR(d[i].box[c], boxes[i][c], 1e-6);
  }
}

TEST(Postprocess, ClipsAfterNms) {
  // Unclipped, b ([0, 0.8, 0.1, 3]) overlaps a ([0, 0.8, 0.1, 1]) with IoU 0.2 / 2.2: both are
  // kept although clipping makes them the same box. TF runs NMS on the unclipped boxes.
  const std::vector<float> anchors = {0, 0.8f, 0.1f, 1.0f, 0, 0.8f, 0.1f, 3.0f};
  const std::vector<float> logits = {0, 3, 0, 2};
  const std::vector<float> codes(8, 0.f);
  const std::vector<DetectedBox> d = detect_one(logits, codes, anchors, 2, 2, PostprocessOptions{});
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NEAR(d[1].box[3], 1.0, 1e-6);
  EXPECT_NEAR(d[1].score, sigmoid(2), 1e-6);
}

TEST(Postprocess, DecodesCodesAndAppliesLimits) {
  // 150 disjoint anchors in a 15 x 10 grid, one class, codes that halve each box around its
  // centre (th = tw = 5 ln 0.5): 100 per class survive, best logits first.
  std::vector<float> anchors, logits, codes;
  for (int i = 0; i < 150; ++i) {
    const float y = static_cast<float>(i / 10) / 15.f, x = static_cast<float>(i % 10) / 10.f;
    anchors.insert(anchors.end(), {y, x, y + 1.f / 15.f, x + 0.1f});
    logits.insert(logits.end(), {0.f, static_cast<float>(i) / 10.f});
    codes.insert(codes.end(), {0.f, 0.f, 5.f * std::log(0.5f), 5.f * std::log(0.5f)});
  }
  PostprocessOptions o;
  o.logit_scale = 2.f;
  const std::vector<DetectedBox> d = detect_one(logits, codes, anchors, 150, 2, o);
  ASSERT_EQ(d.size(), 100u);
  EXPECT_NEAR(d[0].score, sigmoid(14.9 / 2), 1e-6);  // anchor 149, logit 14.9, scale 2
  EXPECT_NEAR(d[99].score, sigmoid(5.0 / 2), 1e-6);  // anchor 50
  // Anchor 149: rows 14 (y 14/15), column 9 (x 0.9), size 1/15 x 0.1, halved around the centre.
  const float* a = &anchors[4 * 149];
  const float yc = (a[0] + a[2]) / 2, xc = (a[1] + a[3]) / 2;
  EXPECT_NEAR(d[0].box[0], yc - 1.f / 60.f, 1e-6);
  EXPECT_NEAR(d[0].box[1], xc - 0.025f, 1e-6);
  EXPECT_NEAR(d[0].box[2], yc + 1.f / 60.f, 1e-6);
  EXPECT_NEAR(d[0].box[3], xc + 0.025f, 1e-6);
  o.max_total_detections = 7;
  o.max_detections_per_class = 5;
  EXPECT_EQ(detect_one(logits, codes, anchors, 150, 2, o).size(), 5u);
}

TEST(Postprocess, BatchIsEachImageInItsOwnClipWindow) {
  const std::vector<float> anchors = {0.1f, 0.1f, 0.4f, 0.4f, 0.5f, 0.5f, 0.9f, 0.9f};
  const std::vector<float> logits = {0, 1, -1, 0, -2, 3,  // image 0
                                     0, -1, 2, 0, 0.5f, 0};  // image 1
  const std::vector<float> codes = {0.1f, 0.2f, 0.3f, -0.1f, 0, 0, 0, 0, 1, -1, 0.5f, 0, 0, 0.3f, 0, 0};
  // Image 1 is padded: its picture is the top-left [0, 0, 0.6, 0.7] of the input.
  const std::vector<std::array<float, 4>> windows = {{0.f, 0.f, 1.f, 1.f}, {0.f, 0.f, 0.6f, 0.7f}};
  Context ctx;
  const std::vector<std::vector<DetectedBox>> batch =
      postprocess_batch(ctx, Tensor::from_floats({2, 2, 3}, logits), Tensor::from_floats({2, 2, 4}, codes),
                        Tensor::from_floats({2, 4}, anchors), PostprocessOptions{}, windows);
  ASSERT_EQ(batch.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE("image " + std::to_string(i));
    PostprocessOptions own;
    own.clip_window = windows[i];
    const std::vector<DetectedBox> one =
        detect_one({logits.begin() + 6 * i, logits.begin() + 6 * i + 6},
                   {codes.begin() + 8 * i, codes.begin() + 8 * i + 8}, anchors, 2, 3, own);
    ASSERT_EQ(batch[i].size(), one.size());
    for (size_t j = 0; j < one.size(); ++j) {
      EXPECT_EQ(batch[i][j].class_id, one[j].class_id);
      EXPECT_EQ(batch[i][j].score, one[j].score);
      for (int c = 0; c < 4; ++c) {
        EXPECT_EQ(batch[i][j].box[c], one[j].box[c]);
        EXPECT_LE(batch[i][j].box[c], c % 2 == 0 ? windows[i][2] : windows[i][3]);
      }
    }
  }
  // Image 1's second box decodes to [0.5, 0.512, 0.9, 0.912]: its window cuts it to
  // [0.5, 0.512, 0.6, 0.7] (image 0's would have left it at [.., 0.9, 0.912]).
  const auto cut = std::count_if(batch[1].begin(), batch[1].end(),
                                 [](const DetectedBox& b) { return b.box[2] == 0.6f && b.box[3] == 0.7f; });
  EXPECT_EQ(cut, 2);  // both classes of that anchor
}

}  // namespace
}  // namespace trainer::models
