#include <gtest/gtest.h>

#include <cmath>

#include "trainer/models/classifier.h"
#include "trainer/ops/loss.h"
#include "trainer/core/random.h"

namespace trainer::models {
namespace {

TEST(ResNet, Resnet50ParameterCountsMatchPublished) {
  ClassifierConfig c;
  EXPECT_EQ(Classifier(c, 1).store().count(), 25557032);  // torchvision / NVIDIA with 1000 classes
  c.num_classes = 1001;
  EXPECT_EQ(Classifier(c, 1).store().count(), 25559081);  // NVIDIA's TF code (label 0 = background)
}

TEST(ResNet, Resnet18ParameterCount) {
  ClassifierConfig c;
  c.backbone.depth = 18;
  EXPECT_EQ(Classifier(c, 1).store().count(), 11689512);  // torchvision resnet18
}

TEST(ResNet, InitIsFanInVarianceScaling) {
  ClassifierConfig c;
  Classifier net(c, 7);
  for (const nn::Parameter& p : net.store().params()) {
    if (p.name != "backbone.layer3.0.conv2.conv.weight") continue;  // 3x3x256 fan-in
    const std::vector<float> v = p.value.to_floats();
    double sq = 0;
    for (float x : v) sq += double(x) * x;
    EXPECT_NEAR(std::sqrt(sq / v.size()), std::sqrt(2.0 / (9 * 256)), 0.02 * std::sqrt(2.0 / (9 * 256)));
    return;
  }
  FAIL() << "backbone.layer3.0.conv2.conv.weight not found";
}

TEST(ResNet, OutputShapesAndFusedInferenceMatchesUnfused) {
  ClassifierConfig c;
  c.backbone.depth = 18;
  c.backbone.width = 8;
  c.num_classes = 10;
  Classifier net(c, 3);
  Tensor x = Tensor::empty({2, 64, 64, 3}, DType::F32);
  Philox rng(1, 2);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = rng.uniform(-1, 1);
  // Give batchnorm non-trivial running statistics first (a training-mode forward).
  {
    Tape tape;
    Context train{&tape, true};
    net.store().track(tape);
    EXPECT_EQ(net.forward(train, x).shape(), (Shape{2, 10}));
    net.store().untrack();
  }
  net.store().bump_version();
  Context eval;  // no tape, not training: the folded conv+bn+relu path
  const std::vector<float> fused = net.forward(eval, x).to_floats();
  Tape unused;
  Context unfused{&unused, false};  // a tape forces separate conv, bn, relu ops
  const std::vector<float> plain = net.forward(unfused, x).to_floats();
  ASSERT_EQ(fused.size(), 20u);
  for (size_t i = 0; i < fused.size(); ++i) EXPECT_NEAR(fused[i], plain[i], 1e-4 * (1 + std::abs(plain[i])));
}

}  // namespace
}  // namespace trainer::models
