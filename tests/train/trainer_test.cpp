// One training step's arithmetic around the optimizer, against hand-computed values: global-norm
// clipping as TF's clip_by_global_norm (t * clip / max(norm, clip), the norm logged before
// clipping), a dynamic loss-scale overflow that leaves weights and momentum untouched, and
// checkpoints that bring back the optimizer state bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "test_util.h"
#include "trainer/ops/elementwise.h"
#include "trainer/ops/reduce.h"
#include "trainer/ops/tensor_math.h"
#include "trainer/train/loss_history.h"
#include "trainer/train/safetensors.h"
#include "trainer/train/trainer.h"

namespace trainer::train {
namespace {

// loss = sum(w * cw) + sum(b * cb): the gradients are the constants cw and cb.
class LinearTask final : public TrainTask {
 public:
  LinearTask(std::vector<float> cw, std::vector<float> cb)
      : w_(store_.add("w", {static_cast<int64_t>(cw.size())}, nn::ParamRole::Weight, nn::Init::constant(1))),
        b_(store_.add("b", {static_cast<int64_t>(cb.size())}, nn::ParamRole::Bias, nn::Init::constant(-1))),
        cw_(Tensor::from_floats({static_cast<int64_t>(cw.size())}, cw)),
        cb_(Tensor::from_floats({static_cast<int64_t>(cb.size())}, cb)) {
    store_.finalize(7);
  }
  nn::ParameterStore& store() override { return store_; }
  std::string architecture() const override { return "linear"; }
  Tensor loss(Context& ctx, const TrainBatch&, int64_t) override {
    return ops::add(ctx, ops::sum(ctx, ops::mul(ctx, w_.value, cw_)), ops::sum(ctx, ops::mul(ctx, b_.value, cb_)));
  }

 private:
  nn::ParameterStore store_;
  nn::Parameter& w_;
  nn::Parameter& b_;
  Tensor cw_, cb_;
};

// The same loss as LinearTask's, reported as its two terms.
class TwoTermTask final : public TrainTask {
 public:
  TwoTermTask(std::vector<float> cw, std::vector<float> cb) : inner_(std::move(cw), std::move(cb)) {}
  nn::ParameterStore& store() override { return inner_.store(); }
  std::string architecture() const override { return "two-term"; }
  Tensor loss(Context& ctx, const TrainBatch& batch, int64_t step) override {
    const Tensor total = inner_.loss(ctx, batch, step);
    // Off the tape: twice the sum of w, and what the loss has besides.
    const double doubled_w = 2 * math::sum(store().params()[0].value);
    w_term_ = Tensor::full({}, static_cast<float>(doubled_w), DType::F32);
    rest_ = Tensor::full({}, static_cast<float>(total.item() - doubled_w), DType::F32);
    return total;
  }
  std::vector<std::string> loss_term_names() const override { return {"doubled_w", "rest"}; }
  std::vector<Tensor> last_loss_terms() const override { return {w_term_, rest_}; }

