// The classification task's loss against independent references: label smoothing as TF's
// one_hot(on = 1 - e + e/K, off = e/K) through softmax cross-entropy (value and gradient in
// double), and NVIDIA's mixup — each sample blended with the reversed batch by a Beta(a, a)
// draw, the smoothed one-hot targets blended the same way.
#include <gtest/gtest.h>

#include <cmath>

#include "trainer/cli/classification_task.h"

namespace trainer::cli {
namespace {

// A classifier whose logits are a parameter [N, K]: the loss's gradient lands on it directly.
class FixedLogits final : public models::Classifier {
 public:
  FixedLogits(const std::vector<float>& logits, int64_t n, int64_t k) : k_(k) {
    store_.add("logits", {n, k}, nn::ParamRole::Weight, nn::Init::zeros());
    store_.finalize(0);
    std::copy(logits.begin(), logits.end(), store_.values().data<float>());
  }
  Tensor forward(Context&, const Tensor&) const override { return store_.params().front().value; }
  int64_t num_classes() const override { return k_; }
  const char* architecture() const override { return "fixed"; }

 private:
  int64_t k_;
};

TEST(ClassificationTask, LabelSmoothingMatchesTfOneHotThroughTheLoss) {
  const int64_t n = 3, k = 5;
  const std::vector<float> z = {1.0f, -2.0f, 0.5f, 3.0f, 0.0f,  //
                                0.2f, 0.1f, -0.3f, 2.5f, -1.0f,  //
                                -4.0f, 6.0f, 1.5f, 0.0f, 2.0f};
  const std::vector<int32_t> labels = {3, 0, 1};
  const double e = 0.1;
  FixedLogits model(z, n, k);
  ClassificationTask task(model, {static_cast<float>(e), 0.f, 0});
  Tape tape;
  Context ctx{&tape, true};
  model.store().track(tape);
  train::TrainBatch batch{Tensor::zeros({n, 1, 1, 1}, DType::F32), Tensor::from_vector<int32_t>({n}, labels)};
  const Tensor loss = task.loss(ctx, batch, 0);
  tape.backward(loss, Tensor::full({}, 1.0, DType::F32));
  model.store().untrack();

  double expected = 0;
  std::vector<double> grad(n * k);
  for (int64_t i = 0; i < n; ++i) {
    double denom = 0;
    for (int64_t j = 0; j < k; ++j) denom += std::exp(double(z[i * k + j]));
    for (int64_t j = 0; j < k; ++j) {
      const double t = (j == labels[i] ? 1 - e : 0.0) + e / k;
      const double p = std::exp(double(z[i * k + j])) / denom;
      expected -= t * std::log(p) / n;
      grad[i * k + j] = (p - t) / n;
    }
  }
  EXPECT_NEAR(loss.item(), expected, 1e-6);
  const std::vector<float> g = model.store().grads().to_floats();
  for (int64_t i = 0; i < n * k; ++i) EXPECT_NEAR(g[i], grad[i], 1e-7) << "logit " << i;
}

TEST(Mixup, BlendsEachSampleWithTheReversedBatchAndTheTargetsAlike) {
  const int64_t n = 6, k = 4;
  const float smoothing = 0.1f;
  std::vector<float> pixels;
  for (int64_t i = 0; i < n; ++i) pixels.insert(pixels.end(), {float(i + 1), float(-10 * (i + 1))});
  Tensor images = Tensor::from_floats({n, 1, 2, 1}, pixels);
  const std::vector<int32_t> y = {0, 1, 2, 3, 1, 1};
  const Tensor targets = mixup(images, Tensor::from_vector<int32_t>({n}, y), k, smoothing, 0.4f, 9, 17);
  const std::vector<float> mixed = images.to_floats(), t = targets.to_floats();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = n - 1 - i;
    // Image i = lam * x_i + (1 - lam) * x_j in both pixels; recover lam from the first.
    const double lam = (mixed[2 * i] - (j + 1.0)) / ((i + 1.0) - (j + 1.0));
    ASSERT_GE(lam, 0.0);
    ASSERT_LE(lam, 1.0);
    EXPECT_NEAR(mixed[2 * i + 1], -10 * (lam * (i + 1) + (1 - lam) * (j + 1)), 1e-4) << "sample " << i;
    double row = 0;
    for (int64_t c = 0; c < k; ++c) {
      const double want = smoothing / k + lam * (1 - smoothing) * (c == y[i]) + (1 - lam) * (1 - smoothing) * (c == y[j]);
      EXPECT_NEAR(t[i * k + c], want, 1e-5) << "sample " << i << " class " << c;
      row += t[i * k + c];
    }
    EXPECT_NEAR(row, 1.0, 1e-5);
  }
}

TEST(Mixup, CoefficientsAreBetaAlphaAlphaAndReplayable) {
  const int64_t n = 4000;
  std::vector<float> pixels(n);
  for (int64_t i = 0; i < n; ++i) pixels[i] = i < n / 2 ? 1.f : 0.f;  // x_i - x_{n-1-i} = +-1
  const Tensor labels = Tensor::zeros({n}, DType::I32);
  auto draw = [&](uint64_t seed, int64_t step) {
    Tensor images = Tensor::from_floats({n, 1, 1, 1}, pixels);
    mixup(images, labels, 2, 0.f, 0.2f, seed, step);
    std::vector<double> lam(n / 2);
    const std::vector<float> m = images.to_floats();
    for (int64_t i = 0; i < n / 2; ++i) lam[i] = m[i];  // lam * 1 + (1 - lam) * 0
    return lam;
  };
  const std::vector<double> lam = draw(5, 3);
  double mean = 0, var = 0;
  for (double l : lam) mean += l / lam.size();
  for (double l : lam) var += (l - mean) * (l - mean) / lam.size();
  // Beta(0.2, 0.2): mean 1/2, variance a^2 / ((2a)^2 (2a + 1)) = 1 / (4 * 1.4) = 0.1786.
  EXPECT_NEAR(mean, 0.5, 0.03);
  EXPECT_NEAR(var, 0.17857, 0.015);
  EXPECT_EQ(draw(5, 3), lam);  // (seed, step) decide every draw: a resumed run mixes alike
  EXPECT_NE(draw(5, 4), lam);
}

}  // namespace
}  // namespace trainer::cli
