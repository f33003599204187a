// The detection losses (ops/detection_loss.h): forward against naive double-precision
// references written from core/losses.py here, gradients against central finite differences
// of those references (op_harness), in f32 and bf16; and stability at huge logits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "op_harness.h"
#include "trainer/ops/detection_loss.h"

namespace trainer::testing {
namespace {

// SigmoidFocalClassificationLoss summed, as TF writes it (sigmoid, p_t, pow), in double.
// x, t: [N, A, K]; w: [N, A]. alpha < 0: no alpha factor; gamma 0: no modulating factor.
DTensor focal_ref(const DTensor& x, const DTensor& t, const DTensor& w, double alpha, double gamma) {
  const int64_t k = x.shape[2];
  DTensor y(Shape{});
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double z = x[i], target = t[i];
    const double p = 1 / (1 + std::exp(-z));
    const double ce = std::max(z, 0.0) - z * target + std::log1p(std::exp(-std::abs(z)));
    const double p_t = target * p + (1 - target) * (1 - p);
    const double modulating = gamma != 0 ? std::pow(1 - p_t, gamma) : 1.0;
    const double alpha_factor = alpha >= 0 ? target * alpha + (1 - target) * (1 - alpha) : 1.0;
    y[0] += modulating * alpha_factor * ce * w[i / k];
  }
  return y;
}

// WeightedSmoothL1LocalizationLoss summed: tf.losses.huber_loss per code entry times the weight.
DTensor smooth_l1_ref(const DTensor& pred, const DTensor& target, const DTensor& w, double delta) {
  const int64_t code = pred.shape[2];
  DTensor y(Shape{});
  for (int64_t i = 0; i < pred.numel(); ++i) {
    const double e = std::abs(pred[i] - target[i]);
    y[0] += w[i / code] * (e <= delta ? 0.5 * e * e : delta * (e - 0.5 * delta));
  }
  return y;
}

Tensor as_f32(const Tensor& t) { return Tensor::from_floats(t.shape(), t.to_floats(), DType::F32).to(t.device()); }

// Rows whose weight is zeroed in both our op and the reference (ignored anchors).
constexpr int64_t kIgnoredRow = 3;

OpCase focal_case(const std::string& name, double alpha, double gamma) {
  OpCase c;
  c.name = name;
  InputSpec logits{{2, 5, 7}, InputKind::Wide};
  InputSpec targets{{2, 5, 7}, InputKind::Labels, false, 2};  // 0/1, as int labels
  InputSpec weights{{2, 5}, InputKind::Positive, false};
  weights.keep_f32 = true;
  c.inputs = {logits, targets, weights};
  c.ours = [alpha, gamma](Context& ctx, std::vector<Tensor>& in) {
    Tensor w = in[2].to(Device::cpu()).clone();  // edited on the host
    w.data<float>()[kIgnoredRow] = 0.f;
    return ops::sigmoid_focal_loss(ctx, in[0], as_f32(in[1]), w.to(in[0].device()), static_cast<float>(alpha),
                                   static_cast<float>(gamma));
  };
  c.reference = [alpha, gamma](const std::vector<DTensor>& in) {
    DTensor w = in[2];
    w[kIgnoredRow] = 0;
    return focal_ref(in[0], in[1], w, alpha, gamma);
  };
  return c;
}

TEST(DetectionLoss, SigmoidFocalLossSsd320) { check_all_dtypes(focal_case("focal alpha 0.25 gamma 2", 0.25, 2.0)); }

TEST(DetectionLoss, SigmoidFocalLossOtherGammas) {
  check_all_dtypes(focal_case("focal alpha 0.4 gamma 1.5", 0.4, 1.5));
  check_all_dtypes(focal_case("focal alpha 0.25 gamma 0.5", 0.25, 0.5));
  check_all_dtypes(focal_case("focal gamma 0 (weighted sigmoid CE)", 0.25, 0.0));
  check_all_dtypes(focal_case("focal without alpha", -1.0, 2.0));
}

TEST(DetectionLoss, SigmoidFocalLossSoftTargets) {
  // The formula is defined for any target in [0, 1]; the gradient must be too.
  OpCase c = focal_case("focal soft targets", 0.25, 2.0);
  c.inputs[1] = InputSpec{{2, 5, 7}, InputKind::Positive, false};
  c.inputs[1].keep_f32 = true;
  c.ours = [](Context& ctx, std::vector<Tensor>& in) {
    Tensor t = in[1].to(Device::cpu()).clone();  // edited on the host
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] -= 0.5f;  // [0, 1]
    return ops::sigmoid_focal_loss(ctx, in[0], t.to(in[0].device()), in[2], 0.25f, 2.f);
  };
  c.reference = [](const std::vector<DTensor>& in) {
    DTensor t = in[1];
    for (double& v : t.v) v = static_cast<double>(static_cast<float>(v) - 0.5f);
    return focal_ref(in[0], t, in[2], 0.25, 2.0);
  };
  check_op(c, DType::F32);
}