 private:
  LinearTask inner_;
  Tensor w_term_, rest_;
};

// The linear task reads nothing from its batches.
struct EmptyBatch final : TrainBatch {
  int64_t size() const override { return 0; }
};
const EmptyBatch kNoBatch;

class NoData final : public BatchSource {
 public:
  std::unique_ptr<TrainBatch> next() override { return std::make_unique<EmptyBatch>(); }
  std::pair<int64_t, int64_t> cursor() const override { return {3, 11}; }
};

TrainerOptions sgd(double lr, double momentum) {
  TrainerOptions o;
  o.schedule.base = lr;
  o.optimizer.momentum = momentum;
  o.optimizer.weight_decay = 0;
  return o;
}

TEST(TrainerStep, ClipsByGlobalNormLikeTf) {
  // Gradients (3, 0, 0, 0) and (0, 4): global norm 5.
  LinearTask task({3, 0, 0, 0}, {0, 4});
  MetricsLog log;
  TrainerOptions o = sgd(1.0, 0.0);
  o.clip_gradient_norm = 2.5;  // scale 2.5 / 5 = 0.5
  Trainer trainer(task, o, log);
  const StepResult r = trainer.step(kNoBatch);
  EXPECT_TRUE(r.applied);
  EXPECT_DOUBLE_EQ(r.grad_norm, 5.0);  // before clipping, as TF's global_norm output
  EXPECT_EQ(task.store().values().to_floats(), (std::vector<float>{1 - 1.5f, 1, 1, 1, -1, -1 - 2.f}));
}

// NVIDIA's EfficientDet clipping: each tensor to its own norm first (b: 4 -> 3.2, w: 3 stays),
// then the global clip of the result (norm sqrt(9 + 10.24) = 4.386, clip 2.193: scale 0.5).
TEST(TrainerStep, ClipsEachTensorThenTheGlobalNorm) {
  LinearTask task({3, 0, 0, 0}, {0, 4});
  MetricsLog log;
  TrainerOptions o = sgd(1.0, 0.0);
  o.clip_gradient_norm_per_tensor = 3.2;
  o.clip_gradient_norm = std::sqrt(9.0 + 3.2 * 3.2) / 2;
  Trainer trainer(task, o, log);
  const StepResult r = trainer.step(kNoBatch);
  EXPECT_TRUE(r.applied);
  EXPECT_NEAR(r.grad_norm, std::sqrt(9.0 + 3.2 * 3.2), 1e-6);  // after the per-tensor clip
  const std::vector<float> v = task.store().values().to_floats();
  EXPECT_NEAR(v[0], 1 - 1.5f, 1e-6);
  EXPECT_NEAR(v[5], -1 - 1.6f, 1e-6);
}

TEST(TrainerStep, GradientsUnderTheClipNormAreLeftAlone) {
  LinearTask task({3, 0, 0, 0}, {0, 4});
  MetricsLog log;
  TrainerOptions o = sgd(0.5, 0.0);
  o.clip_gradient_norm = 5.0;  // not above the norm: untouched
  Trainer trainer(task, o, log);
  trainer.step(kNoBatch);
  EXPECT_EQ(task.store().values().to_floats(), (std::vector<float>{1 - 1.5f, 1, 1, 1, -1, -1 - 2.f}));
}

TEST(TrainerStep, OverflowingStepLeavesWeightsAndMomentumUntouched) {
  LinearTask task({4, 1, 1, 1}, {1, 1});
  MetricsLog log;
  TrainerOptions o = sgd(0.1, 0.9);
  o.loss_scaling.mode = LossScalerOptions::Mode::Dynamic;
  o.loss_scaling.initial_scale = 1e38;  // 4 * 1e38 overflows float: inf in the gradients
  Trainer trainer(task, o, log);
  const std::vector<float> before = task.store().values().to_floats();
  const StepResult r = trainer.step(kNoBatch);
  EXPECT_FALSE(r.applied);
  EXPECT_TRUE(std::isfinite(r.loss));
  EXPECT_EQ(task.store().values().to_floats(), before);
  // The scale backed off; the next step (0.5e38 * 4 is finite) applies.
  const StepResult next = trainer.step(kNoBatch);
  EXPECT_EQ(next.loss_scale, 5e37);
  EXPECT_TRUE(next.applied);
  // Momentum holds only the applied step's gradient: w -= 0.1 * g.
  const std::vector<float> after = task.store().values().to_floats();
  EXPECT_NEAR(after[0], 1 - 0.1f * 4, 1e-6);
  EXPECT_NEAR(after[4], -1 - 0.1f, 1e-6);
  // The skipped batch did not count as an update: the schedule is one step on, not two.
  EXPECT_EQ(trainer.steps_done(), 1);
  EXPECT_EQ(next.skipped_steps, 1);
  EXPECT_EQ(next.overflows, 1);
}

// TF's ExponentialMovingAverage with num_updates: decay_t = min(decay, (1 + t) / (10 + t)), the
// average starting from the weights before the first update. Constant gradients (4, 1, 1, 1)
// and (1, 1) with plain SGD make the weights w_t = w_0 - 0.1 * t * g, so the expected averages
// follow by hand.
TEST(TrainerMovingAverage, FollowsTfsDecayScheduleFromTheInitialWeights) {
  LinearTask task({4, 1, 1, 1}, {1, 1});
  MetricsLog log;
  TrainerOptions o = sgd(0.1, 0.0);
  o.moving_average_decay = 0.25;  // reached at t = 0: min(0.25, 1/10) ... min(0.25, 4/13)
  Trainer trainer(task, o, log);
  double expected = 1;  // w[0] starts at 1
  for (int t = 1; t <= 4; ++t) {
    trainer.step(kNoBatch);
    const double d = std::min(0.25, (1.0 + t) / (10.0 + t));
    expected = d * expected + (1 - d) * (1 - 0.1 * 4 * t);
    EXPECT_NEAR(trainer.moving_average()->values().to_floats()[0], expected, 1e-6) << "update " << t;
  }
  EXPECT_DOUBLE_EQ(trainer.moving_average()->decay_at(1), 2.0 / 11.0);
  EXPECT_DOUBLE_EQ(trainer.moving_average()->decay_at(100), 0.25);
}

// A skipped step leaves the moving average alone: after an overflow and one applied update it
// is the first update's average of the initial and updated weights.
TEST(TrainerMovingAverage, SkippedStepLeavesItUntouched) {
  LinearTask task({4, 1, 1, 1}, {1, 1});
  MetricsLog log;
  TrainerOptions o = sgd(0.1, 0.0);
  o.moving_average_decay = 0.9999;
  o.loss_scaling.mode = LossScalerOptions::Mode::Dynamic;
  o.loss_scaling.initial_scale = 1e38;  // the first step overflows
  Trainer trainer(task, o, log);
  EXPECT_FALSE(trainer.step(kNoBatch).applied);
  EXPECT_TRUE(trainer.step(kNoBatch).applied);
  const double d = 2.0 / 11.0;
  EXPECT_NEAR(trainer.moving_average()->values().to_floats()[0], d * 1 + (1 - d) * (1 - 0.1 * 4), 1e-6);
}

TEST(TrainerCheckpoint, ResumeKeepsTheLossScaleAndTheSkippedAndOverflowCounts) {
  testing::ScratchDir dir;
  TrainerOptions o = sgd(0.1, 0.9);
  o.model_dir = dir.path();
  o.loss_scaling.mode = LossScalerOptions::Mode::Dynamic;
  o.loss_scaling.initial_scale = 1e38;  // overflows once, then 5e37 applies
  MetricsLog log;
  LinearTask a({4, 1, 1, 1}, {1, 1});
  Trainer first(a, o, log);
  EXPECT_FALSE(first.step(kNoBatch).applied);
  EXPECT_TRUE(first.step(kNoBatch).applied);
  NoData source;
  const std::optional<std::string> path = first.save(source);
  ASSERT_TRUE(path.has_value());
  const auto meta = read_safetensors(*path).metadata;
  EXPECT_EQ(meta.at("loss_scale"), "5e+37");
  EXPECT_EQ(meta.at("loss_scale_overflows"), "1");
  EXPECT_EQ(meta.at("skipped_steps"), "1");

  LinearTask b({4, 1, 1, 1}, {1, 1});
  Trainer second(b, o, log);
  const auto state = second.resume();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->step, 1);
  EXPECT_EQ(state->loss_scale, 5e37);
  EXPECT_EQ(state->loss_scale_overflows, 1);
  EXPECT_EQ(state->skipped_steps, 1);
  const StepResult r = second.step(kNoBatch);
  EXPECT_EQ(r.loss_scale, 5e37);
  EXPECT_EQ(r.skipped_steps, 1);
  EXPECT_EQ(r.overflows, 1);
}

std::vector<uint32_t> bits(const Tensor& t) {
  std::vector<uint32_t> out(t.numel());
  std::memcpy(out.data(), t.data<float>(), out.size() * 4);
  return out;
}

TEST(TrainerCheckpoint, ResumeRestoresWeightsMomentumStepAndLossScaleExactly) {
  testing::ScratchDir dir;
  TrainerOptions o = sgd(0.05, 0.875);
  o.optimizer.weight_decay = 0.01;
  o.model_dir = dir.path();
  o.loss_scaling.mode = LossScalerOptions::Mode::Dynamic;
  o.loss_scaling.initial_scale = 256;
  o.loss_scaling.growth_interval = 5;
  o.moving_average_decay = 0.9;
  MetricsLog log;
  LinearTask a({0.3f, -1.7f, 2.2f, 0.9f}, {1.1f, -0.4f});
  Trainer first(a, o, log);
  for (int i = 0; i < 3; ++i) first.step(kNoBatch);
  NoData source;
  const std::optional<std::string> path = first.save(source);
  ASSERT_TRUE(path.has_value());
  const Tensor saved_momentum = read_safetensors(*path).tensors.at("optimizer.momentum");
  const Tensor saved_average = read_safetensors(*path).tensors.at("optimizer.moving_average");
  EXPECT_EQ(bits(saved_average), bits(first.moving_average()->values()));
  EXPECT_NE(bits(saved_average), bits(a.store().values()));
  ASSERT_GT(math::squared_norm(saved_momentum), 0.0);

  LinearTask b({0.3f, -1.7f, 2.2f, 0.9f}, {1.1f, -0.4f});
  b.store().values().fill_(123.f);
  Trainer second(b, o, log);
  const auto state = second.resume();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->step, 3);
  EXPECT_EQ(second.steps_done(), 3);
  EXPECT_EQ(second.resume_cursor(), (std::pair<int64_t, int64_t>{3, 11}));
  EXPECT_EQ(state->loss_scale, 256);
  EXPECT_EQ(state->loss_scale_good_steps, 3);
  EXPECT_EQ(bits(b.store().values()), bits(a.store().values()));
  // The resumed momentum buffer is the saved one: saving again right away writes the same bits.
  const std::optional<std::string> again = second.save(source);
  ASSERT_EQ(again, path);
  EXPECT_EQ(bits(read_safetensors(*again).tensors.at("optimizer.momentum")), bits(saved_momentum));
  EXPECT_EQ(bits(second.moving_average()->values()), bits(saved_average));

