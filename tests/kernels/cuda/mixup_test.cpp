// CUDA mixup against the CPU backend's kernel in f32, f16 and bf16: the same bits, images and
// targets (both backends spell out the same FMAs). Batches odd (the middle sample blends with
// itself) and even, samples of one element and of more than the grid covers in one stride, equal
// labels in a pair, lambdas 0 and 1; a label outside [0, K) gives a NaN target row here and an
// Error on the CPU.
#include "trainer/kernels/cuda/mixup.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "dense_test_util.h"
#include "trainer/core/error.h"
#include "trainer/kernels/cpu/mixup.h"

namespace trainer::cuda {
namespace {

using testing::CpuType;
using testing::DeviceArray;
using testing::from_cpu;
using testing::same_values;
using testing::to_cpu;

// 4 x 70001 elements run past the 1024 x 256-thread grid.
constexpr MixupShape kShapes[] = {{5, 63, 10, 0.1f}, {8, 1, 3, 0.f}, {4, 70001, 1000, 0.1f}, {1, 7, 2, 0.2f}};

struct Problem {
  std::vector<int32_t> labels;
  std::vector<float> lambdas;
};

Problem make_problem(const MixupShape& s) {
  Problem p;
  const std::vector<float> draws = testing::random_values<float>(s.batch, 0.5f, 0.3f, 61);
  for (int64_t i = 0; i < s.batch; ++i) {
    p.labels.push_back(static_cast<int32_t>((i * 7 + 2) % s.classes));
    p.lambdas.push_back(i == 0 ? 0.f : i == 1 ? 1.f : std::fabs(draws[i]));
  }
  if (s.batch >= 4) p.labels[s.batch - 2] = p.labels[1];  // pair 1 <-> N-2 shares a label
  return p;
}

template <class T>
void expect_same_as_cpu(const std::string& dtype) {
  for (const MixupShape& s : kShapes) {
    SCOPED_TRACE(dtype + " batch " + std::to_string(s.batch) + " x " + std::to_string(s.sample_size) + ", " +
                 std::to_string(s.classes) + " classes");
    const std::vector<T> images = testing::random_values<T>(s.batch * s.sample_size, 0.f, 2.f, 62);
    const Problem p = make_problem(s);
    DeviceArray<T> d_images(images), d_mixed(images.size());
    DeviceArray<int32_t> d_labels(p.labels);
    DeviceArray<float> d_lambdas(p.lambdas), d_targets(s.batch * s.classes);
    mixup_blend<T>(s, d_images.get(), d_labels.get(), d_lambdas.get(), d_mixed.get(), d_targets.get(), nullptr);

    const std::vector<CpuType<T>> cpu_images = to_cpu(images);
    std::vector<CpuType<T>> cpu_mixed(images.size());
    std::vector<float> cpu_targets(s.batch * s.classes);
    cpu::mixup_blend<CpuType<T>>(s, cpu_images.data(), p.labels.data(), p.lambdas.data(), cpu_mixed.data(),
                                 cpu_targets.data());
    EXPECT_TRUE(same_values(d_mixed.download(), from_cpu<T>(cpu_mixed)));
    EXPECT_TRUE(same_values(d_targets.download(), cpu_targets));
  }
}

TEST(CudaMixup, SameBitsAsTheCpuInF32) { expect_same_as_cpu<float>("f32"); }
TEST(CudaMixup, SameBitsAsTheCpuInF16) { expect_same_as_cpu<float16>("f16"); }
TEST(CudaMixup, SameBitsAsTheCpuInBf16) { expect_same_as_cpu<bfloat16>("bf16"); }

TEST(CudaMixup, ALabelOutsideTheClassesMakesItsPairsTargetsNan) {
  const MixupShape s{4, 2, 3, 0.1f};
  const std::vector<int32_t> labels = {0, 3, 1, 2};  // 3 is outside [0, 3): rows 1 and 2 (its partner)
  const std::vector<float> images(8, 1.f), lambdas(4, 0.5f);
  DeviceArray<float> d_images(images), d_mixed(8), d_lambdas(lambdas), d_targets(12);
  DeviceArray<int32_t> d_labels(labels);
  mixup_blend<float>(s, d_images.get(), d_labels.get(), d_lambdas.get(), d_mixed.get(), d_targets.get(), nullptr);
  const std::vector<float> t = d_targets.download();
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t c = 0; c < 3; ++c) EXPECT_EQ(std::isnan(t[i * 3 + c]), i == 1 || i == 2) << i << ", " << c;
  std::vector<float> mixed(8), targets(12);
  EXPECT_THROW(cpu::mixup_blend<float>(s, images.data(), labels.data(), lambdas.data(), mixed.data(), targets.data()),
               Error);
}

}  // namespace
}  // namespace trainer::cuda
