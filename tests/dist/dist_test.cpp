// Data parallelism, run as `mpirun -np 2 dist_tests` (ctest: dist.two_ranks) and as one process
// (dist.*): the collectives against their definitions, and the promise of data-parallel
// training: N ranks with batch B each end with the same parameters as one process with batch
// N*B, for a model without batchnorm (linear regression with momentum SGD and weight decay).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <tuple>

#include "trainer/core/random.h"
#include "trainer/dist/communicator.h"
#include "trainer/ops/activation.h"
#include "trainer/ops/batchnorm.h"
#include "trainer/ops/elementwise.h"
#include "trainer/ops/linear.h"
#include "trainer/ops/reduce.h"
#include "trainer/train/trainer.h"
#if TRAINER_HAS_NCCL
#include "trainer/dist/nccl_communicator.h"
#include "trainer/kernels/cuda/runtime.h"
#endif

namespace trainer::dist {
namespace {

std::shared_ptr<Communicator> comm() {
  static std::shared_ptr<Communicator> c = make_communicator();
  return c;
}

TEST(Collectives, MatchTheirDefinitions) {
  Communicator& c = *comm();
  const int n = c.world_size(), r = c.rank();
  Tensor t = Tensor::from_floats({3}, {float(r), float(2 * r + 1), -1.f});
  c.allreduce_mean(t);
  const float mean_rank = float(n - 1) / 2;
  EXPECT_EQ(t.to_floats(), (std::vector<float>{mean_rank, 2 * mean_rank + 1, -1.f}));
  Tensor b = Tensor::from_floats({2}, {float(r + 10), float(r + 20)});
  c.broadcast(b, 0);
  EXPECT_EQ(b.to_floats(), (std::vector<float>{10.f, 20.f}));
  EXPECT_EQ(c.allreduce_sum(r + 1), n * (n + 1) / 2.0);
  const std::vector<std::string> names = c.allgather(std::string(static_cast<size_t>(r + 1), 'x'));
  ASSERT_EQ(names.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(names[static_cast<size_t>(i)], std::string(static_cast<size_t>(i + 1), 'x'));
}

// loss = mean over the batch of (x . w + b - t)^2: the mean over ranks of per-rank mean losses'
// gradients is the gradient of the whole batch's mean loss when every rank has B rows.
class Regression final : public train::TrainTask {
 public:
  Regression() : w_(store_.add("w", {1, 5}, nn::ParamRole::Weight, nn::Init::normal(0, 0.5))),
                 b_(store_.add("b", {1}, nn::ParamRole::Bias, nn::Init::zeros())) {
    store_.finalize(3);
  }
  nn::ParameterStore& store() override { return store_; }
  std::string architecture() const override { return "regression"; }
  Tensor loss(Context& ctx, const train::TrainBatch& batch, int64_t) override;

 private:
  nn::ParameterStore store_;
  nn::Parameter& w_;
  nn::Parameter& b_;
};

struct Rows final : train::TrainBatch {
  Tensor x, t;  // [rows, 5], [rows, 1]
  int64_t size() const override { return x.dim(0); }
};

Tensor Regression::loss(Context& ctx, const train::TrainBatch& batch, int64_t) {
  const Rows& rows = static_cast<const Rows&>(batch);
  const Tensor error = ops::sub(ctx, ops::linear(ctx, rows.x, w_.value, b_.value), rows.t);
  return ops::mean(ctx, ops::mul(ctx, error, error));
}

// Rows [first, first + count) of step `step`'s global batch: the same numbers in any process.
Rows rows_of(int64_t step, int64_t first, int64_t count) {
  Rows r;
  r.x = Tensor::empty({count, 5}, DType::F32);
  r.t = Tensor::empty({count, 1}, DType::F32);
  for (int64_t i = 0; i < count; ++i) {
    Philox rng(11, static_cast<uint64_t>(step * 1000 + first + i));
    float dot = 0.3f;
    for (int k = 0; k < 5; ++k) {
      const float v = static_cast<float>(rng.normal());
      r.x.data<float>()[i * 5 + k] = v;
      dot += v * static_cast<float>(k - 2);
    }
    r.t.data<float>()[i] = dot + 0.1f * static_cast<float>(rng.normal());
  }
  return r;
}

train::TrainerOptions options(Communicator* c) {
  train::TrainerOptions o;
  o.schedule.base = 0.05;
  o.optimizer.momentum = 0.9;
  o.optimizer.weight_decay = 1e-3;
  o.communicator = c;
  return o;
}

// Twice: each parameter in a bucket of its own (reduced while backward runs) and one bucket.
class DataParallel : public ::testing::TestWithParam<int64_t> {};

TEST_P(DataParallel, NRanksWithBatchBMatchOneProcessWithBatchNB) {
  Communicator& c = *comm();
  const int64_t per_rank = 4, global = per_rank * c.world_size(), steps = 8;
  MetricsLog log;
  Regression parallel, single;
  train::TrainerOptions o = options(&c);
  o.allreduce_bucket_bytes = GetParam();
  train::Trainer on_ranks(parallel, o, log);
  train::Trainer alone(single, options(nullptr), log);
  for (int64_t s = 0; s < steps; ++s) {
    const train::StepResult a = on_ranks.step(rows_of(s, c.rank() * per_rank, per_rank));
    const train::StepResult b = alone.step(rows_of(s, 0, global));
    // The logged loss is the mean of the ranks' losses: the whole batch's.
    EXPECT_NEAR(a.loss, b.loss, 1e-5 * b.loss) << "step " << s;
  }
  const std::vector<float> p = parallel.store().values().to_floats(), q = single.store().values().to_floats();
  ASSERT_EQ(p.size(), q.size());
  // Sums in a different order (two half-batch means averaged): a few f32 roundings per step.
  for (size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(p[i], q[i], 2e-6 * (1 + std::abs(q[i]))) << "parameter " << i;
  if (const train::GradientReducer* reducer = on_ranks.gradient_reducer()) {
    EXPECT_EQ(reducer->buckets().size(), GetParam() > 0 ? 2u : 1u);
  }
  std::printf("rank %d of %d: loss after %lld steps matches one process with batch %lld\n", c.rank(), c.world_size(),
              static_cast<long long>(steps), static_cast<long long>(global));
}

INSTANTIATE_TEST_SUITE_P(Buckets, DataParallel, ::testing::Values(int64_t{4}, int64_t{0}),
                         [](const auto& info) { return info.param > 0 ? "OneBucketPerParameter" : "OneBucket"; });

// linear -> batchnorm + relu -> linear, squared error: batchnorm makes each row's output depend on
// the whole batch, so ranks match one process only when they share the statistics (SyncBN).
class Normalised final : public train::TrainTask {
 public:
  Normalised()
      : w1_(store_.add("l1.w", {4, 5}, nn::ParamRole::Weight, nn::Init::normal(0, 0.5))),
        b1_(store_.add("l1.b", {4}, nn::ParamRole::Bias, nn::Init::constant(0.1))),
        gamma_(store_.add("bn.gamma", {4}, nn::ParamRole::NormScale, nn::Init::constant(1.2))),
        beta_(store_.add("bn.beta", {4}, nn::ParamRole::NormShift, nn::Init::constant(0.1))),
        w2_(store_.add("l2.w", {1, 4}, nn::ParamRole::Weight, nn::Init::normal(0, 0.5))),
        b2_(store_.add("l2.b", {1}, nn::ParamRole::Bias, nn::Init::zeros())),
        mean_(store_.add_buffer("bn.running_mean", {4}, nn::Init::zeros())),
        var_(store_.add_buffer("bn.running_var", {4}, nn::Init::ones())) {
    store_.finalize(4);
  }
  nn::ParameterStore& store() override { return store_; }
  std::string architecture() const override { return "normalised"; }
  Tensor loss(Context& ctx, const train::TrainBatch& batch, int64_t) override {
    const Rows& rows = static_cast<const Rows&>(batch);
    ops::BatchNormOptions bn;
    bn.epsilon = 1e-3f;
    bn.activation = Activation::Relu;
    Tensor h = ops::linear(ctx, rows.x, w1_.value, b1_.value);
    h = ops::batch_norm(ctx, h, gamma_.value, beta_.value, mean_.value, var_.value, bn);
    const Tensor error = ops::sub(ctx, ops::linear(ctx, h, w2_.value, b2_.value), rows.t);
    return ops::mean(ctx, ops::mul(ctx, error, error));
  }

 private:
  nn::ParameterStore store_;
  nn::Parameter &w1_, &b1_, &gamma_, &beta_, &w2_, &b2_;
  nn::Buffer &mean_, &var_;
};

// SyncBN: two ranks with batch 4 match one process with batch 8 in parameters and running
// statistics; without it they do not (the test can tell).
TEST(SyncBatchnorm, RanksMatchOneProcessWithTheWholeBatch) {
  Communicator& c = *comm();
  const int64_t per_rank = 4, global = per_rank * c.world_size(), steps = 6;
  MetricsLog log;
  Normalised synced, unsynced, single;
  train::TrainerOptions o = options(&c);
  o.execution.sync_batchnorm = &c;
  train::Trainer with_sync(synced, o, log), without_sync(unsynced, options(&c), log);
  train::Trainer alone(single, options(nullptr), log);
  for (int64_t s = 0; s < steps; ++s) {
    const Rows mine = rows_of(s, c.rank() * per_rank, per_rank);
    const train::StepResult a = with_sync.step(mine);
    without_sync.step(mine);
    const train::StepResult b = alone.step(rows_of(s, 0, global));
    EXPECT_NEAR(a.loss, b.loss, 1e-5 * b.loss) << "step " << s;
  }
  auto max_difference = [&](Normalised& task) {
    double worst = 0;
    for (Tensor* t : {&task.store().values(), &task.store().buffer_values()}) {
      const Tensor& reference = t == &task.store().values() ? single.store().values() : single.store().buffer_values();
      const std::vector<float> p = t->to_floats(), q = reference.to_floats();
      for (size_t i = 0; i < p.size(); ++i) worst = std::max(worst, std::abs(double(p[i]) - q[i]) / (1 + std::abs(q[i])));
    }
    return worst;
  };
  EXPECT_LT(max_difference(synced), 1e-5);
  if (c.world_size() > 1) {
    EXPECT_GT(max_difference(unsynced), 1e-3);
  }
}

// What the reducer asks of the communicator, in order; one process, so the means are no-ops.
class RecordingCommunicator final : public Communicator {
 public:
  explicit RecordingCommunicator(const Tensor& grads) : base_(grads.data<float>()) {}
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  int local_rank() const override { return 0; }
  std::string describe() const override { return "recording"; }
  void allreduce_mean(Tensor&) override {}
  void start_allreduce_mean(Tensor& t) override { started.emplace_back(t.data<float>() - base_, t.numel()); }
  void wait_reductions() override { waited_after = started.size(); }
  void broadcast(Tensor&, int) override {}
  double allreduce_sum(double v) override { return v; }
  std::vector<std::string> allgather(const std::string& v) override { return {v}; }
  void set_timeout(double) override {}
  void set_step(int64_t) override {}
  std::vector<std::pair<int64_t, int64_t>> started;  // (offset, elements) of each bucket
  size_t waited_after = 0;

 private:
  const float* base_;
};

// Three linear layers: the buckets are contiguous ranges of the flat buffer, last layer first,
// cut at the size asked for; all but the first layer's start while backward still has closures
// to run (the first layer's gradients are final only when its own closure, the tape's last,
// has run); and the mean is waited for once, after every bucket started.
TEST(GradientReducer, StartsEachBucketAsBackwardFinishesItLastLayersFirst) {
  nn::ParameterStore store;
  std::vector<nn::Parameter*> layers;
  for (const auto& [name, in, out] : {std::tuple{"l1", 5, 16}, std::tuple{"l2", 16, 16}, std::tuple{"l3", 16, 1}}) {
    layers.push_back(&store.add(std::string(name) + ".w", {out, in}, nn::ParamRole::Weight, nn::Init::normal(0, 0.3)));
    layers.push_back(&store.add(std::string(name) + ".b", {out}, nn::ParamRole::Bias, nn::Init::constant(0.1)));
  }
  store.finalize(5);
  // l1: 80 + 16 values, l2: 256 + 16, l3: 16 + 1. A bucket closes once it holds 100 bytes:
  // l3.b, l3.w and l2.b (132 bytes), then l2.w alone (1024), then l1.b and l1.w (384).
  RecordingCommunicator recorder(store.grads());
  train::GradientReducer reducer(store, recorder, 100);
  ASSERT_EQ(reducer.buckets().size(), 3u);
  const std::vector<std::pair<int64_t, int64_t>> expected = {{352, 33}, {96, 256}, {0, 96}};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(reducer.buckets()[i].begin, expected[i].first);
    EXPECT_EQ(reducer.buckets()[i].end, expected[i].first + expected[i].second);
  }
  Tape tape;
  Context ctx{&tape, true};
  store.track(tape);
  reducer.attach(tape);
  Tensor h = rows_of(0, 0, 4).x;
  for (int l = 0; l < 3; ++l) {
    h = ops::linear(ctx, h, layers[2 * l]->value, layers[2 * l + 1]->value);
    if (l < 2) h = ops::relu(ctx, h);
  }
  tape.backward(ops::mean(ctx, h), Tensor::full({}, 1.0, DType::F32));
  store.untrack();
  EXPECT_EQ(recorder.waited_after, 0u);
  reducer.finish();
  EXPECT_EQ(recorder.started, expected);
  EXPECT_EQ(recorder.waited_after, 3u);
  EXPECT_EQ(reducer.started_during_backward(), 2);
}

// Ranks that would resume from different checkpoints (a model_dir not shared between machines)
// stop, every one of them, naming what each found.
TEST(DataParallel, RanksThatSeeDifferentCheckpointsAreRefused) {
  Communicator& c = *comm();
  if (c.world_size() < 2) GTEST_SKIP() << "needs mpirun -np 2 (dist.two_ranks)";
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("trainer-dist-" + std::to_string(::getpid()) + "-" + std::to_string(c.rank()));
  std::filesystem::remove_all(dir);
  MetricsLog log;
  Regression task;
  train::TrainerOptions o = options(&c);
  o.model_dir = dir.string();
  if (c.is_root()) {  // rank 0 alone has a checkpoint in its directory
    train::TrainerOptions alone = o;
    alone.communicator = nullptr;
    train::Trainer writer(task, alone, log);
    writer.step(rows_of(0, 0, 4));
    struct NoData final : train::BatchSource {
      std::unique_ptr<train::TrainBatch> next() override { return nullptr; }
      std::pair<int64_t, int64_t> cursor() const override { return {0, 1}; }
    } source;
    ASSERT_TRUE(writer.save(source).has_value());
  }
  train::Trainer trainer(task, o, log);
  try {
    trainer.resume();
    ADD_FAILURE() << "rank " << c.rank() << " resumed although the ranks disagree";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank 1 would resume from none but rank 0 from "), std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

#if TRAINER_HAS_NCCL
// NCCL on CUDA tensors (the real library on GPUs; here, where the CUDA kernels run on the
// emulator, its stand-in over MPI): the collectives, and data-parallel training on the device
// with buckets matching one CPU process with the whole batch.
std::shared_ptr<Communicator> nccl() {
  static std::shared_ptr<Communicator> c = [] {
    cuda::register_runtime();
    cuda::select_device(comm()->local_rank());
    return nccl_communicator(comm());
  }();
  return c;
}

TEST(Nccl, CollectivesOnCudaTensors) {
  Communicator& c = *nccl();
  const int n = c.world_size(), r = c.rank();
  EXPECT_NE(c.describe().find("NCCL"), std::string::npos) << c.describe();
  Tensor t = Tensor::from_floats({3}, {float(r), float(2 * r + 1), -1.f}).to(Device::cuda());
  c.allreduce_mean(t);
  const float mean_rank = float(n - 1) / 2;
  EXPECT_EQ(t.to(Device::cpu()).to_floats(), (std::vector<float>{mean_rank, 2 * mean_rank + 1, -1.f}));
  // Buckets of one buffer, started back to back and waited for once.
  Tensor flat = Tensor::full({6}, double(r + 1), DType::F32).to(Device::cuda());
  for (int64_t begin : {4, 2, 0}) {
    Tensor range = flat.slice(0, begin, begin + 2);
    c.start_allreduce_mean(range);
  }
  c.wait_reductions();
  EXPECT_EQ(flat.to(Device::cpu()).to_floats(), std::vector<float>(6, float(n + 1) / 2));
  Tensor b = Tensor::from_floats({2}, {float(r + 10), float(r + 20)}).to(Device::cuda());
  c.broadcast(b, 0);
  EXPECT_EQ(b.to(Device::cpu()).to_floats(), (std::vector<float>{10.f, 20.f}));
  EXPECT_EQ(c.allreduce_sum(r + 1), n * (n + 1) / 2.0);
}

TEST(Nccl, RanksOnTheGpuWithBatchBMatchOneCpuProcessWithBatchNB) {
  Communicator& c = *nccl();
  const int64_t per_rank = 4, global = per_rank * c.world_size(), steps = 8;
  MetricsLog log;
  Regression parallel, single;
  parallel.store().to(Device::cuda());
  train::TrainerOptions o = options(&c);
  o.allreduce_bucket_bytes = 4;  // w and b in buckets of their own
  train::Trainer on_gpus(parallel, o, log);
  train::Trainer alone(single, options(nullptr), log);
  for (int64_t s = 0; s < steps; ++s) {
    Rows mine = rows_of(s, c.rank() * per_rank, per_rank);
    mine.x = mine.x.to(Device::cuda());
    mine.t = mine.t.to(Device::cuda());
    const train::StepResult a = on_gpus.step(mine);
    const train::StepResult b = alone.step(rows_of(s, 0, global));
    EXPECT_NEAR(a.loss, b.loss, 1e-5 * b.loss) << "step " << s;
  }
  const std::vector<float> p = parallel.store().values().to(Device::cpu()).to_floats();
  const std::vector<float> q = single.store().values().to_floats();
  ASSERT_EQ(p.size(), q.size());
  for (size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(p[i], q[i], 1e-5 * (1 + std::abs(q[i]))) << "parameter " << i;
}
#endif

}  // namespace
}  // namespace trainer::dist
