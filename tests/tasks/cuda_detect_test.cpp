// Detection inference on device CUDA (the emulated kernels in this build) against the CPU: a
// reduced SSD ResNet-FPN and a reduced EfficientDet (keep-aspect resizer, no background slot)
// built from the same seed, so with the same weights, detect the same synthetic batch on both
// devices, one image of it padded (its own clip window). Post-processing runs where the network
// ran (ops::detection_postprocess), and only the detections come back to the host.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>

#include "trainer/config/config.h"
#include "trainer/core/allocator.h"
#include "trainer/kernels/cuda/runtime.h"
#include "reduced_configs.h"
#include "trainer/tasks/detection_task.h"

namespace trainer::tasks {
namespace {

using test_configs::reduced_efficientdet;
using test_configs::reduced_ssd;

using Detections = std::vector<std::vector<models::DetectedBox>>;

// The initial weights with batchnorm statistics of the synthetic batch. At initialisation the
// running statistics (mean 0, variance 1) shrink the activations layer by layer, so every class
// logit is the prior's bias (-4.6) give or take a few ulp and the detections' order would be
// rounding noise. One training-mode forward pass with batchnorm decay 0 (the configs' 0.9
// overridden) makes the running statistics the batch's: the heads then see activations of
// order 1 and the scores spread out.
struct Weights {
  Tensor values, buffers;
};

Weights calibrated_weights(const config::TrainEvalPipelineConfig& c) {
  RunContext run;
  run.seed = 7;
  const std::unique_ptr<Task> task = create_task(c, run);
  const auto& detector = dynamic_cast<const DetectionTask&>(*task);
  Context ctx = run.inference_context();
  ctx.training = true;
  detector.model().forward(ctx, task->synthetic_batch(2).images);
  return {task->store().values().clone(), task->store().buffer_values().clone()};
}

// `c` with its batchnorm decays at 0.
config::TrainEvalPipelineConfig without_batchnorm_decay(config::TrainEvalPipelineConfig c) {
  config::apply_override(c,
                         "model { ssd { feature_extractor { backbone_batch_norm { decay: 0 } "
                         "conv_hyperparams { batch_norm { decay: 0 } } } box_predictor { "
                         "weight_shared_convolutional_box_predictor { conv_hyperparams { batch_norm { decay: 0 } } "
                         "} } } }",
                         "batchnorm_decay");
  return c;
}

struct DetectRun {
  Detections found;
  DeviceCopyStats copies;
  // On CUDA, the raw outputs post-processed on the device and, copied, on the CPU.
  Detections device_postprocessed, host_postprocessed;
};

DetectRun detect_on(const config::TrainEvalPipelineConfig& c, const Weights& weights, Device device) {
  if (!device.is_cpu()) cuda::register_runtime();
  RunContext run;
  run.seed = 7;
  run.device = device;
  const std::unique_ptr<Task> task = create_task(c, run);
  task->store().values().copy_from(weights.values);
  task->store().buffer_values().copy_from(weights.buffers);
  task->store().bump_version();
  const auto& detector = dynamic_cast<const DetectionTask&>(*task);
  data::Batch b = task->synthetic_batch(2);  // seeded: the same batch on both devices
  // Image 1 as a padded input's (keep_aspect_ratio_resizer): its picture is the top-left part.
  b.annotations[1].true_height_fraction = 0.75f;
  b.annotations[1].true_width_fraction = 0.5f;
  Context ctx = run.inference_context();
  DetectRun r;
  // The first batch folds each batchnorm into its convolution through host copies, once per
  // weight version (nn/conv_bn.cpp); the second shows what every later batch costs.
  detector.detect(ctx, b.images, b.annotations);
  reset_device_copy_stats();
  r.found = detector.detect(ctx, b.images, b.annotations);
  r.copies = device_copy_stats();
  if (!device.is_cpu()) {
    const models::SsdDetector::Output out = detector.model().forward(ctx, b.images.to(device));
    const models::PostprocessOptions o = ssd_postprocess_options(c.model().ssd());
    const std::vector<std::array<float, 4>> windows = {{0.f, 0.f, 1.f, 1.f}, {0.f, 0.f, 0.75f, 0.5f}};
    r.device_postprocessed = models::postprocess_batch(ctx, out.class_logits, out.box_codes,
                                                       detector.model().anchors().to(device), o, windows);
    Context host;
    r.host_postprocessed = models::postprocess_batch(host, out.class_logits.to(Device::cpu()),
                                                     out.box_codes.to(Device::cpu()), detector.model().anchors(), o,
                                                     windows);
  }
  return r;
}

bool same_bits(const Detections& a, const Detections& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].size() != b[i].size()) return false;
    for (size_t d = 0; d < a[i].size(); ++d)
      if (std::memcmp(&a[i][d], &b[i][d], sizeof(models::DetectedBox)) != 0) return false;
  }
  return true;
}

