// The CUDA focal and smooth-L1 losses and their backward against the CPU backend
// (cpu/detection_losses.h) on the same values: f32, f16 (against the CPU's f32 on the f16
// values) and bf16 predictions; gammas 2 / 0 / 1.5 (the three code paths), alpha set or not;
// rows of weight 0 holding NaN logits (must cost nothing); NaN regression targets (ignored);
// sizes that leave partial vector groups (n % 4 != 0), partial blocks, one block (the loss
// written directly) and many blocks (the partials pass); pointers off 16-byte alignment (the
// scalar path).
#include "trainer/kernels/cuda/detection_losses.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "device_test_util.h"
#include "trainer/kernels/cpu/detection_losses.h"

namespace trainer::cuda {
namespace {

using testing::all_close;
using testing::DeviceArray;

struct Shape {
  int64_t rows, width;
};

// n = rows * width: 1; 15 (n % 4 = 3); 637 (91 classes, n % 4 = 1); 5,400 (a few blocks);
// 186,732 (COCO's 91 slots, 183 blocks: the partials pass).
constexpr Shape kFocalShapes[] = {{1, 1}, {5, 3}, {7, 91}, {900, 6}, {2052, 91}};
constexpr Shape kBoxShapes[] = {{1, 4}, {5, 3}, {7, 4}, {1350, 4}, {40001, 4}};

// Host copies of one loss problem; `offset` extra leading elements shift every device pointer
// off 16-byte alignment when it is 1.
template <class T>
struct Problem {
  std::vector<T> pred;
  std::vector<float> targets, weights;
};

// Logits ~ N(0, 3) with a few huge ones, 0/1 targets with some soft ones, weights mostly 1,
// some 0.5 and every fifth row 0 with NaN logits.
template <class T>
Problem<T> focal_problem(Shape s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 3.f);
  std::uniform_int_distribution<int> pick(0, 19);
  Problem<T> p;
  const int64_t n = s.rows * s.width;
  p.pred.resize(n);
  p.targets.resize(n);
  p.weights.resize(s.rows);
  for (int64_t r = 0; r < s.rows; ++r) p.weights[r] = r % 5 == 4 ? 0.f : (pick(rng) == 0 ? 0.5f : 1.f);
  for (int64_t i = 0; i < n; ++i) {
    float x = normal(rng);
    const int u = pick(rng);
    if (u == 0) x = 40.f;
    if (u == 1) x = -60.f;
    if (p.weights[i / s.width] == 0.f && u < 10) x = std::numeric_limits<float>::quiet_NaN();
    p.pred[i] = T(x);
    const int v = pick(rng);
    p.targets[i] = v < 3 ? 1.f : (v == 3 ? 0.3f : 0.f);
  }
  return p;
}

// Predictions and targets ~ N(0, 2) (errors on both sides of delta), some NaN targets, weights
// 1, 0.5 and 0.
template <class T>
Problem<T> box_problem(Shape s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 2.f);
  std::uniform_int_distribution<int> pick(0, 9);
  Problem<T> p;
  const int64_t n = s.rows * s.width;
  p.pred.resize(n);
  p.targets.resize(n);
  p.weights.resize(s.rows);
  for (int64_t r = 0; r < s.rows; ++r) {
    const int v = pick(rng);
    p.weights[r] = v < 3 ? 0.f : (v == 3 ? 0.5f : 1.f);
  }
  for (int64_t i = 0; i < n; ++i) {
    p.pred[i] = T(normal(rng));
    p.targets[i] = pick(rng) == 0 ? std::numeric_limits<float>::quiet_NaN() : normal(rng);
  }
  return p;
}

// The CPU backend on the same values (f16: its f32 kernel on the f16 values).
template <class T>
double cpu_focal(const Problem<T>& p, Shape s, float alpha, float gamma, std::vector<float>& grad) {
  grad.resize(p.pred.size());
  if constexpr (std::is_same_v<T, float16>) {
    const std::vector<float> x = testing::to_floats(p.pred);
    return cpu::sigmoid_focal_loss_forward<float>(x.data(), p.targets.data(), p.weights.data(), s.rows, s.width,
                                                  alpha, gamma, grad.data());
  } else {
    return cpu::sigmoid_focal_loss_forward<T>(p.pred.data(), p.targets.data(), p.weights.data(), s.rows, s.width,
                                              alpha, gamma, grad.data());
  }
}

