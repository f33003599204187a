// Data parallelism, run as `mpirun -np 2 dist_tests` (ctest: dist.two_ranks) and as one process
// (dist.*): the collectives against their definitions, and the promise of data-parallel
// training: N ranks with batch B each end with the same parameters as one process with batch
// N*B, for a model without batchnorm (linear regression with momentum SGD and weight decay).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "trainer/core/random.h"
#include "trainer/dist/communicator.h"
#include "trainer/ops/elementwise.h"
#include "trainer/ops/linear.h"
#include "trainer/ops/reduce.h"
#include "trainer/train/trainer.h"

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

TEST(DataParallel, NRanksWithBatchBMatchOneProcessWithBatchNB) {
  Communicator& c = *comm();
  const int64_t per_rank = 4, global = per_rank * c.world_size(), steps = 8;
  MetricsLog log;
  Regression parallel, single;
  train::Trainer on_ranks(parallel, options(&c), log);
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
  std::printf("rank %d of %d: loss after %lld steps matches one process with batch %lld\n", c.rank(), c.world_size(),
              static_cast<long long>(steps), static_cast<long long>(global));
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

}  // namespace
}  // namespace trainer::dist