struct Tolerance {
  double score, box;  // absolute
};

// Same count, and detection by detection the same class with score and box within `tol`.
// Returns the largest differences seen.
Tolerance expect_same_detections(const Detections& gpu, const Detections& cpu, Tolerance tol) {
  Tolerance worst{0, 0};
  EXPECT_EQ(gpu.size(), cpu.size());
  for (size_t i = 0; i < std::min(gpu.size(), cpu.size()); ++i) {
    SCOPED_TRACE("image " + std::to_string(i));
    EXPECT_FALSE(cpu[i].empty()) << "nothing detected: the comparison would mean nothing";
    EXPECT_EQ(gpu[i].size(), cpu[i].size());
    for (size_t d = 0; d < std::min(gpu[i].size(), cpu[i].size()); ++d) {
      const models::DetectedBox &g = gpu[i][d], &c = cpu[i][d];
      EXPECT_EQ(g.class_id, c.class_id) << "detection " << d;
      worst.score = std::max(worst.score, std::abs(double(g.score) - c.score));
      EXPECT_NEAR(g.score, c.score, tol.score) << "detection " << d;
      for (int k = 0; k < 4; ++k) {
        worst.box = std::max(worst.box, std::abs(double(g.box[k]) - c.box[k]));
        EXPECT_NEAR(g.box[k], c.box[k], tol.box) << "detection " << d << " coordinate " << k;
      }
      // Image 1's window is [0, 0, 0.75, 0.5].
      if (i == 1) {
        EXPECT_TRUE(g.box[2] <= 0.75f && g.box[3] <= 0.5f) << "detection " << d;
      }
    }
  }
  return worst;
}

// `tol`: the networks' outputs differ in the last bits (oneDNN's summation order against our
// GEMM tiles, swish and depthwise kernels), which moves scores and decoded boxes by that much.
void expect_cuda_detects_as_the_cpu(const config::TrainEvalPipelineConfig& c, const char* model, Tolerance tol) {
  const Weights weights = calibrated_weights(without_batchnorm_decay(c));
  const DetectRun cpu = detect_on(c, weights, Device::cpu());
  const DetectRun gpu = detect_on(c, weights, Device::cuda());
  // Post-processing itself is exact: the device's detections are the CPU's on the same raw
  // outputs, bit for bit (the emulator's expf is the C library's).
  EXPECT_TRUE(same_bits(gpu.device_postprocessed, gpu.host_postprocessed));
  const Tolerance worst = expect_same_detections(gpu.found, cpu.found, tol);
  std::printf("%s: %zu + %zu detections, largest differences: score %.3g, box %.3g\n", model, cpu.found[0].size(),
              cpu.found[1].size(), worst.score, worst.box);
  EXPECT_EQ(cpu.copies.host_to_device + cpu.copies.device_to_host, 0);
  // Up: the images and the two clip windows. Down: boxes, scores, classes and counts.
  EXPECT_EQ(gpu.copies.host_to_device, 2);
  EXPECT_EQ(gpu.copies.device_to_host, 4);
}

// Measured: scores 5.8e-8 and box corners 1.2e-7 apart at most.
TEST(CudaDetection, ReducedSsdDetectsAsTheCpu) { expect_cuda_detects_as_the_cpu(reduced_ssd(), "SSD", {1e-6, 1e-6}); }

// Measured: scores 9.8e-6 and box corners 6e-6 apart at most (swish and the BiFPN's fusions
// in f32 on both sides, summed in different orders).
TEST(CudaDetection, ReducedEfficientDetDetectsAsTheCpu) {
  expect_cuda_detects_as_the_cpu(reduced_efficientdet(), "EfficientDet", {5e-5, 5e-5});
}

TEST(CudaDetection, SoftNmsIsRefusedOnCudaNamingTheConfigField) {
  config::TrainEvalPipelineConfig c = reduced_ssd();
  config::apply_override(c, "model { ssd { post_processing { batch_non_max_suppression { soft_nms_sigma: 0.5 } } } }",
                         "soft_nms");
  cuda::register_runtime();
  RunContext run;
  run.seed = 7;
  run.device = Device::cuda();
  const std::unique_ptr<Task> task = create_task(c, run);
  const data::Batch b = task->synthetic_batch(1);
  Context ctx = run.inference_context();
  try {
    dynamic_cast<const DetectionTask&>(*task).detect(ctx, b.images, b.annotations);
    FAIL() << "soft-NMS on CUDA must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("post_processing.batch_non_max_suppression.soft_nms_sigma"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace trainer::tasks