template <class T>
double cpu_smooth_l1(const Problem<T>& p, Shape s, float delta, std::vector<float>& grad) {
  grad.resize(p.pred.size());
  if constexpr (std::is_same_v<T, float16>) {
    const std::vector<float> x = testing::to_floats(p.pred);
    return cpu::smooth_l1_loss_forward<float>(x.data(), p.targets.data(), p.weights.data(), s.rows, s.width, delta,
                                              grad.data());
  } else {
    return cpu::smooth_l1_loss_forward<T>(p.pred.data(), p.targets.data(), p.weights.data(), s.rows, s.width, delta,
                                          grad.data());
  }
}

// Device copies, each shifted by `offset` elements (1: misaligned, the scalar path).
template <class T>
struct DeviceProblem {
  DeviceArray<T> pred;
  DeviceArray<float> targets, weights, grad, loss;
  int64_t offset;
  DeviceProblem(const Problem<T>& p, int64_t offset_)
      : pred(p.pred.size() + offset_), targets(p.targets.size() + offset_), weights(p.weights),
        grad(p.pred.size() + offset_), loss(1), offset(offset_) {
    std::vector<T> x(offset);
    x.insert(x.end(), p.pred.begin(), p.pred.end());
    pred.upload(x);
    std::vector<float> t(offset, 0.f);
    t.insert(t.end(), p.targets.begin(), p.targets.end());
    targets.upload(t);
  }
  std::vector<float> grad_values() const {
    std::vector<float> g = grad.download();
    return std::vector<float>(g.begin() + offset, g.end());
  }
};

template <class T>
class CudaDetectionLoss : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, float16, bfloat16>;
TYPED_TEST_SUITE(CudaDetectionLoss, FloatTypes);

struct FocalParams {
  float alpha, gamma;
};
constexpr FocalParams kFocalParams[] = {{0.25f, 2.f}, {-1.f, 0.f}, {0.4f, 1.5f}};

TYPED_TEST(CudaDetectionLoss, FocalForwardAndSavedGradientMatchTheCpu) {
  using T = TypeParam;
  for (const Shape s : kFocalShapes)
    for (const FocalParams f : kFocalParams)
      for (const int64_t offset : {0, 1}) {
        SCOPED_TRACE(testing::dtype_label<T>() + " [" + std::to_string(s.rows) + ", " + std::to_string(s.width) +
                     "] alpha " + std::to_string(f.alpha) + " gamma " + std::to_string(f.gamma) + " offset " +
                     std::to_string(offset));
        const Problem<T> p = focal_problem<T>(s, static_cast<uint32_t>(s.rows * 7 + s.width));
        std::vector<float> want_grad;
        const double want = cpu_focal(p, s, f.alpha, f.gamma, want_grad);
        DeviceProblem<T> d(p, offset);
        sigmoid_focal_loss_forward<T>(d.pred.get() + offset, d.targets.get() + offset, d.weights.get(), s.rows,
                                      s.width, f.alpha, f.gamma, d.grad.get() + offset, d.loss.get(), nullptr);
        const float got = d.loss.download()[0];
        ASSERT_TRUE(std::isfinite(got));
        // Every term is >= 0, so the relative error of the sum is bounded by the terms': the
        // CPU's exp/log1p polynomials and the device's expf/log1pf differ by a few ulp (~1e-6
        // after the cancellations in 1 - p_t), float per-thread sums against the CPU's double
        // row sums add ~1e-6 more.
        EXPECT_NEAR(got, want, 1e-5 * std::abs(want) + 1e-6);
        // Per entry: the same few-ulp differences in p, 1 - p and the logs, through a formula
        // with cancellation between its two terms: 2e-6 absolute on gradients of order 1, 1e-5
        // relative. NaN logits of weight-0 rows must give exactly 0.
        EXPECT_TRUE(all_close(d.grad_values(), want_grad, 2e-6, 1e-5));
        // Without a gradient buffer: the same loss.
        sigmoid_focal_loss_forward<T>(d.pred.get() + offset, d.targets.get() + offset, d.weights.get(), s.rows,
                                      s.width, f.alpha, f.gamma, nullptr, d.loss.get(), nullptr);
        EXPECT_EQ(d.loss.download()[0], got);
      }
}

