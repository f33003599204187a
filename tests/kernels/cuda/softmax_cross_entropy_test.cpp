// CUDA softmax cross-entropy against the CPU backend in f32, f16 and bf16: hard labels with
// and without label smoothing, soft targets (with zero entries, which the loss skips), class
// counts with and without 4-wide vectors in backward (1000, 12 vs 10, 3) and rows past the
// 256-thread block (1000 classes) and below a warp (3).
#include "trainer/kernels/cuda/softmax_cross_entropy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "dense_test_util.h"
#include "trainer/core/error.h"
#include "trainer/kernels/cpu/softmax_cross_entropy.h"

namespace trainer::cuda {
namespace {

using testing::CpuType;
using testing::DeviceArray;
using testing::from_cpu;
using testing::same_values;
using testing::to_cpu;
using testing::to_floats;

struct Shape {
  int64_t n, k;
};
constexpr Shape kShapes[] = {{37, 1000}, {5, 10}, {64, 3}, {9, 12}};

enum class Targets { Labels, SmoothedLabels, Soft };

struct Problem {
  std::vector<int32_t> labels;
  std::vector<float> soft;
  float smoothing = 0.f;
};

Problem make_problem(Shape s, Targets t) {
  Problem p;
  if (t == Targets::Soft) {
    p.soft = testing::random_values<float>(s.n * s.k, 0.f, 1.f, 51);
    for (int64_t i = 0; i < s.n; ++i) {
      double total = 0;
      for (int64_t j = 0; j < s.k; ++j) {
        float& v = p.soft[i * s.k + j];
        v = (j % 3 == 1) ? 0.f : std::fabs(v);  // zero targets are skipped by the loss
        total += v;
      }
      for (int64_t j = 0; j < s.k; ++j) p.soft[i * s.k + j] = static_cast<float>(p.soft[i * s.k + j] / total);
    }
  } else {
    for (int64_t i = 0; i < s.n; ++i) p.labels.push_back(static_cast<int32_t>((i * 7919 + 3) % s.k));
    p.smoothing = t == Targets::SmoothedLabels ? 0.1f : 0.f;
  }
  return p;
}

std::string label(const std::string& dtype, Shape s, Targets t) {
  const char* names[] = {"labels", "labels smoothed 0.1", "soft targets"};
  return dtype + " [" + std::to_string(s.n) + ", " + std::to_string(s.k) + "] " + names[static_cast<int>(t)];
}

template <class T>
struct Forward {
  std::vector<float> probs;
  float loss;
};

template <class T>
Forward<T> gpu_forward(const std::vector<T>& logits, Shape s, const Problem& p) {
  DeviceArray<T> d_logits(logits);
  DeviceArray<int32_t> d_labels(std::max<size_t>(p.labels.size(), 1));
  DeviceArray<float> d_soft(std::max<size_t>(p.soft.size(), 1)), d_probs(s.n * s.k), d_loss(1);
  if (!p.labels.empty()) d_labels.upload(p.labels);
  if (!p.soft.empty()) d_soft.upload(p.soft);
  softmax_cross_entropy_forward<T>(d_logits.get(), s.n, s.k, p.labels.empty() ? nullptr : d_labels.get(),
                                   p.soft.empty() ? nullptr : d_soft.get(), p.smoothing, d_probs.get(), d_loss.get(),
                                   nullptr);
  return {d_probs.download(), d_loss.download()[0]};
}

template <class T>
class CudaSoftmaxCrossEntropy : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, float16, bfloat16>;
TYPED_TEST_SUITE(CudaSoftmaxCrossEntropy, FloatTypes);

TYPED_TEST(CudaSoftmaxCrossEntropy, ForwardMatchesCpu) {
  using T = TypeParam;
  for (const Shape s : kShapes)
    for (const Targets t : {Targets::Labels, Targets::SmoothedLabels, Targets::Soft}) {
      SCOPED_TRACE(label(testing::dtype_label<T>(), s, t));
      const Problem p = make_problem(s, t);
      const std::vector<T> logits = testing::random_values<T>(s.n * s.k, 0.f, 3.f, 52);
      const Forward<T> got = gpu_forward(logits, s, p);
      std::vector<float> probs(s.n * s.k);
      const double loss = cpu::softmax_cross_entropy_forward<CpuType<T>>(
          to_cpu(logits).data(), s.n, s.k, p.labels.empty() ? nullptr : p.labels.data(),
          p.soft.empty() ? nullptr : p.soft.data(), p.smoothing, probs.data());
      // Same float formulas; a GPU's expf is within 2 ulps where the CPU's exp is within 1, and
      // the normaliser (a double sum in another order) moves the last bit: 8 f32 ulps.
      EXPECT_TRUE(testing::all_close(got.probs, probs, 1e-30, 8 * testing::epsilon_of<float>()));
      // Per-row losses are doubles of those values; their mean rounded to f32 once.
      EXPECT_TRUE(testing::all_close({got.loss}, {static_cast<float>(loss)}, 1e-7, 1e-6));
    }
}

TYPED_TEST(CudaSoftmaxCrossEntropy, BackwardMatchesCpuBitForBit) {
  using T = TypeParam;
  for (const Shape s : kShapes)
    for (const Targets t : {Targets::Labels, Targets::SmoothedLabels, Targets::Soft}) {
      SCOPED_TRACE(label(testing::dtype_label<T>(), s, t));
      const Problem p = make_problem(s, t);
      std::vector<float> probs = testing::random_values<float>(s.n * s.k, 0.f, 1.f, 53);
      for (float& v : probs) v = std::fabs(v) / static_cast<float>(s.k);
      const float grad_scale = 1.5f / static_cast<float>(s.n);
      DeviceArray<float> d_probs(probs), d_soft(std::max<size_t>(p.soft.size(), 1));
      DeviceArray<int32_t> d_labels(std::max<size_t>(p.labels.size(), 1));
      if (!p.labels.empty()) d_labels.upload(p.labels);
      if (!p.soft.empty()) d_soft.upload(p.soft);
      DeviceArray<T> d_dlogits(s.n * s.k);
      softmax_cross_entropy_backward<T>(d_probs.get(), s.n, s.k, p.labels.empty() ? nullptr : d_labels.get(),
                                        p.soft.empty() ? nullptr : d_soft.get(), p.smoothing, grad_scale,
                                        d_dlogits.get(), nullptr);
      std::vector<CpuType<T>> dlogits(s.n * s.k);
      cpu::softmax_cross_entropy_backward<CpuType<T>>(probs.data(), s.n, s.k,
                                                      p.labels.empty() ? nullptr : p.labels.data(),
                                                      p.soft.empty() ? nullptr : p.soft.data(), p.smoothing,
                                                      grad_scale, dlogits.data());
      // (p - t) * scale: two float operations, the same targets: identical.
      EXPECT_TRUE(same_values(d_dlogits.download(), from_cpu<T>(dlogits)));
    }
}

// The loss is a fixed-order reduction: the same bits however often (and in whichever thread
// order: ctest runs this test in both) it is computed.
TEST(CudaSoftmaxCrossEntropy, LossIsReproducible) {
  const Shape s{300, 100};
  const Problem p = make_problem(s, Targets::SmoothedLabels);
  const std::vector<float> logits = testing::random_values<float>(s.n * s.k, 0.f, 5.f, 54);
  const Forward<float> first = gpu_forward(logits, s, p);
  for (int run = 0; run < 3; ++run) {
    const Forward<float> again = gpu_forward(logits, s, p);
    EXPECT_EQ(testing::bits_of(again.loss), testing::bits_of(first.loss));
    EXPECT_EQ(again.probs, first.probs);
  }
}

TEST(CudaSoftmaxCrossEntropy, LabelOutsideTheClassesMakesTheLossNaN) {
  const Shape s{4, 5};
  Problem p = make_problem(s, Targets::Labels);
  p.labels[2] = 5;
  const Forward<float> f = gpu_forward(testing::random_values<float>(s.n * s.k, 0.f, 1.f, 55), s, p);
  EXPECT_TRUE(std::isnan(f.loss));
  p.labels[2] = -1;
  EXPECT_TRUE(std::isnan(gpu_forward(testing::random_values<float>(s.n * s.k, 0.f, 1.f, 55), s, p).loss));
}

TEST(CudaSoftmaxCrossEntropy, EmptyBatchHasZeroLoss) {
  DeviceArray<float> d_logits(1), d_probs(1), d_loss(std::vector<float>{42.f});
  DeviceArray<int32_t> d_labels(1);
  softmax_cross_entropy_forward<float>(d_logits.get(), 0, 10, d_labels.get(), nullptr, 0.f, d_probs.get(),
                                       d_loss.get(), nullptr);
  EXPECT_EQ(d_loss.download()[0], 0.f);
}

TEST(CudaSoftmaxCrossEntropy, NeedsExactlyOneKindOfTarget) {
  EXPECT_THROW(softmax_cross_entropy_forward<float>(nullptr, 1, 2, nullptr, nullptr, 0.f, nullptr, nullptr, nullptr),
               Error);
}

}  // namespace
}  // namespace trainer::cuda
