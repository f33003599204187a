// Backbones, necks and heads as modules: endpoint shapes and strides of each ResNet layout,
// TF-slim's stride placement, the FPN's levels, and the weight-shared predictor's sharing.
#include <gtest/gtest.h>

#include <cmath>

#include "trainer/core/random.h"
#include "trainer/models/backbones/resnet.h"
#include "trainer/models/heads/weight_shared_box_predictor.h"
#include "trainer/models/necks/fpn.h"
#include "trainer/ops/reduce.h"

namespace trainer::models {
namespace {

Tensor random_images(int64_t n, int64_t h, int64_t w, int64_t c, uint64_t seed) {
  Tensor x = Tensor::empty({n, h, w, c}, DType::F32);
  Philox rng(seed, 1);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = rng.uniform(-1, 1);
  return x;
}

int64_t count_of(const nn::ParameterStore& s, const std::string& prefix) {
  int64_t n = 0;
  for (const nn::Parameter& p : s.params())
    if (p.name.rfind(prefix, 0) == 0) n += shape_numel(p.shape);
  return n;
}

TEST(ResNetBackbone, EndpointsOfEveryLayoutAt320) {
  for (auto variant : {ResNetConfig::Variant::V1_5, ResNetConfig::Variant::V1, ResNetConfig::Variant::SLIM_V1}) {
    nn::ParameterStore store;
    ResNetConfig c;
    c.variant = variant;
    c.width = 8;  // narrow, same layout: 32, 64, 128, 256 output channels
    ResNetBackbone net("backbone", store, c);
    store.finalize(1);
    Context ctx;
    const std::vector<Tensor> out = net.forward(ctx, random_images(1, 320, 320, 3, 2));
    ASSERT_EQ(out.size(), 4u);
    const int64_t sizes[] = {80, 40, 20, 10}, channels[] = {32, 64, 128, 256}, strides[] = {4, 8, 16, 32};
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(out[i].shape(), (Shape{1, sizes[i], sizes[i], channels[i]})) << net.architecture() << " C" << i + 2;
      EXPECT_EQ(net.endpoints()[i].stride, strides[i]);
      EXPECT_EQ(net.endpoints()[i].channels, channels[i]);
      EXPECT_EQ(net.endpoints()[i].name, "C" + std::to_string(i + 2));
    }
  }
}

// Without its classifier, a ResNet-50 has 25,557,032 - (2048 x 1000 + 1000) = 23,508,032
// parameters, in every layout: the layouts move strides, not weights.
TEST(ResNetBackbone, Resnet50HasTheSameParametersInEveryLayout) {
  for (auto variant : {ResNetConfig::Variant::V1_5, ResNetConfig::Variant::V1, ResNetConfig::Variant::SLIM_V1}) {
    nn::ParameterStore store;
    ResNetConfig c;
    c.variant = variant;
    ResNetBackbone net("backbone", store, c);
    EXPECT_EQ(store.count(), 23508032);
    EXPECT_EQ(count_of(store, "backbone."), 23508032);
  }
}

// TF-slim: within a block only 1x1 projections at stride 1 (the first unit, where the depth
// changes); every other shortcut is the identity, and no convolution but the stem is strided.
TEST(ResNetBackbone, SlimLayoutStridesOnlyTheStem) {
  nn::ParameterStore store;
  ResNetConfig c;
  c.variant = ResNetConfig::Variant::SLIM_V1;
  ResNetBackbone net("backbone", store, c);
  int projections = 0;
  for (const nn::Parameter& p : store.params()) {
    if (p.name.find("shortcut.conv.weight") != std::string::npos) {
      ++projections;
      EXPECT_NE(p.name.find(".0.shortcut"), std::string::npos) << p.name;
      EXPECT_EQ(p.shape[1], 1);
    }
  }
  EXPECT_EQ(projections, 4);
}

TEST(Fpn, LevelsThreeToSevenAt320AreFortyDownToThree) {
  nn::ParameterStore store;
  ResNetConfig c;
  c.variant = ResNetConfig::Variant::SLIM_V1;
  c.width = 8;
  ResNetBackbone backbone("backbone", store, c);
  FpnConfig f;
  f.depth = 16;
  Fpn fpn("fpn", store, f, backbone);
  store.finalize(3);
  // Laterals: 1x1 with bias on C3 (64 ch), C4 (128), C5 (256); smoothing 3x3 (no bias, BN) on
  // P3 and P4 only; P6 and P7: 3x3/2 with BN.
  EXPECT_EQ(count_of(store, "fpn."), (64 + 128 + 256) * 16 + 3 * 16 + 4 * (9 * 16 * 16 + 2 * 16));
  EXPECT_EQ(count_of(store, "fpn.smooth5"), 0);
  Context ctx;
  const std::vector<Tensor> p = fpn.forward(ctx, backbone.forward(ctx, random_images(2, 320, 320, 3, 4)));
  ASSERT_EQ(p.size(), 5u);
  const int64_t sizes[] = {40, 20, 10, 5, 3};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(p[i].shape(), (Shape{2, sizes[i], sizes[i], 16})) << "P" << i + 3;
}

TEST(WeightSharedBoxPredictor, SharesConvolutionsAcrossLevelsButNotBatchnorm) {
  nn::ParameterStore store;
  BoxPredictorConfig c;
  c.in_channels = c.depth = 8;
  c.num_layers = 2;
  c.num_levels = 3;
  c.anchors_per_location = 6;
  c.num_class_slots = 4;
  WeightSharedBoxPredictor head("predictor", store, c);
  store.finalize(1);
  // Per tower: 2 shared 3x3 convs (no bias) + 2 x 3 levels of BN; heads with bias.
  const int64_t tower = 2 * 9 * 8 * 8 + 2 * 3 * 2 * 8;
  EXPECT_EQ(store.count(), 2 * tower + (9 * 8 * 24 + 24) + (9 * 8 * 24 + 24));
  for (const nn::Parameter& p : store.params()) {
    if (p.name == "predictor.class_head.bias") {
      for (float b : p.value.to_floats()) EXPECT_FLOAT_EQ(b, -4.6f);
    }
  }

  // Levels of 4x4, 2x2, 1x1: 6 anchors each -> (16 + 4 + 1) x 6 = 126 predictions.
  Tape tape;
  Context ctx{&tape, true};
  store.track(tape);
  const std::vector<Tensor> levels = {random_images(2, 4, 4, 8, 1), random_images(2, 2, 2, 8, 2),
                                      random_images(2, 1, 1, 8, 3)};
  const WeightSharedBoxPredictor::Output out = head.forward(ctx, levels);
  EXPECT_EQ(out.box_codes.shape(), (Shape{2, 126, 4}));
  EXPECT_EQ(out.class_logits.shape(), (Shape{2, 126, 4}));
  // Level order and anchor order within a location: the 1x1 level's predictions are the last 6,
  // and its class logits are the head bias plus the tower's contribution; changing only the
  // last level's input changes only the last 6 predictions.
  tape.backward(ops::sum(ctx, out.class_logits), Tensor::full({}, 1.0, DType::F32));
  store.untrack();
  // The shared tower convolution got gradient from every level: its gradient is not zero, and
  // each level's batchnorm got its own.
  for (const nn::Parameter& p : store.params()) {
    if (p.name.find("class_tower") == std::string::npos) continue;
    double g = 0;
    for (float v : p.grad.to_floats()) g += std::abs(v);
    if (p.name.find("gamma") != std::string::npos || p.name.find("weight") != std::string::npos) {
      EXPECT_GT(g, 0.0) << p.name;
    }
  }
}

TEST(WeightSharedBoxPredictor, LevelOrderFollowsTheInputs) {
  nn::ParameterStore store;
  BoxPredictorConfig c;
  c.in_channels = c.depth = 8;
  c.num_layers = 1;
  c.num_levels = 2;
  c.anchors_per_location = 2;
  c.num_class_slots = 3;
  WeightSharedBoxPredictor head("predictor", store, c);
  store.finalize(2);
  Context ctx;
  const Tensor big = random_images(1, 2, 2, 8, 5), small = random_images(1, 1, 1, 8, 6);
  const std::vector<float> a = head.forward(ctx, {big, small}).class_logits.to_floats();
  const std::vector<float> b = head.forward(ctx, {big, random_images(1, 1, 1, 8, 7)}).class_logits.to_floats();
  // 4 locations x 2 anchors x 3 slots from level 0, then 1 x 2 x 3 from level 1.
  ASSERT_EQ(a.size(), 30u);
  for (int i = 0; i < 24; ++i) EXPECT_EQ(a[i], b[i]) << i;
  bool changed = false;
  for (int i = 24; i < 30; ++i) changed |= a[i] != b[i];
  EXPECT_TRUE(changed);
}

}  // namespace
}  // namespace trainer::models