  // And it matters: two more steps agree to the bit with the uninterrupted run, while a run that
  // lost its momentum (same weights, fresh optimizer) does not.
  LinearTask c({0.3f, -1.7f, 2.2f, 0.9f}, {1.1f, -0.4f});
  c.store().values().copy_from(a.store().values());
  TrainerOptions no_dir = o;
  no_dir.model_dir.clear();
  Trainer forgetful(c, no_dir, log);
  for (Trainer* t : {&first, &second, &forgetful}) t->step(kNoBatch), t->step(kNoBatch);
  EXPECT_EQ(bits(b.store().values()), bits(a.store().values()));
  EXPECT_EQ(bits(second.moving_average()->values()), bits(first.moving_average()->values()));
  EXPECT_NE(bits(c.store().values()), bits(a.store().values()));
}

// Flips one byte of a file in place: the damage a disk error or a bad copy does.
void flip_byte(const std::string& path, std::streamoff from_end) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(-from_end, std::ios::end);
  const char c = static_cast<char>(f.get());
  f.seekp(-from_end, std::ios::end);
  f.put(static_cast<char>(c ^ 0x10));
}

TEST(TrainerCheckpoint, ADamagedCheckpointIsCaughtByItsChecksum) {
  testing::ScratchDir dir;
  const std::string path = dir.path() + "/t.safetensors";
  write_safetensors(path, {{"w", Tensor::from_floats({3}, {1, 2, 3})}}, {{"note", "x"}});
  const SafetensorsFile good = read_safetensors(path);
  EXPECT_EQ(good.metadata, (std::map<std::string, std::string>{{"note", "x"}}));  // the checksum is the reader's
  flip_byte(path, 5);  // in the data of w
  try {
    read_safetensors(path);
    FAIL() << "a flipped data byte was not noticed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": the data does not match its checksum"), std::string::npos)
        << e.what();
  }
}