TEST(DetectionLoss, SigmoidFocalLossStaysAccurateAtHugeLogits) {
  // Every logit of a well or badly classified anchor, up to 1e4: the loss and the gradient must
  // be finite and equal the double reference's value and central finite differences.
  const std::vector<float> zs = {-1e4f, -1000, -100, -30, -15, -1, 0, 1, 15, 30, 100, 1000, 1e4f};
  const int64_t k = static_cast<int64_t>(zs.size());
  std::vector<float> logits, targets;
  for (float t : {0.f, 1.f})
    for (float z : zs) {
      logits.push_back(z);
      targets.push_back(t);
    }
  const Shape shape{1, 2, k};
  Tape tape;
  Context ctx{&tape, true};
  Tensor x = Tensor::from_floats(shape, logits);
  Tensor grad = Tensor::zeros(shape, DType::F32);
  tape.track_leaf(x, grad);
  const Tensor y = ops::sigmoid_focal_loss(ctx, x, Tensor::from_floats(shape, targets), Tensor::full({1, 2}, 1.0, DType::F32),
                                           0.25f, 2.f);
  tape.backward(y, Tensor::full({}, 1.0, DType::F32));

  DTensor dx(shape), dt(shape), dw(Shape{1, 2});
  for (int64_t i = 0; i < dx.numel(); ++i) {
    dx[i] = logits[i];
    dt[i] = targets[i];
  }
  dw[0] = dw[1] = 1;
  const double want = focal_ref(dx, dt, dw, 0.25, 2.0)[0];
  ASSERT_TRUE(std::isfinite(y.item()));
  EXPECT_NEAR(y.item(), want, 1e-6 * want);
  const std::vector<float> g = grad.to_floats();
  for (int64_t i = 0; i < dx.numel(); ++i) {
    const double h = 1e-4 * std::max(1.0, std::abs(dx[i]));
    DTensor up = dx, down = dx;
    up[i] += h;
    down[i] -= h;
    const double fd = (focal_ref(up, dt, dw, 0.25, 2.0)[0] - focal_ref(down, dt, dw, 0.25, 2.0)[0]) / (2 * h);
    ASSERT_TRUE(std::isfinite(g[i])) << "logit " << dx[i] << " target " << dt[i];
    // Badly classified: |dL/dx| -> a_t (0.75 for t = 0, 0.25 for t = 1); well classified: -> 0.
    EXPECT_NEAR(g[i], fd, 1e-5 + 1e-4 * std::abs(fd)) << "logit " << dx[i] << " target " << dt[i];
  }
}

TEST(DetectionLoss, SigmoidFocalLossGradientAcrossTheLogitRange) {
  // Every 0.01 from -60 to 60, both targets, one entry per anchor: each gradient element
  // against the finite difference of that entry's double reference (the kernel's own exp and
  // log1p approximations must hold everywhere, not only at a few points).
  std::vector<float> logits, targets;
  for (float t : {0.f, 1.f})
    for (int i = -6000; i <= 6000; ++i) {
      logits.push_back(static_cast<float>(i) / 100.f);
      targets.push_back(t);
    }
  const int64_t n = static_cast<int64_t>(logits.size());
  const Shape shape{1, n, 1};
  Tape tape;
  Context ctx{&tape, true};
  Tensor x = Tensor::from_floats(shape, logits);
  Tensor grad = Tensor::zeros(shape, DType::F32);
  tape.track_leaf(x, grad);
  const Tensor y = ops::sigmoid_focal_loss(ctx, x, Tensor::from_floats(shape, targets),
                                           Tensor::full({1, n}, 1.0, DType::F32), 0.25f, 2.f);
  tape.backward(y, Tensor::full({}, 1.0, DType::F32));
  auto entry = [](double z, double t) {
    DTensor dz(Shape{1, 1, 1}), dt(Shape{1, 1, 1}), dw(Shape{1, 1});
    dz[0] = z;
    dt[0] = t;
    dw[0] = 1;
    return focal_ref(dz, dt, dw, 0.25, 2.0)[0];
  };
  double total = 0;
  const std::vector<float> g = grad.to_floats();
  for (int64_t i = 0; i < n; ++i) {
    const double z = logits[i], t = targets[i], h = 1e-5;
    total += entry(z, t);
    const double fd = (entry(z + h, t) - entry(z - h, t)) / (2 * h);
    ASSERT_NEAR(g[i], fd, 1e-9 + 2e-5 * std::abs(fd)) << "logit " << z << " target " << t;
  }
  EXPECT_NEAR(y.item(), total, 1e-6 * total);
}

