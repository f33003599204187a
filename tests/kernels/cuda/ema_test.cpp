// The EMA update against the CPU backend's kernel and its one-line definition, on a buffer with
// a tail that is not a whole vector, aligned and not.
#include "trainer/kernels/cuda/ema.h"
#include "trainer/kernels/cpu/optimizer.h"

#include <gtest/gtest.h>

#include "dense_test_util.h"
#include "trainer/core/error.h"

namespace trainer::cuda {
namespace {

using testing::DeviceArray;

TEST(CudaEma, MatchesTheDefinition) {
  const int64_t n = 10007;
  for (const int64_t offset : {int64_t{0}, int64_t{1}}) {
    std::vector<float> ema = testing::random_values<float>(n, 0.f, 1.f, 91);
    const std::vector<float> w = testing::random_values<float>(n, 0.f, 1.f, 92);
    DeviceArray<float> d_ema(ema), d_w(w);
    const float decay = 0.999f;
    std::vector<float> cpu_ema = ema;
    for (int step = 0; step < 2; ++step) {
      ema_update(d_ema.get() + offset, d_w.get() + offset, n - offset, decay, nullptr);
      cpu::ema_update(cpu_ema.data() + offset, w.data() + offset, n - offset, decay);
      for (int64_t i = offset; i < n; ++i) ema[i] = decay * ema[i] + (1.f - decay) * w[i];
    }
    // Fused or unfused multiply-adds: one f32 ulp of the terms (|ema|, |w| < 6) per step.
    EXPECT_TRUE(testing::all_close(d_ema.download(), ema, 2 * 12 * testing::kF32Roundoff, 0)) << "offset " << offset;
    EXPECT_TRUE(testing::all_close(d_ema.download(), cpu_ema, 2 * 12 * testing::kF32Roundoff, 0)) << "offset " << offset;
    EXPECT_TRUE(testing::all_close(cpu_ema, ema, 2 * 12 * testing::kF32Roundoff, 0)) << "offset " << offset;
  }
}

TEST(CudaEma, EmptyAndNegativeSizes) {
  EXPECT_NO_THROW(ema_update(nullptr, nullptr, 0, 0.9f, nullptr));
  EXPECT_THROW(ema_update(nullptr, nullptr, -1, 0.9f, nullptr), Error);
}

}  // namespace
}  // namespace trainer::cuda
