// Trainer::run takes each batch, and starts its copy to the device (TrainBatch::prefetch),
// during the step before the one that trains it. These tests hold the loop to what that must
// not change: the order batches are trained in (a skipped step trains the next batch, a stop
// leaves the prefetched one untrained) and checkpoints whose loader cursor is the position after
// the batch trained last, so that a stopped and resumed run is the uninterrupted one, bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "test_util.h"
#include "trainer/ops/elementwise.h"
#include "trainer/ops/reduce.h"
#include "trainer/train/safetensors.h"
#include "trainer/train/trainer.h"

namespace trainer::train {
namespace {

using Events = std::vector<std::string>;  // "prefetch 3", "loss 3": what happened, in order

struct NumberedBatch final : TrainBatch {
  NumberedBatch(int64_t n, Events& e) : number(n), events(e) {}
  int64_t size() const override { return 1; }
  void prefetch(Device) override { events.push_back("prefetch " + std::to_string(number)); }
  int64_t number;
  Events& events;
};

// Batches numbered on from `first`; the cursor (epoch 0) is the number of the next one.
class NumberedSource final : public BatchSource {
 public:
  NumberedSource(Events& events, int64_t first) : events_(events), next_(first) {}
  std::unique_ptr<TrainBatch> next() override { return std::make_unique<NumberedBatch>(next_++, events_); }
  std::pair<int64_t, int64_t> cursor() const override { return {0, next_}; }

 private:
  Events& events_;
  int64_t next_;
};

// loss = (n + 1) * sum(w * c) for batch n, NaN for the batches in `poisoned`: the weights after
// a run say which batches it trained, and with momentum in which order.
class NumberedTask final : public TrainTask {
 public:
  explicit NumberedTask(Events& events)
      : events_(events), w_(store_.add("w", {3}, nn::ParamRole::Weight, nn::Init::constant(1))) {
    store_.finalize(7);
  }
  nn::ParameterStore& store() override { return store_; }
  std::string architecture() const override { return "numbered"; }
  Tensor loss(Context& ctx, const TrainBatch& batch, int64_t) override {
    const int64_t n = dynamic_cast<const NumberedBatch&>(batch).number;
    events_.push_back("loss " + std::to_string(n));
    ++losses;
    const float f = poisoned.count(n) ? std::nanf("") : static_cast<float>(n + 1);
    return ops::sum(ctx, ops::mul(ctx, w_.value, Tensor::from_floats({3}, {0.5f * f, -0.25f * f * f, 2.f})));
  }
  std::set<int64_t> poisoned;
  int losses = 0;  // loss() calls, a skipped step's diagnosis included

 private:
  Events& events_;
  nn::ParameterStore store_;
  nn::Parameter& w_;
};

TrainerOptions options(int64_t steps, const std::string& model_dir = "") {
  TrainerOptions o;
  o.num_steps = steps;
  o.schedule.base = 0.01;
  o.optimizer.momentum = 0.9;
  o.optimizer.weight_decay = 0;
  o.model_dir = model_dir;
  return o;
}

std::vector<uint32_t> bits(const Tensor& t) {
  std::vector<uint32_t> out(t.numel());
  std::memcpy(out.data(), t.data<float>(), out.size() * 4);
  return out;
}

// Each batch's copy starts once the step before has queued its loss; the last step, which ends
// the run, takes no batch it would not train.
TEST(TrainerPrefetch, TheNextBatchIsTakenOnceTheStepBeforeHasQueuedItsLoss) {
  Events events;
  NumberedTask task(events);
  NumberedSource source(events, 0);
  MetricsLog log;
  Trainer(task, options(3), log).run(source);
  EXPECT_EQ(events, (Events{"prefetch 0", "loss 0", "prefetch 1", "loss 1", "prefetch 2", "loss 2"}));
  EXPECT_EQ(source.cursor().second, 3);
}

// A skipped step's batch is diagnosed again (its loss runs twice) and the next step trains the
// batch prefetched meanwhile, as without prefetching; the skipped step does not end the run.
TEST(TrainerPrefetch, ASkippedStepIsFollowedByTheNextBatch) {
  Events events;
  NumberedTask task(events);
  task.poisoned = {1};
  NumberedSource source(events, 0);
  MetricsLog log;
  Trainer trainer(task, options(3), log);
  trainer.run(source);
  EXPECT_EQ(events, (Events{"prefetch 0", "loss 0", "prefetch 1", "loss 1", "prefetch 2", "loss 1", "loss 2",
                            "prefetch 3", "loss 3"}));
  EXPECT_EQ(trainer.steps_done(), 3);
}

// Checkpoints written while the next batch is already prefetched (every 2 steps, and at a stop)
// save the cursor after the batch trained: the resumed run trains the prefetched batch, and ends
// with the weights and momentum of the run that was never stopped.
TEST(TrainerPrefetch, AStoppedRunResumesAtTheBatchAfterTheLastTrainedBitForBit) {
  testing::ScratchDir dir;
  const std::string straight_dir = dir.path() + "/straight", stopped_dir = dir.path() + "/stopped";
  MetricsLog log;
  Events straight_events;
  NumberedTask straight_task(straight_events);
  NumberedSource straight_source(straight_events, 0);
  Trainer(straight_task, options(7, straight_dir), log).run(straight_source);

  Events events;
  NumberedTask first_task(events);
  NumberedSource first_source(events, 0);
  TrainerOptions o = options(7, stopped_dir);
  o.checkpoint_every = 2;
  o.should_stop = [&first_task] { return first_task.losses == 3; };
  Trainer(first_task, o, log).run(first_source);
  EXPECT_EQ(events, (Events{"prefetch 0", "loss 0", "prefetch 1", "loss 1", "prefetch 2", "loss 2", "prefetch 3"}));
  const auto at_2 = read_safetensors(stopped_dir + "/ckpt-000000002.safetensors").metadata;
  EXPECT_EQ(at_2.at("loader_batch"), "2") << "batch 2 was prefetched, not trained, when step 2 was saved";
  const auto at_stop = read_safetensors(stopped_dir + "/ckpt-000000003.safetensors").metadata;
  EXPECT_EQ(at_stop.at("loader_batch"), "3") << "batch 3 was prefetched, not trained, when the run stopped";

  events.clear();
  NumberedTask second_task(events);
  o.should_stop = nullptr;
  Trainer second(second_task, o, log);
  ASSERT_TRUE(second.resume().has_value());
  NumberedSource second_source(events, second.resume_cursor().second);
  second.run(second_source);
  EXPECT_EQ(events, (Events{"prefetch 3", "loss 3", "prefetch 4", "loss 4", "prefetch 5", "loss 5", "prefetch 6",
                            "loss 6"}));
  const SafetensorsFile a = read_safetensors(straight_dir + "/ckpt-000000007.safetensors");
  const SafetensorsFile b = read_safetensors(stopped_dir + "/ckpt-000000007.safetensors");
  for (const char* name : {"w", "optimizer.momentum"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(bits(a.tensors.at(name)), bits(b.tensors.at(name)));
  }
  EXPECT_EQ(a.metadata.at("loader_batch"), "7");
  EXPECT_EQ(b.metadata.at("loader_batch"), "7");
}

}  // namespace
}  // namespace trainer::train