OpCase smooth_l1_case(const std::string& name, double delta) {
  OpCase c;
  c.name = name;
  InputSpec pred{{2, 6, 4}, InputKind::Wide};
  InputSpec targets{{2, 6, 4}, InputKind::Wide, false};
  targets.keep_f32 = true;
  InputSpec weights{{2, 6}, InputKind::Positive, false};
  weights.keep_f32 = true;
  c.inputs = {pred, targets, weights};
  c.ours = [delta](Context& ctx, std::vector<Tensor>& in) {
    Tensor w = in[2].to(Device::cpu()).clone();  // edited on the host
    w.data<float>()[kIgnoredRow] = 0.f;
    return ops::smooth_l1_loss(ctx, in[0], in[1], w.to(in[0].device()), static_cast<float>(delta));
  };
  c.reference = [delta](const std::vector<DTensor>& in) {
    DTensor w = in[2];
    w[kIgnoredRow] = 0;
    return smooth_l1_ref(in[0], in[1], w, delta);
  };
  return c;
}

TEST(DetectionLoss, SmoothL1Loss) {
  check_all_dtypes(smooth_l1_case("smooth l1 delta 1", 1.0));
  check_all_dtypes(smooth_l1_case("smooth l1 delta 3", 3.0));  // errors up to 16: both pieces
}

TEST(DetectionLoss, SmoothL1IgnoresNanTargets) {
  // ignore_nan_targets: a NaN target is replaced by the prediction, so it adds nothing.
  Tape tape;
  Context ctx{&tape, true};
  Tensor pred = Tensor::from_floats({1, 1, 4}, {0.5f, 3.f, -2.f, 0.f});
  Tensor grad = Tensor::zeros({1, 1, 4}, DType::F32);
  tape.track_leaf(pred, grad);
  const Tensor t = Tensor::from_floats({1, 1, 4}, {0.f, std::nanf(""), 0.f, 0.f});
  const Tensor y = ops::smooth_l1_loss(ctx, pred, t, Tensor::full({1, 1}, 2.0, DType::F32), 1.f);
  tape.backward(y, Tensor::full({}, 1.0, DType::F32));
  // 2 * (0.5 * 0.25 + (2 - 0.5)) = 3.25; gradient 2 * clamp(e, -1, 1).
  EXPECT_FLOAT_EQ(static_cast<float>(y.item()), 3.25f);
  EXPECT_EQ(grad.to_floats(), (std::vector<float>{1.f, 0.f, -2.f, 0.f}));
}

TEST(DetectionLoss, NoTapeNoGradientAndChecks) {
  Context ctx;  // inference: nothing recorded
  const Tensor logits = Tensor::zeros({1, 2, 3}, DType::F32), targets = Tensor::zeros({1, 2, 3}, DType::F32);
  const Tensor weights = Tensor::full({1, 2}, 1.0, DType::F32);
  // Logit 0: p = 0.5, CE = ln 2, 1 - p_t = 0.5, a_t = 0.75 (targets 0): 6 * 0.75 * 0.25 * ln 2.
  EXPECT_NEAR(ops::sigmoid_focal_loss(ctx, logits, targets, weights, 0.25f, 2.f).item(), 6 * 0.75 * 0.25 * std::log(2.0),
              1e-6);
  auto message = [&](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { ops::sigmoid_focal_loss(ctx, logits, Tensor::zeros({1, 2, 4}, DType::F32), weights, 0.25f, 2.f); })
                .find("targets f32[1,2,4] for predictions f32[1,2,3]"),
            std::string::npos);
  EXPECT_NE(message([&] { ops::smooth_l1_loss(ctx, logits, targets, Tensor::zeros({2, 1}, DType::F32), 1.f); })
                .find("expected f32[1,2]"),
            std::string::npos);
  EXPECT_NE(message([&] { ops::sigmoid_focal_loss(ctx, logits, targets, weights, 0.25f, -1.f); }).find("gamma -1"),
            std::string::npos);
}

}  // namespace
}  // namespace trainer::testing
