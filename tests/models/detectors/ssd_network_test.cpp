// The SSD320 network (SsdDetector: TF-slim ResNet-50 v1 + FPN P3..P7 + weight-shared box
// predictor) against an independent PyTorch re-implementation of NVIDIA's TensorFlow code
// (scripts/detection/ssd_torch_reference.py), on the same weights and images, in training mode
// (batch statistics) and in inference mode (moving statistics).
//
// Fixture (tests/models/data/): ssd_network_weights.safetensors holds every parameter and
// batchnorm statistic under trainer's names, F16 (the reference rounded its random draws to f16
// and computed with those exact values; here they are widened to f32); ssd_network_io.safetensors
// holds the input images (F16), the reference's box codes and class logits in both modes (F32,
// computed in float64), the batch statistics one training step feeds into each moving average,
// and the FPN levels' shapes. Small model: width 8 (ResNet-50's [3,4,6,3] layout, 32..256
// channels), FPN and predictor depth 16, 4 tower layers, 3 classes, 6 anchors per location,
// 2 images of 128x128 -> P3..P7 of 16, 8, 4, 2, 1 -> 2046 anchors.
//
// Tolerance: |ours - reference| <= 1e-4 * (|reference| + max |reference|). The reference is
// float64; the same PyTorch network run in float32 departs from it by up to 3.2e-5 of the
// output's largest magnitude (the script prints this): float32 round-off through ~70
// convolutions and batchnorms, the worst being P7's, whose training statistics come from two
// values per channel. Ours departs by 1.2e-5 (inference) to 3.7e-5 (training) of it, so the
// bound leaves a margin of about 3 for a different summation order. Structural mistakes move
// outputs by far more (each planted in the reference and measured against this fixture, as a
// fraction of the largest magnitude): backbone batchnorm epsilon 1e-3 instead of 1e-5 2e-2,
// unbiased variance in the training normalisation 6e-2, P6/P7 padded symmetrically 0.4, ReLU
// instead of ReLU6 in the backbone 0.96, ReLU6 after the residual add 1.1, the stem padded
// 'SAME' instead of conv2d_same 0.97, pool1 padded symmetrically 1.07, predictor batchnorm
// shared across levels 0.88, head channels read code-major 1.4. The backbone epsilon TF1's
// fused kernel actually uses, 1.001e-5 (it raises smaller ones), changes outputs by 2e-7: below
// the bound, and not a difference either side could see.
//
// The same test checks the script's one-off runs at other sizes (see its docstring: 320 and 352
// inputs, NVIDIA's full widths) when TRAINER_SOURCE_DIR points at them; only the first test,
// which pins the fixture's sizes, fails there.
//
// The fixture is read and loaded by network_fixture.h (shared with the EfficientDet test).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "trainer/core/half.h"
#include "trainer/models/backbones/resnet.h"
#include "trainer/models/detectors/ssd.h"
#include "trainer/models/necks/fpn.h"
#include "trainer/ops/context.h"
#include "trainer/ops/tape.h"
#include "trainer/ops/tensor_math.h"
#include "network_fixture.h"

namespace trainer::models {
namespace {

using testing::NetworkFixture;

const NetworkFixture& weights() {
  static const NetworkFixture f = testing::read_network_fixture(testing::network_fixture_path("ssd_network_weights.safetensors"));
  return f;
}
const NetworkFixture& io() {
  static const NetworkFixture f = testing::read_network_fixture(testing::network_fixture_path("ssd_network_io.safetensors"));
  return f;
}

int64_t meta(const std::string& key) { return std::stoll(weights().metadata.at(key)); }

// The reference's configuration (the script's CONFIG), as the SSD task would build it from an
// SSD320 pipeline config with these sizes. The sizes come from the file's metadata (checked
// against the fixture's in the first test), so that the script's one-off runs at other sizes
// (--image-size 320, or NVIDIA's full widths) can be checked with TRAINER_SOURCE_DIR.
SsdConfig small_config() {
  SsdConfig c;
  c.feature_extractor = "ssd_resnet50_v1_fpn";
  c.resnet.depth = 50;
  c.resnet.variant = ResNetConfig::Variant::SLIM_V1;
  c.resnet.width = meta("width");
  c.resnet.activation = Activation::Relu6;  // override_base_feature_extractor_hyperparams
  c.resnet.bn_epsilon = 1e-5f;              // resnet_arg_scope's normalizer_params
  c.resnet.bn_momentum = 0.997f;
  c.fpn.min_level = 3;
  c.fpn.max_level = 7;
  c.fpn.depth = meta("fpn_depth");
  c.fpn.activation = Activation::Relu6;
  c.fpn.bn_epsilon = 0.001f;
  c.predictor.depth = meta("predictor_depth");
  c.predictor.num_layers = static_cast<int>(meta("predictor_layers"));
  c.predictor.kernel = 3;
  c.predictor.bn_epsilon = 0.001f;
  c.num_classes = meta("num_classes");
  c.image_height = c.image_width = meta("image_size");
  return c;
}

void load(nn::ParameterStore& store, bool exact) { testing::load_network_fixture(weights().tensors, store, exact); }

void expect_close(const Tensor& got, const std::string& key) {
  const Tensor& want = io().tensors.at(key);
  ASSERT_EQ(got.shape(), want.shape()) << key;
  ASSERT_EQ(got.dtype(), DType::F32) << key;
  const float* g = got.data<float>();
  const float* w = want.data<float>();
  double scale = 0;
  for (int64_t i = 0; i < want.numel(); ++i) scale = std::max(scale, std::fabs(double(w[i])));
  double worst = 0;
  int64_t worst_at = 0, bad = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double d = std::fabs(double(g[i]) - double(w[i]));
    const double tol = 1e-4 * (std::fabs(double(w[i])) + scale);
    if (!(d <= tol)) ++bad;
    if (!(d <= worst)) worst = d, worst_at = i;
  }
  const int64_t per = want.dim(2), anchors = want.dim(1);
  EXPECT_EQ(bad, 0) << key << ": " << bad << " of " << want.numel() << " values off; worst |diff| " << worst
                    << " (" << worst / scale << " of the largest magnitude " << scale << ") at image "
                    << worst_at / (anchors * per) << " anchor " << worst_at / per % anchors << " slot "
                    << worst_at % per << ": ours " << g[worst_at] << ", reference " << w[worst_at];
  std::printf("%s: max |diff| %.3g = %.3g of max |reference| %.3g\n", key.c_str(), worst, worst / scale, scale);
}

TEST(SsdNetwork, FixtureMatchesTheConfigAndCoversEveryTensor) {
  const std::map<std::string, std::string>& m = weights().metadata;
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m.at("width"), "8");
  EXPECT_EQ(m.at("blocks"), "[3, 4, 6, 3]");
  EXPECT_EQ(m.at("fpn_depth"), "16");
  EXPECT_EQ(m.at("predictor_depth"), "16");
  EXPECT_EQ(m.at("predictor_layers"), "4");
  EXPECT_EQ(m.at("num_classes"), "3");
  EXPECT_EQ(m.at("anchors_per_location"), "6");
  EXPECT_EQ(m.at("image_size"), "128");
  SsdDetector model(small_config(), 1);
  EXPECT_EQ(weights().tensors.size(), model.store().params().size() + model.store().buffers().size());
  load(model.store(), /*exact=*/true);
}