TEST(TrainerCheckpoint, SavingRemovesWhatAKilledWriteLeftAndResumeSkipsADamagedNewest) {
  testing::ScratchDir dir;
  TrainerOptions o = sgd(0.1, 0.9);
  o.model_dir = dir.path();
  MetricsLog log;
  LinearTask a({4, 1, 1, 1}, {1, 1});
  Trainer first(a, o, log);
  NoData source;
  first.step(kNoBatch);
  const std::optional<std::string> older = first.save(source);
  ASSERT_TRUE(older.has_value());
  const Tensor weights_at_1 = a.store().values().clone();
  // A run killed while writing step 9 leaves ckpt-000000009.safetensors.tmp: never a checkpoint,
  // and gone once the next one is written.
  const std::string partial = dir.path() + "/ckpt-000000009.safetensors.tmp";
  std::ofstream(partial) << "half a checkpoint";
  first.step(kNoBatch);
  const std::optional<std::string> newer = first.save(source);
  ASSERT_TRUE(newer.has_value());
  EXPECT_FALSE(std::filesystem::exists(partial));

  flip_byte(*newer, 3);
  LinearTask b({4, 1, 1, 1}, {1, 1});
  Trainer second(b, o, log);
  const auto state = second.resume();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->step, 1);  // from the checkpoint before the damaged one
  EXPECT_EQ(bits(b.store().values()), bits(weights_at_1));

  flip_byte(*older, 3);
  LinearTask c({4, 1, 1, 1}, {1, 1});
  Trainer third(c, o, log);
  try {
    third.resume();
    FAIL() << "resumed from damaged checkpoints";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("none of the checkpoints in " + dir.path() + " can be loaded"),
              std::string::npos)
        << e.what();
  }
}

