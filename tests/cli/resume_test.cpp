// src/README.md, decision 10: a resumed run continues bit-identically on the CPU. Train K+K
// steps in one go; train K, stop, resume, train K more; the final weights, batchnorm
// statistics and optimizer state must be equal to the last bit. Random crops, flips, mixup and
// the cosine schedule all take part, so every source of randomness and the loader cursor are
// exercised.
#include <gtest/gtest.h>

#include <cstring>

#include "run_trainer.h"
#include "same_checkpoints.h"
#include "trainer/train/safetensors.h"

namespace trainer::testing {
namespace {

std::vector<std::string> small_run(const std::filesystem::path& model_dir, int steps) {
  return {"--config", "configs/demo/fashion_mnist_resnet.pbtxt",
          "--override", "model { classifier { resnet { width: 8 } mixup_alpha: 0.2 "
                        "preprocessing { train_crop: RANDOM_RESIZED_CROP random_resized_crop { min_area: 0.5 } } } }",
          "--override", "train_config { batch_size: 16 num_steps: " + std::to_string(steps) + " }",
          "--override", "train_config { optimizer { momentum_optimizer { learning_rate { cosine_decay_learning_rate "
                        "{ total_steps: 10 warmup_steps: 2 } } } } }",
          "--override", "runtime { model_dir: \"" + model_dir.string() + "\" checkpoint_every_n_steps: 1000 }",
          "--override", "eval_config { batch_size: 2000 }"};
}

TEST(Resume, StopAndResumeIsBitIdenticalToAnUninterruptedRun) {
  const auto scratch = scratch_dir("resume");
  const auto straight = scratch / "straight", interrupted = scratch / "interrupted";

  RunResult a = run_trainer(small_run(straight, 10), scratch);
  ASSERT_EQ(a.status, 0) << a.err;
  RunResult b1 = run_trainer(small_run(interrupted, 5), scratch);
  ASSERT_EQ(b1.status, 0) << b1.err;
  RunResult b2 = run_trainer(small_run(interrupted, 10), scratch);
  ASSERT_EQ(b2.status, 0) << b2.err;
  EXPECT_NE(b2.err.find("resumed from"), std::string::npos) << b2.err;

  const auto [x, compared] =
      expect_same_checkpoints(straight / "ckpt-000000010.safetensors", interrupted / "ckpt-000000010.safetensors");
  EXPECT_GT(compared, 50);
  // And the run did learn something: the weights moved from their initial values.
  const auto first = train::read_safetensors((interrupted / "ckpt-000000005.safetensors").string());
  EXPECT_NE(std::memcmp(first.tensors.at("fc.weight").raw(), x.tensors.at("fc.weight").raw(),
                        x.tensors.at("fc.weight").nbytes()),
            0);
  std::filesystem::remove_all(scratch);
}

// The same under `mpirun -np 2`: rank 0's checkpoint holds everything the ranks share (weights,
// momentum, the loader cursor of every rank's shard) and every rank resumes from it.
TEST(Resume, UnderTwoRanksIsBitIdenticalToo) {
  const auto scratch = scratch_dir("resume-mpi");
  const auto straight = scratch / "straight", interrupted = scratch / "interrupted";
  auto two_ranks = [&](const std::filesystem::path& dir, int steps) {
    auto args = small_run(dir, steps);
    args.insert(args.end(), {"--override", "runtime { num_threads: 1 }"});
    return run_command(mpirun(2) + trainer_command(args), scratch);
  };
  RunResult a = two_ranks(straight, 6);
  ASSERT_EQ(a.status, 0) << a.err;
  RunResult b1 = two_ranks(interrupted, 3);
  ASSERT_EQ(b1.status, 0) << b1.err;
  RunResult b2 = two_ranks(interrupted, 6);
  ASSERT_EQ(b2.status, 0) << b2.err;
  EXPECT_NE(b2.err.find("resumed from"), std::string::npos) << b2.err;
  expect_same_checkpoints(straight / "ckpt-000000006.safetensors", interrupted / "ckpt-000000006.safetensors");
  std::filesystem::remove_all(scratch);
}

}  // namespace
}  // namespace trainer::testing
