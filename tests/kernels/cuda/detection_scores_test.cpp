// The CUDA scores kernel of post-processing against cpu::detection_scores: f32, bf16 and f16
// logits, with and without a background slot, logit scales 1 and 2, sizes that leave partial
// 32 x 32 tiles along both anchors and classes, and several images.
#include "trainer/kernels/cuda/detection_scores.h"

#include <gtest/gtest.h>

#include "device_test_util.h"
#include "trainer/kernels/cpu/detection_scores.h"

namespace trainer::cuda {
namespace {

using testing::all_close;
using testing::DeviceArray;

// The CPU has no f16 kernels: f16 logits are widened exactly, so the CPU's f32 kernel on the
// widened values is the reference.
template <class T>
std::vector<float> cpu_scores(const std::vector<T>& logits, const DetectionScoresShape& s) {
  std::vector<float> out(s.images * s.classes() * s.anchors);
  if constexpr (std::is_same_v<T, float16>) {
    const std::vector<float> wide = testing::to_floats(logits);
    cpu::detection_scores<float>(wide.data(), s, out.data());
  } else {
    cpu::detection_scores<T>(logits.data(), s, out.data());
  }
  return out;
}

template <class T>
void check_scores(const DetectionScoresShape& s) {
  SCOPED_TRACE(std::to_string(s.images) + " images x " + std::to_string(s.anchors) + " anchors x " +
               std::to_string(s.slots) + " slots, background " + std::to_string(s.background) + ", scale " +
               std::to_string(s.logit_scale));
  const std::vector<T> logits = testing::random_values<T>(s.images * s.anchors * s.slots, -2.f, 4.f, 41);
  DeviceArray<T> d_logits(logits);
  DeviceArray<float> d_scores(s.images * s.classes() * s.anchors);
  detection_scores<T>(d_logits.get(), s, d_scores.get(), nullptr);
  // expf within 2 ulp of the C library's on a GPU (the emulator calls the same libm: exact),
  // then an add and a division each rounded: 5e-7 relative.
  EXPECT_TRUE(all_close(d_scores.download(), cpu_scores(logits, s), 0, 5e-7));
}

template <class T>
void check_all_shapes() {
  for (const int64_t background : {1, 0})
    for (const float scale : {1.f, 2.f}) {
      DetectionScoresShape s;
      s.background = background;
      s.logit_scale = scale;
      s.images = 3;
      s.anchors = 77;  // 2 full anchor tiles and a partial one
      s.slots = 38;    // a full class tile and a partial one (37 or 38 classes)
      check_scores<T>(s);
      s.images = 1;
      s.anchors = 5;
      s.slots = background + 1;  // one class
      check_scores<T>(s);
    }
}

TEST(CudaDetectionScores, F32MatchesTheCpu) { check_all_shapes<float>(); }
TEST(CudaDetectionScores, Bf16MatchesTheCpu) { check_all_shapes<bfloat16>(); }
TEST(CudaDetectionScores, F16MatchesTheCpu) { check_all_shapes<float16>(); }

TEST(CudaDetectionScores, LaysTheScoresOutClassMajor) {
  // 2 anchors, background + 2 classes: scores[j, a] = sigmoid(logits[a, 1 + j] / 2).
  const std::vector<float> logits = {9.f, 0.f, 2.f,  //
                                     9.f, -2.f, 4.f};
  DetectionScoresShape s;
  s.images = 1;
  s.anchors = 2;
  s.slots = 3;
  s.logit_scale = 2.f;
  DeviceArray<float> d_logits(logits), d_scores(4);
  detection_scores<float>(d_logits.get(), s, d_scores.get(), nullptr);
  auto sigmoid = [](float x) { return 1.f / (1.f + std::exp(-x)); };
  EXPECT_TRUE(all_close(d_scores.download(), {sigmoid(0.f), sigmoid(-1.f), sigmoid(1.f), sigmoid(2.f)}, 0, 5e-7));
}

}  // namespace
}  // namespace trainer::cuda
