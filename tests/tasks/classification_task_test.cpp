// The classification task's loss against independent references: label smoothing as TF's
// one_hot(on = 1 - e + e/K, off = e/K) through the task's softmax cross-entropy (against the
// loss computed in double from the model's logits), and NVIDIA's mixup — each sample blended with the reversed batch by a Beta(a, a)
// draw, the smoothed one-hot targets blended the same way.
#include <gtest/gtest.h>

#include <cmath>

#include "trainer/core/random.h"
#include "trainer/tasks/classification_task.h"
#include "trainer/tasks/data_batch.h"
#include "trainer/tasks/mixup.h"

namespace trainer::tasks {
namespace {

// A small classifier from a config, as the registry builds it.
config::TrainEvalPipelineConfig small_classifier(float smoothing) {
  config::TrainEvalPipelineConfig c;
  config::Classifier& m = *c.mutable_model()->mutable_classifier();
  m.mutable_resnet()->set_depth(18);
  m.mutable_resnet()->set_width(4);
  m.mutable_resnet()->set_stem(config::ResNet::SMALL_IMAGE);
  m.set_num_classes(5);
  m.set_image_size(8);
  m.set_label_smoothing(smoothing);
  return c;
}

TEST(ClassificationTask, LabelSmoothingMatchesTfOneHotThroughTheLoss) {
  const int64_t n = 3, k = 5;
  const double e = 0.1;
  const std::unique_ptr<Task> task = create_task(small_classifier(static_cast<float>(e)), RunContext{});
  ASSERT_EQ(task->kind(), "classification");
  const std::vector<int32_t> labels = {3, 0, 1};
  Tensor images = Tensor::empty({n, 8, 8, 3}, DType::F32);
  Philox rng(4, 5);
  for (int64_t i = 0; i < images.numel(); ++i) images.data<float>()[i] = rng.uniform(-2, 2);
  data::Batch batch;
  batch.images = images;
  batch.labels = Tensor::from_vector<int32_t>({n}, labels);

  // The logits the loss sees: a training-mode forward (batch statistics), the same both times.
  std::vector<float> z;
  {
    Tape tape;
    Context ctx{&tape, true};
    z = dynamic_cast<ClassificationTask&>(*task).model().forward(ctx, images).to_floats();
  }
  Tape tape;
  Context ctx{&tape, true};
  const double loss = task->loss(ctx, DataBatch(batch), 0).item();

  double expected = 0;
  for (int64_t i = 0; i < n; ++i) {
    double denom = 0;
    for (int64_t j = 0; j < k; ++j) denom += std::exp(double(z[i * k + j]));
    for (int64_t j = 0; j < k; ++j) {
      const double t = (j == labels[i] ? 1 - e : 0.0) + e / k;  // TF's one_hot(on, off)
      expected -= t * std::log(std::exp(double(z[i * k + j])) / denom) / n;
    }
  }
  EXPECT_NEAR(loss, expected, 1e-5);
}

TEST(Mixup, BlendsEachSampleWithTheReversedBatchAndTheTargetsAlike) {
  const int64_t n = 6, k = 4;
  const float smoothing = 0.1f;
  std::vector<float> pixels;
  for (int64_t i = 0; i < n; ++i) pixels.insert(pixels.end(), {float(i + 1), float(-10 * (i + 1))});
  Tensor images = Tensor::from_floats({n, 1, 2, 1}, pixels);
  const std::vector<int32_t> y = {0, 1, 2, 3, 1, 1};
  Context ctx;
  const Tensor targets = mixup(ctx, images, Tensor::from_vector<int32_t>({n}, y), k, smoothing, 0.4f, 9, 17);
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
    Context ctx;
    mixup(ctx, images, labels, 2, 0.f, 0.2f, seed, step);
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
}  // namespace trainer::tasks
