// Whole training steps on device CUDA (the emulated kernels in this build) against the same
// steps on the CPU: a reduced ResNet-50 v1.5 classifier and a reduced SSD ResNet-FPN train 3
// steps from the same initial weights on the same batches; losses, gradients, weights and
// batchnorm statistics must agree within the tolerances below. Also holds a step to its
// host<->device copy budget (every copy is an explicit Tensor::to / copy_from).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "trainer/config/config.h"
#include "trainer/core/allocator.h"
#include "trainer/kernels/cuda/runtime.h"
#include "trainer/tasks/data_batch.h"
#include "trainer/tasks/task.h"

namespace trainer::tasks {
namespace {

std::string source(const std::string& path) {
  const char* root = std::getenv("TRAINER_SOURCE_DIR");
  return (root ? std::string(root) + "/" : std::string()) + path;
}

// ResNet-50 v1.5's bottleneck stages at 1/16 width, one block each, on 32x32 images.
config::TrainEvalPipelineConfig reduced_resnet() {
  return config::parse_pipeline_text(R"pb(
    model {
      classifier {
        num_classes: 10
        image_size: 32
        resnet { width: 4 blocks_per_stage: [1, 1, 1, 1] }
        label_smoothing: 0.1
        weight_decay { value: 0.0001 }
      }
    }
    train_config { batch_size: 4 }
  )pb", "reduced_resnet");
}

// The overfit test's reduced SSD (ResNet-FPN, weight-shared heads, focal loss) at 128x128.
config::TrainEvalPipelineConfig reduced_ssd() {
  config::TrainEvalPipelineConfig c = config::load_pipeline_config(source("tests/tasks/data/coco_overfit.pbtxt"));
  config::apply_override(c, "model { ssd { image_resizer { fixed_shape_resizer { height: 128 width: 128 } } } }",
                         "reduced_ssd");
  return c;
}

struct StepRecord {
  double loss = 0;
  std::vector<float> grads;
};

struct TrainingRun {
  std::vector<StepRecord> steps;
  std::vector<float> weights, buffers;
  std::vector<DeviceCopyStats> copies;  // per step
};

TrainingRun train(const config::TrainEvalPipelineConfig& c, Device device, int steps, int64_t batch_size) {
  if (!device.is_cpu()) cuda::register_runtime();
  RunContext run;
  run.seed = 7;
  run.device = device;
  const std::unique_ptr<Task> task = create_task(c, run);
  train::TrainerOptions o;
  o.schedule.kind = train::LearningRateSchedule::Kind::Constant;
  o.schedule.base = 0.001;
  o.optimizer.momentum = 0.9;
  task->configure(o);
  MetricsLog log;
  train::Trainer trainer(*task, o, log);
  TrainingRun r;
  for (int s = 0; s < steps; ++s) {
    data::Batch b = task->synthetic_batch(batch_size);  // seeded: the same batch on both devices
    reset_device_copy_stats();
    const train::StepResult result = trainer.step(DataBatch(std::move(b)));
    r.copies.push_back(device_copy_stats());
    EXPECT_TRUE(result.applied);
    r.steps.push_back({result.loss, task->store().grads().to_floats()});
  }
  r.weights = task->store().values().to_floats();
  r.buffers = task->store().buffer_values().to_floats();
  return r;
}

// ||a - b|| / ||b||: rounding differences spread over a tensor, not one element near a kink
// (a ReLU at 0, a max-pool tie), which may legitimately flip between backends.
double norm_error(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0, n = 1e-30;
  for (size_t i = 0; i < b.size() && i < a.size(); ++i) {
    d += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    n += double(b[i]) * b[i];
  }
  return std::sqrt(d / n);
}

struct Tolerances {
  double loss, gradients, weights;
};

void expect_same_training(const TrainingRun& gpu, const TrainingRun& cpu, const Tolerances& tol) {
  ASSERT_EQ(gpu.steps.size(), cpu.steps.size());
  for (size_t s = 0; s < cpu.steps.size(); ++s) {
    SCOPED_TRACE("step " + std::to_string(s + 1));
    const double g = norm_error(gpu.steps[s].grads, cpu.steps[s].grads);
    std::printf("step %zu: loss %.9g (CUDA) vs %.9g (CPU), gradients' relative error %.3g\n", s + 1, gpu.steps[s].loss,
                cpu.steps[s].loss, g);
    EXPECT_NEAR(gpu.steps[s].loss, cpu.steps[s].loss, tol.loss * std::abs(cpu.steps[s].loss));
    EXPECT_LE(g, tol.gradients);
  }
  const double w = norm_error(gpu.weights, cpu.weights), b = norm_error(gpu.buffers, cpu.buffers);
  std::printf("after %zu steps: weights' relative error %.3g, batchnorm statistics' %.3g\n", cpu.steps.size(), w, b);
  EXPECT_LE(w, tol.weights);
  EXPECT_LE(b, tol.weights);
}

// The learning rate is small because these tiny networks (4 channels in the first stage, batch
// 4) amplify rounding differences step by step: at lr 0.05 the CPU backend itself, with its
// weights perturbed by 1e-6 after step 1, ends step 3 with gradients 1% away, and from equal
// weights each step's CUDA gradients still match the CPU's to 4e-5. At lr 0.001 the three
// steps stay in the regime where the comparison means something.
TEST(CudaStep, ReducedResnet50MatchesTheCpuFor3Steps) {
  const auto c = reduced_resnet();
  const TrainingRun cpu = train(c, Device::cpu(), 3, 4);
  const TrainingRun gpu = train(c, Device::cuda(), 3, 4);
  // f32 throughout; the backends sum in different orders (oneDNN's blocking vs our GEMM tiles).
  // Measured: losses 3e-5 apart, gradients 4.5e-4 and weights 1e-6 after 3 steps.
  expect_same_training(gpu, cpu, {2e-4, 3e-3, 2e-5});
  for (size_t s = 0; s < cpu.copies.size(); ++s) {
    SCOPED_TRACE("step " + std::to_string(s + 1));
    EXPECT_EQ(cpu.copies[s].host_to_device + cpu.copies[s].device_to_host, 0);
    // Up: images, labels, the loss-scale seed of backward. Down: the loss (logged), the
    // upstream gradient the cross-entropy backward scales by, the finite flag + gradient norm.
    // Step 1 also uploads the optimizer's momentum and segment table.
    EXPECT_EQ(gpu.copies[s].host_to_device, s == 0 ? 5 : 3);
    EXPECT_EQ(gpu.copies[s].device_to_host, 3);
  }
}

TEST(CudaStep, ReducedSsdMatchesTheCpuFor3Steps) {
  const auto c = reduced_ssd();
  const TrainingRun cpu = train(c, Device::cpu(), 3, 2);
  const TrainingRun gpu = train(c, Device::cuda(), 3, 2);
  // Measured: losses 1e-7 apart, gradients 7e-6 and weights 3e-9 after 3 steps.
  expect_same_training(gpu, cpu, {1e-5, 1e-4, 1e-6});
  for (size_t s = 0; s < cpu.copies.size(); ++s) {
    SCOPED_TRACE("step " + std::to_string(s + 1));
    // Up: images, the four target tensors (assigned on the host), the seed. Down: the loss and
    // the finite flag + gradient norm (the losses' backward reads its scale on the device).
    EXPECT_EQ(gpu.copies[s].host_to_device, s == 0 ? 8 : 6);
    EXPECT_EQ(gpu.copies[s].device_to_host, 2);
  }
}

}  // namespace
}  // namespace trainer::tasks
