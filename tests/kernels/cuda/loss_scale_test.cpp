// The loss scaler's fused pass (unscale + finite check + optional squared norm) against what
// train::LossScaler does on the CPU: cpu::scale by 1/scale, then cpu::all_finite, and the
// double squared norm of the result (math::squared_norm's formula).
#include "trainer/kernels/cuda/loss_scale.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "dense_test_util.h"
#include "trainer/core/error.h"
#include "trainer/kernels/cpu/elementwise.h"

namespace trainer::cuda {
namespace {

using testing::DeviceArray;
using testing::same_values;

struct Outcome {
  std::vector<float> grads;
  int32_t finite;
  double norm;
};

Outcome run(const std::vector<float>& grads, int64_t offset, float inv_scale, bool with_norm) {
  DeviceArray<float> d_g(grads);
  DeviceArray<int32_t> d_finite(std::vector<int32_t>{-7});
  DeviceArray<double> d_norm(std::vector<double>{-1.0});
  unscale_and_check_finite(d_g.get() + offset, static_cast<int64_t>(grads.size()) - offset, inv_scale, d_finite.get(),
                           with_norm ? d_norm.get() : nullptr, nullptr);
  const std::vector<float> all = d_g.download();
  return {std::vector<float>(all.begin() + offset, all.end()), d_finite.download()[0], d_norm.download()[0]};
}

Outcome reference(const std::vector<float>& grads, int64_t offset, float inv_scale) {
  std::vector<float> g(grads.begin() + offset, grads.end());
  const int64_t n = static_cast<int64_t>(g.size());
  if (inv_scale != 1.f) cpu::scale<float>(g.data(), inv_scale, g.data(), n, false);
  double norm = 0;
  for (const float v : g) norm += double(v) * v;
  return {g, cpu::all_finite(g.data(), n) ? 1 : 0, norm};
}

// Several blocks, a tail that is not a whole vector; aligned and not.
TEST(CudaLossScale, UnscaleMatchesTheCpuPassBitForBit) {
  const std::vector<float> grads = testing::random_values<float>(100003, 0.f, 4096.f, 71);
  for (const int64_t offset : {int64_t{0}, int64_t{1}})
    for (const float inv_scale : {1.f / 1024.f, 1.f / 3.f, 1.f}) {
      SCOPED_TRACE("offset " + std::to_string(offset) + " inv_scale " + std::to_string(inv_scale));
      const Outcome got = run(grads, offset, inv_scale, true), want = reference(grads, offset, inv_scale);
      EXPECT_TRUE(same_values(got.grads, want.grads));  // one f32 product each, as cpu::scale
      EXPECT_EQ(got.finite, 1);
      // Double sums of the same squares in different orders: within 2 n 2^-53 sum.
      EXPECT_NEAR(got.norm, want.norm, 2.0 * 100004 * std::ldexp(1.0, -53) * want.norm);
    }
}

TEST(CudaLossScale, ReportsNonFiniteGradients) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> grads = testing::random_values<float>(20001, 0.f, 1.f, 72);
  for (const int64_t where : {int64_t{0}, int64_t{12345}, int64_t{20000}}) {
    for (const float bad : {inf, -inf, nan}) {
      std::vector<float> g = grads;
      g[where] = bad;
      const Outcome got = run(g, 0, 0.5f, false), want = reference(g, 0, 0.5f);
      EXPECT_EQ(got.finite, 0) << "at " << where;
      EXPECT_EQ(want.finite, 0);
      EXPECT_TRUE(same_values(got.grads, want.grads));
      EXPECT_EQ(got.norm, -1.0);  // not asked for: untouched
    }
  }
  // Finite inputs that overflow when unscaled by a factor > 1 (a loss scale below 1).
  grads[777] = 3e38f;
  EXPECT_EQ(run(grads, 0, 4.f, false).finite, 0);
  EXPECT_EQ(run(grads, 0, 1.f, false).finite, 1);
}

TEST(CudaLossScale, EmptyBufferIsFinite) {
  DeviceArray<int32_t> d_finite(std::vector<int32_t>{0});
  unscale_and_check_finite(nullptr, 0, 0.5f, d_finite.get(), nullptr, nullptr);
  EXPECT_EQ(d_finite.download()[0], 1);
  EXPECT_THROW(unscale_and_check_finite(nullptr, 4, 0.5f, nullptr, nullptr, nullptr), Error);
}

}  // namespace
}  // namespace trainer::cuda
