// Momentum SGD over segmented flat buffers against the CPU optimizer's loop (the body of
// train::MomentumSgd::step, src/train/optimizer.cpp, restated here: these tests do not link
// the train layer), plain and Nesterov, over several steps. Segment boundaries fall inside
// 16-byte vectors and across the kernel's 8192-element block chunks; a gap between segments
// must stay untouched; unaligned buffers take the scalar path.
#include "trainer/kernels/cuda/momentum_sgd.h"

#include <gtest/gtest.h>

#include <string>

#include "dense_test_util.h"
#include "trainer/core/error.h"

namespace trainer::cuda {
namespace {

using testing::DeviceArray;

void cpu_step(std::vector<float>& w, const std::vector<float>& g, std::vector<float>& a,
              const std::vector<SgdSegment>& segments, int64_t base, float lr, float m, bool nesterov) {
  for (const SgdSegment& s : segments) {
    const float wd = s.weight_decay;
    for (int64_t i = base + s.offset; i < base + s.offset + s.size; ++i) {
      const float gi = g[i] + wd * w[i];
      const float ai = m * a[i] + gi;
      a[i] = ai;
      w[i] -= lr * (nesterov ? gi + m * ai : ai);
    }
  }
}

// [0, 1001) decayed, [1001, 1003) not, [1003, 9000) decayed (crosses the 8192 chunk), a gap
// [9000, 9010), [9010, 20001) not, [20001, 30000) with another decay.
const std::vector<SgdSegment> kSegments = {
    {0, 1001, 1e-4f}, {1001, 2, 0.f}, {1003, 7997, 1e-4f}, {9010, 10991, 0.f}, {20001, 9999, 5e-5f}};
constexpr int64_t kCount = 30000;

void check(bool nesterov, int64_t base) {
  SCOPED_TRACE(std::string(nesterov ? "nesterov" : "plain") + (base ? ", unaligned" : ""));
  const int64_t total = kCount + base;
  std::vector<float> w = testing::random_values<float>(total, 0.f, 0.05f, 81);
  std::vector<float> a = testing::random_values<float>(total, 0.f, 0.01f, 82);
  DeviceArray<float> d_w(w), d_a(a), d_g(total);
  DeviceArray<SgdSegment> d_segments(kSegments.size());
  TRAINER_CUDA_CHECK(cudaMemcpy(d_segments.get(), kSegments.data(), sizeof(SgdSegment) * kSegments.size(),
                                cudaMemcpyHostToDevice));
  const float lr = 0.256f, m = 0.875f;
  for (int step = 0; step < 3; ++step) {
    const std::vector<float> g = testing::random_values<float>(total, 0.f, 0.01f, 83 + step);
    d_g.upload(g);
    momentum_sgd_step(d_w.get() + base, d_g.get() + base, d_a.get() + base, d_segments.get(),
                      static_cast<int>(kSegments.size()), kCount, lr, m, nesterov, nullptr);
    cpu_step(w, g, a, kSegments, base, lr, m, nesterov);
  }
  const std::vector<float> got_w = d_w.download(), got_a = d_a.download();
  // The same expressions in the same order; a compiler may fuse a multiply-add into an FMA on
  // one side and not the other, a rounding of at most one ulp of the terms (|w| < 0.3 and
  // |a| < 0.2 here: 1e-7 absolute) per step, over three steps.
  EXPECT_TRUE(testing::all_close(got_w, w, 3e-7, 4 * testing::epsilon_of<float>()));
  EXPECT_TRUE(testing::all_close(got_a, a, 3e-7, 4 * testing::epsilon_of<float>()));
  // The gap and whatever lies outside the segments: untouched, bit for bit.
  const std::vector<float> w0 = testing::random_values<float>(total, 0.f, 0.05f, 81);
  for (int64_t i = base + 9000; i < base + 9010; ++i) EXPECT_EQ(got_w[i], w0[i]) << i;
}

TEST(CudaMomentumSgd, MatchesTheCpuOptimizer) { check(false, 0); }
TEST(CudaMomentumSgd, NesterovMatchesTheCpuOptimizer) { check(true, 0); }
TEST(CudaMomentumSgd, UnalignedBuffersMatchTheCpuOptimizer) { check(true, 1); }

TEST(CudaMomentumSgd, NothingToDoAndBadArguments) {
  EXPECT_NO_THROW(momentum_sgd_step(nullptr, nullptr, nullptr, nullptr, 0, 10, 0.1f, 0.9f, false, nullptr));
  EXPECT_THROW(momentum_sgd_step(nullptr, nullptr, nullptr, nullptr, 1, -1, 0.1f, 0.9f, false, nullptr), Error);
}

}  // namespace
}  // namespace trainer::cuda
