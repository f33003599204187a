// The whole SSD loss against an independent NumPy implementation of NVIDIA's TF Object
// Detection API code (scripts/detection/ssd_loss_reference.py -> tests/models/data/
// ssd_loss_reference.json): anchors, matches, number of positives, both normalised losses and
// their gradients with respect to the logits and box codes, for two matcher settings.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "trainer/models/detectors/anchors.h"
#include "trainer/models/detectors/ssd_loss.h"
#include "trainer/models/detectors/target_assigner.h"
#include "trainer/ops/elementwise.h"

namespace trainer::models {
namespace {

std::string fixture(const std::string& name) {
  const char* dir = std::getenv("TRAINER_SOURCE_DIR");
  return std::string(dir ? dir : ".") + "/tests/models/data/" + name;
}

std::vector<double> numbers(simdjson::dom::element e) {
  std::vector<double> v;
  const simdjson::dom::array items = e.get_array().value();
  for (simdjson::dom::element x : items) {
    if (x.is_array()) {
      const std::vector<double> inner = numbers(x);
      v.insert(v.end(), inner.begin(), inner.end());
    } else {
      v.push_back(x.get_double().value());
    }
  }
  return v;
}

std::vector<float> floats(simdjson::dom::element e) {
  const std::vector<double> d = numbers(e);
  return std::vector<float>(d.begin(), d.end());
}

TEST(SsdLoss, MatchesNumPyReference) {
  simdjson::dom::parser parser;
  const simdjson::padded_string json = simdjson::padded_string::load(fixture("ssd_loss_reference.json")).value();
  const simdjson::dom::element doc = parser.parse(json).value();

  // Anchors: ours against the reference's float32 ones.
  MultiscaleAnchorOptions ao;
  const simdjson::dom::element o = doc["anchor_options"].value();
  ao.min_level = static_cast<int>(o["min_level"].get_int64().value());
  ao.max_level = static_cast<int>(o["max_level"].get_int64().value());
  ao.anchor_scale = static_cast<float>(o["anchor_scale"].get_double().value());
  ao.aspect_ratios = floats(o["aspect_ratios"].value());
  ao.scales_per_octave = static_cast<int>(o["scales_per_octave"].get_int64().value());
  const Tensor anchors = multiscale_grid_anchors(ao, doc["image_height"].get_int64().value(),
                                                 doc["image_width"].get_int64().value());
  const std::vector<float> want_anchors = floats(doc["anchors"].value());
  ASSERT_EQ(anchors.numel(), static_cast<int64_t>(want_anchors.size()));
  for (size_t i = 0; i < want_anchors.size(); ++i)
    ASSERT_FLOAT_EQ(anchors.data<float>()[i], want_anchors[i]) << "anchor " << i / 4 << " coordinate " << i % 4;
  const int64_t a = anchors.dim(0), k = doc["num_classes"].get_int64().value();

  // Ground truth, kept alive for the views.
  std::vector<std::vector<float>> boxes;
  std::vector<std::vector<int32_t>> labels;
  std::vector<std::vector<uint8_t>> crowd;
  const simdjson::dom::array images = doc["images"].get_array().value();
  for (simdjson::dom::element image : images) {
    boxes.push_back(floats(image["boxes"].value()));
    const std::vector<double> l = numbers(image["labels"].value()), c = numbers(image["crowd"].value());
    labels.emplace_back(l.begin(), l.end());
    crowd.emplace_back(c.begin(), c.end());
  }
  std::vector<ImageGroundTruth> gt;
  for (size_t i = 0; i < boxes.size(); ++i)
    gt.push_back({boxes[i].data(), labels[i].data(), crowd[i].data(), static_cast<int64_t>(labels[i].size())});
  const int64_t n = static_cast<int64_t>(gt.size());
  const std::vector<float> logits = floats(doc["logits"].value()), codes = floats(doc["box_codes"].value());

  SsdLossOptions lo;
  lo.focal_alpha = static_cast<float>(doc["focal_alpha"].get_double().value());
  lo.focal_gamma = static_cast<float>(doc["focal_gamma"].get_double().value());
  lo.smooth_l1_delta = static_cast<float>(doc["smooth_l1_delta"].get_double().value());

  const simdjson::dom::array cases = doc["cases"].get_array().value();
  int count = 0;
  for (simdjson::dom::element c : cases) {
    const simdjson::dom::element m = c["matcher"].value();
    SCOPED_TRACE(std::string(m["name"].get_string().value()));
    TargetAssignerOptions to;
    to.matcher.matched_threshold = static_cast<float>(m["matched_threshold"].get_double().value());
    to.matcher.unmatched_threshold = static_cast<float>(m["unmatched_threshold"].get_double().value());
    to.matcher.negatives_lower_than_unmatched = m["negatives_lower_than_unmatched"].get_bool().value();
    to.matcher.force_match_for_each_row = m["force_match_for_each_row"].get_bool().value();

    const BatchTargets t = assign_targets_batch(anchors, gt, k, to);
    const std::vector<double> want_matches = numbers(c["matches"].value());
    for (int64_t i = 0; i < n * a; ++i)
      ASSERT_EQ(t.matches.data<int32_t>()[i], static_cast<int32_t>(want_matches[i]))
          << "image " << i / a << " anchor " << i % a;
    EXPECT_EQ(t.num_positives, c["num_positives"].get_int64().value());

    Tape tape;
    Context ctx{&tape, true};
    Tensor x = Tensor::from_floats({n, a, k + 1}, logits), b = Tensor::from_floats({n, a, 4}, codes);
    Tensor gx = Tensor::zeros(x.shape(), DType::F32), gb = Tensor::zeros(b.shape(), DType::F32);
    tape.track_leaf(x, gx);
    tape.track_leaf(b, gb);
    const SsdLoss loss = ssd_loss(ctx, x, b, t, lo);
    const double want_cls = c["classification_loss"].get_double().value();
    const double want_loc = c["localization_loss"].get_double().value();
    EXPECT_NEAR(loss.classification.item(), want_cls, 2e-6 * want_cls);
    EXPECT_NEAR(loss.localization.item(), want_loc, 2e-6 * want_loc);
    tape.backward(ops::add(ctx, loss.classification, loss.localization), Tensor::full({}, 1.0, DType::F32));

    const std::vector<double> want_gx = numbers(c["grad_logits"].value()), want_gb = numbers(c["grad_codes"].value());
    const std::vector<float> got_gx = gx.to_floats(), got_gb = gb.to_floats();
    ASSERT_EQ(got_gx.size(), want_gx.size());
    ASSERT_EQ(got_gb.size(), want_gb.size());
    for (size_t i = 0; i < want_gx.size(); ++i)
      ASSERT_NEAR(got_gx[i], want_gx[i], 1e-6 + 1e-5 * std::abs(want_gx[i])) << "logit " << i;
    for (size_t i = 0; i < want_gb.size(); ++i)
      ASSERT_NEAR(got_gb[i], want_gb[i], 1e-6 + 1e-5 * std::abs(want_gb[i])) << "box code " << i;
    ++count;
  }
  EXPECT_EQ(count, 2);
}

// A batch whose images have no boxes (TF OD API: normalizer = max(#positives, 1)): no anchor is
// positive, the losses are divided by 1, not 0, and every entry is a focal negative. With all
// logits at z: (1 - alpha) * sigmoid(z)^2 * log(1 + e^z) per entry, over all K + 1 slots.
TEST(SsdLoss, ABatchWithoutBoxesIsNormalisedByOneNotZero) {
  MultiscaleAnchorOptions ao;
  ao.min_level = 3;
  ao.max_level = 4;
  const Tensor anchors = multiscale_grid_anchors(ao, 32, 32);  // 4x4 + 2x2 locations, 6 anchors each
  const int64_t a = anchors.dim(0), k = 3, n = 2;
  ASSERT_EQ(a, 120);
  const std::vector<ImageGroundTruth> gt(n, ImageGroundTruth{nullptr, nullptr, nullptr, 0});
  const BatchTargets t = assign_targets_batch(anchors, gt, k, TargetAssignerOptions{});
  EXPECT_EQ(t.num_positives, 0);

  const float z = -1.5f;
  Context ctx{nullptr, true};
  const SsdLoss loss = ssd_loss(ctx, Tensor::full({n, a, k + 1}, z, DType::F32),
                                Tensor::full({n, a, 4}, 0.3, DType::F32), t, SsdLossOptions{});
  EXPECT_EQ(loss.normalizer, 1.0);
  const double p = 1.0 / (1.0 + std::exp(-double(z)));
  const double want = double(n * a * (k + 1)) * 0.75 * p * p * std::log1p(std::exp(double(z)));
  EXPECT_NEAR(loss.classification.item(), want, 1e-5 * want);
  EXPECT_EQ(loss.localization.item(), 0.0);
}

}  // namespace
}  // namespace trainer::models