TEST(SsdNetwork, FpnLevelsHaveTheReferenceShapes) {
  const SsdConfig c = small_config();
  nn::ParameterStore store;
  ResNetBackbone backbone("backbone", store, c.resnet);
  Fpn fpn("fpn", store, c.fpn, backbone);
  store.finalize(1);
  load(store, /*exact=*/false);
  Context ctx;
  const std::vector<Tensor> levels = fpn.forward(ctx, backbone.forward(ctx, io().tensors.at("input")));
  const Tensor& want = io().tensors.at("fpn_shapes");
  ASSERT_EQ(want.shape(), (Shape{5, 4}));
  ASSERT_EQ(levels.size(), 5u);
  for (int l = 0; l < 5; ++l) {
    const int64_t* s = want.data<int64_t>() + 4 * l;
    EXPECT_EQ(levels[l].shape(), (Shape{s[0], s[1], s[2], s[3]})) << "P" << l + 3;
  }
  SsdDetector model(c, 1);
  int64_t anchors = 0;
  for (int l = 0; l < 5; ++l) anchors += want.data<int64_t>()[4 * l + 1] * want.data<int64_t>()[4 * l + 2] * 6;
  EXPECT_EQ(model.anchors().dim(0), anchors);
}

TEST(SsdNetwork, InferenceMatchesTorchReference) {
  SsdDetector model(small_config(), 1);
  load(model.store(), /*exact=*/true);
  Context ctx;  // inference: moving statistics
  const SsdDetector::Output out = model.forward(ctx, io().tensors.at("input"));
  expect_close(out.box_codes, "infer.box_codes");
  expect_close(out.class_logits, "infer.class_logits");
}

TEST(SsdNetwork, TrainingMatchesTorchReference) {
  SsdDetector model(small_config(), 1);
  load(model.store(), /*exact=*/true);
  Tape tape;
  model.store().track(tape);
  Context ctx;
  ctx.tape = &tape;
  ctx.training = true;  // batch statistics
  const SsdDetector::Output out = model.forward(ctx, io().tensors.at("input"));
  expect_close(out.box_codes, "train.box_codes");
  expect_close(out.class_logits, "train.class_logits");
  model.store().untrack();

  // The moving averages: running = decay * running + (1 - decay) * batch statistic, with TF's
  // decay 0.997 (resnet_arg_scope and the config) and the batch variance Bessel-corrected
  // (TF's FusedBatchNorm returns batch_var = var * n / (n - 1)). The batch statistic implied by
  // our update, (new - decay * old) / (1 - decay), against the reference's; the bound allows
  // float32 rounding of the stored running values (amplified 333x by the division) and of the
  // forward pass. n / (n - 1) is 2 on P7 and 1.03 on C5 and P5, so a biased update fails here.
  const float decay = 0.997f;
  int checked = 0;
  double worst = 0;  // |implied - reference| / bound
  for (const nn::Buffer& b : model.store().buffers()) {
    const Tensor& old = weights().tensors.at(b.name);
    const Tensor& want = io().tensors.at("train.batch_stat." + b.name);
    const bool is_var = b.name.size() > 4 && b.name.substr(b.name.size() - 4) == "_var";
    const std::string prefix = b.name.substr(0, b.name.rfind('.'));
    const Tensor& ref_var = io().tensors.at("train.batch_stat." + prefix + ".running_var");
    for (int64_t c = 0; c < b.value.numel(); ++c) {
      const double o = old.data<float>()[c], nw = b.value.data<float>()[c], r = want.data<float>()[c];
      const double implied = (nw - decay * o) / (1.0 - decay);
      const double tol = 1e-3 * (std::fabs(r) + std::fabs(o) + (is_var ? 0.0 : std::sqrt(ref_var.data<float>()[c])));
      EXPECT_NEAR(implied, r, tol) << b.name << " channel " << c << ": old " << o << ", new " << nw;
      worst = std::max(worst, std::fabs(implied - r) / tol);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 194);
  std::printf("running statistics: worst |implied - reference| = %.3g of the bound\n", worst);
}

}  // namespace
}  // namespace trainer::models