TEST(TrainerLossHistory, TheLossTermsAreMeansOverTheLogWindowLikeTheLoss) {
  testing::ScratchDir dir;
  TrainerOptions o = sgd(0.1, 0.9);
  o.model_dir = dir.path();
  o.num_steps = 6;
  o.log_every = 3;
  MetricsLog log;
  NoData source;
  TwoTermTask task({4, 1, 1, 1}, {1, 1});
  Trainer(task, o, log).run(source);
  const LossHistory::Table history = LossHistory::read(dir.path() + "/loss_history.csv");
  EXPECT_EQ(history.term_names, (std::vector<std::string>{"doubled_w", "rest"}));
  ASSERT_EQ(history.rows.size(), 2u);
  for (const LossHistory::Row& row : history.rows) {
    ASSERT_EQ(row.terms.size(), 2u);
    EXPECT_NEAR(row.terms[0] + row.terms[1], row.loss, 1e-5 * std::abs(row.loss));
  }
  // w starts at 1: the first window's doubled_w (steps 0, 1, 2) is below 8 and falling.
  EXPECT_LT(history.rows[0].terms[0], 8);
  EXPECT_LT(history.rows[1].terms[0], history.rows[0].terms[0]);
}

TEST(TrainerLossHistory, LogStepsAreRecordedAndAResumedRunContinuesFromItsCheckpoint) {
  testing::ScratchDir dir;
  TrainerOptions o = sgd(0.1, 0.9);
  o.model_dir = dir.path();
  o.num_steps = 6;
  o.log_every = 2;
  o.checkpoint_every = 4;
  int checkpoints = 0;
  o.after_checkpoint = [&checkpoints] { ++checkpoints; };
  MetricsLog log;
  NoData source;
  const std::string path = dir.path() + "/loss_history.csv";
  LinearTask a({4, 1, 1, 1}, {1, 1});
  {
    Trainer first(a, o, log);
    first.run(source);
  }
  EXPECT_EQ(checkpoints, 2);  // at step 4 and at the end
  std::vector<LossHistory::Row> rows = LossHistory::read(path).rows;
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].step, 2);
  EXPECT_EQ(rows[2].step, 6);
  EXPECT_EQ(rows[0].lr, 0.1);
  EXPECT_GT(rows[0].loss, rows[2].loss);  // SGD lowers this loss
  // A run that died after logging step 8 but before checkpointing it: resumed, it logs 8 again.
  std::ofstream(path, std::ios::app) << "8,999,0.1\n";
  o.num_steps = 8;
  LinearTask b({4, 1, 1, 1}, {1, 1});
  Trainer second(b, o, log);
  ASSERT_TRUE(second.resume().has_value());
  second.run(source);
  EXPECT_EQ(checkpoints, 3);
  rows = LossHistory::read(path).rows;
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[3].step, 8);
  EXPECT_LT(rows[3].loss, rows[2].loss);
}

}  // namespace
}  // namespace trainer::train