TYPED_TEST(CudaDetectionLoss, SmoothL1ForwardAndSavedGradientMatchTheCpu) {
  using T = TypeParam;
  for (const Shape s : kBoxShapes)
    for (const float delta : {1.f, 0.11f})
      for (const int64_t offset : {0, 1}) {
        SCOPED_TRACE(testing::dtype_label<T>() + " [" + std::to_string(s.rows) + ", " + std::to_string(s.width) +
                     "] delta " + std::to_string(delta) + " offset " + std::to_string(offset));
        const Problem<T> p = box_problem<T>(s, static_cast<uint32_t>(s.rows + 3 * s.width));
        std::vector<float> want_grad;
        const double want = cpu_smooth_l1(p, s, delta, want_grad);
        DeviceProblem<T> d(p, offset);
        smooth_l1_loss_forward<T>(d.pred.get() + offset, d.targets.get() + offset, d.weights.get(), s.rows, s.width,
                                  delta, d.grad.get() + offset, d.loss.get(), nullptr);
        // Terms >= 0; float rounding of each term times its weight and float partial sums
        // against the CPU's double row sums: ~1e-6 relative.
        EXPECT_NEAR(d.loss.download()[0], want, 1e-5 * std::abs(want) + 1e-6);
        // The gradient is one subtraction, a clamp and one product per entry: identical.
        EXPECT_TRUE(all_close(d.grad_values(), want_grad, 0, 0));
      }
}

TYPED_TEST(CudaDetectionLoss, EmptyInputCostsNothing) {
  using T = TypeParam;
  DeviceArray<T> pred(1);
  DeviceArray<float> targets(1), weights(1), loss(std::vector<float>{7.f});
  sigmoid_focal_loss_forward<T>(pred.get(), targets.get(), weights.get(), 0, 91, 0.25f, 2.f, nullptr, loss.get(),
                                nullptr);
  EXPECT_EQ(loss.download()[0], 0.f);
  loss.upload({7.f});
  smooth_l1_loss_forward<T>(pred.get(), targets.get(), weights.get(), 0, 4, 1.f, nullptr, loss.get(), nullptr);
  EXPECT_EQ(loss.download()[0], 0.f);
}

TYPED_TEST(CudaDetectionLoss, BackwardScalesTheSavedGradient) {
  using T = TypeParam;
  for (const int64_t n : {int64_t{1}, int64_t{1001}, int64_t{70003}}) {
    SCOPED_TRACE(testing::dtype_label<T>() + " n " + std::to_string(n));
    const std::vector<float> grad = testing::random_values<float>(n, 0.f, 2.f, static_cast<uint32_t>(n));
    const float scale = 0.37f;
    // dx = T(grad * scale): one float product, rounded once to T, on both backends.
    std::vector<T> want(n);
    if constexpr (std::is_same_v<T, float16>) {
      for (int64_t i = 0; i < n; ++i) want[i] = T(grad[i] * scale);
    } else {
      cpu::scale_saved_gradient<T>(grad.data(), n, scale, want.data());
    }
    DeviceArray<float> d_grad(grad), d_scale(std::vector<float>{scale});
    DeviceArray<T> dx(n);
    scale_saved_gradient<T>(d_grad.get(), n, scale, dx.get(), nullptr);
    EXPECT_TRUE(all_close(dx.download(), want, 0, 0));
    DeviceArray<T> dx2(n);
    scale_saved_gradient<T>(d_grad.get(), n, d_scale.get(), dx2.get(), nullptr);
    EXPECT_TRUE(all_close(dx2.download(), want, 0, 0));
  }
}

TEST(CudaDetectionLoss, SumIsTheSameBitsEveryRun) {
  const Shape s{2052, 91};
  const Problem<float> p = focal_problem<float>(s, 5);
  DeviceProblem<float> d(p, 0);
  sigmoid_focal_loss_forward<float>(d.pred.get(), d.targets.get(), d.weights.get(), s.rows, s.width, 0.25f, 2.f,
                                    nullptr, d.loss.get(), nullptr);
  const float first = d.loss.download()[0];
  for (int run = 0; run < 3; ++run) {
    sigmoid_focal_loss_forward<float>(d.pred.get(), d.targets.get(), d.weights.get(), s.rows, s.width, 0.25f, 2.f,
                                      d.grad.get(), d.loss.get(), nullptr);
    EXPECT_EQ(d.loss.download()[0], first);
  }
}

}  // namespace
}  // namespace trainer::cuda
