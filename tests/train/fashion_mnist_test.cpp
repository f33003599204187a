// End to end on real data: a tiny CNN (conv-bn-relu-pool x2, linear) trained with plain SGD
// on Fashion-MNIST (Debian's dataset-fashion-mnist) must reach >= 85% test accuracy.
#include <gtest/gtest.h>

#include <filesystem>

#include "trainer/core/log.h"
#include "trainer/core/parallel.h"
#include "trainer/data/idx_dataset.h"
#include "trainer/data/loader.h"
#include "trainer/nn/conv_bn.h"
#include "trainer/nn/linear.h"
#include "trainer/ops/loss.h"
#include "trainer/ops/pooling.h"
#include "trainer/ops/shape_ops.h"
#include "trainer/train/trainer.h"

namespace trainer {
namespace {

struct LoaderBatch final : train::TrainBatch {
  data::Batch batch;
  int64_t size() const override { return batch.images.dim(0); }
};

class TinyCnn final : public train::TrainTask {
 public:
  TinyCnn()
      : conv1_("conv1", store_, conv(1, 32)), bn1_("bn1", store_, {32}),
        conv2_("conv2", store_, conv(32, 64)), bn2_("bn2", store_, {64}),
        fc_("fc", store_, {7 * 7 * 64, 10, true, 1.0}) {
    store_.finalize(1);
  }
  nn::ParameterStore& store() override { return store_; }
  std::string architecture() const override { return "tiny_cnn"; }

  Tensor logits(Context& ctx, const Tensor& images) const {
    Tensor h = bn1_.forward(ctx, conv1_.forward(ctx, images), Activation::Relu);
    h = ops::max_pool2d(ctx, h, {2, 2, 2, 2});
    h = bn2_.forward(ctx, conv2_.forward(ctx, h), Activation::Relu);
    h = ops::max_pool2d(ctx, h, {2, 2, 2, 2});
    return fc_.forward(ctx, ops::reshape(ctx, h, {h.dim(0), -1}));
  }
  Tensor loss(Context& ctx, const train::TrainBatch& batch, int64_t) override {
    const data::Batch& b = static_cast<const LoaderBatch&>(batch).batch;
    return ops::softmax_cross_entropy(ctx, logits(ctx, b.images), b.labels, 0.f);
  }

 private:
  static nn::Conv2dConfig conv(int64_t in, int64_t out) {
    nn::Conv2dConfig c;
    c.in_channels = in, c.out_channels = out, c.kernel = 3;
    return c;
  }
  nn::ParameterStore store_;
  nn::Conv2d conv1_;
  nn::BatchNorm bn1_;
  nn::Conv2d conv2_;
  nn::BatchNorm bn2_;
  nn::Linear fc_;
};

class LoaderSource final : public train::BatchSource {
 public:
  explicit LoaderSource(data::Loader& loader) : loader_(loader) {}
  std::unique_ptr<train::TrainBatch> next() override {
    auto b = std::make_unique<LoaderBatch>();
    b->batch = std::move(*loader_.next());
    return b;
  }
  std::pair<int64_t, int64_t> cursor() const override { return {loader_.cursor().epoch, loader_.cursor().batch}; }

 private:
  data::Loader& loader_;
};

data::TransformOptions gray28() {
  data::TransformOptions t;
  t.train = false;  // no augmentation: the images are already centred 28x28
  t.height = t.width = 28;
  t.eval_resize_shorter = 28;
  t.color = data::ColorMode::kGray;
  t.mean = {72.94f};   // Fashion-MNIST's pixel mean and stddev (0.286, 0.353 of 255)
  t.stddev = {90.0f};
  return t;
}

TEST(FashionMnist, TinyCnnReaches85PercentWithPlainSgd) {
  ASSERT_TRUE(std::filesystem::exists(std::string(data::kFashionMnistDir) + "/train-images-idx3-ubyte.gz"))
      << "Fashion-MNIST is missing: install Debian's dataset-fashion-mnist (scripts/install_deps.sh does)";
  set_num_threads(0);
  auto train_set = std::make_shared<data::IdxDataset>(data::IdxDataset::fashion_mnist(true));
  auto test_set = std::make_shared<data::IdxDataset>(data::IdxDataset::fashion_mnist(false));
  auto transform = std::make_shared<data::ImageTransform>(gray28());

  TinyCnn model;
  MetricsLog log;
  train::TrainerOptions o;
  o.num_steps = 60000 / 64;  // one epoch
  o.schedule.base = 0.1;
  o.optimizer.momentum = 0.0;  // plain SGD
  o.log_every = 200;
  train::Trainer trainer(model, o, log);
  data::LoaderOptions lo;
  lo.batch_size = 64;
  lo.num_workers = 1;
  lo.seed = 3;
  data::Loader loader(train_set, transform, lo);
  LoaderSource source(loader);
  trainer.run(source);

  data::LoaderOptions eo = lo;
  eo.mode = data::LoaderMode::kEval;
  eo.batch_size = 500;
  data::Loader eval(test_set, transform, eo);
  int64_t correct = 0, total = 0;
  Context ctx;  // inference: batchnorm uses its running statistics
  while (auto b = eval.next()) {
    const std::vector<float> z = model.logits(ctx, b->images).to_floats();
    const int32_t* y = b->labels.data<int32_t>();
    for (int64_t i = 0; i < b->labels.numel(); ++i) {
      const float* row = &z[i * 10];
      correct += std::max_element(row, row + 10) - row == y[i];
    }
    total += b->labels.numel();
  }
  EXPECT_EQ(total, 10000);
  const double accuracy = static_cast<double>(correct) / total;
  log_info("Fashion-MNIST test accuracy after one epoch: ", accuracy);
  EXPECT_GE(accuracy, 0.85);
}

}  // namespace
}  // namespace trainer
