// The trainer executable as users meet it: the contracts of src/cli/README.md and errors for
// people.
#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <regex>
#include <thread>

#include "run_trainer.h"

namespace trainer::testing {
namespace {

const std::string kDemo = "configs/demo/fashion_mnist_resnet.pbtxt";

TEST(Cli, SummaryPrintsResnet50ParameterCount) {
  const auto scratch = scratch_dir("summary");
  RunResult r = run_trainer({"--config", "configs/resnet50_v1_5.pbtxt", "--mode", "summary"}, scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\nparameters: 25557032\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("layer4.2.conv3.conv"), std::string::npos);
  EXPECT_NE(r.out.find("[1,7,7,2048]"), std::string::npos) << "output shapes are listed";
  std::filesystem::remove_all(scratch);
}

TEST(Cli, ConfigSyntaxErrorSaysFileLineColumn) {
  const auto scratch = scratch_dir("syntax");
  const auto bad = scratch / "bad.pbtxt";
  std::ofstream(bad) << "model {\n  classifier {\n    num_classes: ten\n  }\n}\n";
  RunResult r = run_trainer({"--config", bad.string()}, scratch);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(bad.string() + ":3:18"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  std::filesystem::remove_all(scratch);
}

// NVIDIA's SSD320 config, read unchanged: 32,840,570 parameters, counted by hand from the
// architecture (src/tasks/README.md): ResNet-50 without its classifier 23,508,032; FPN laterals
// (512 + 1024 + 2048) x 256 + 3 x 256 = 918,272; smoothing P3, P4 and extra P6, P7:
// 4 x (3 x 3 x 256 x 256 + 2 x 256) = 2,361,344; predictor towers 2 x (4 x 589,824 + 5 levels x
// 4 x 512) = 4,739,072, box head 9 x 256 x 24 + 24 = 55,320, class head 9 x 256 x 546 + 546 =
// 1,258,530.
TEST(Cli, Ssd320ConfigSummaryCountsTheParameters) {
  const auto scratch = scratch_dir("ssd320");
  RunResult r = run_trainer({"--config", "configs/tfod/ssd320_full_8gpus.config", "--mode", "summary"}, scratch);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\nparameters: 32840570\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("predictor.class_head"), std::string::npos) << r.out;
  std::filesystem::remove_all(scratch);
}

TEST(Cli, UsageErrors) {
  const auto scratch = scratch_dir("usage");
  RunResult none = run_trainer({}, scratch);
  EXPECT_EQ(none.status, 1);
  EXPECT_NE(none.err.find("--config is required"), std::string::npos) << none.err;
  RunResult mode = run_trainer({"--config", kDemo, "--mode", "fly"}, scratch);
  EXPECT_EQ(mode.status, 1);
  EXPECT_NE(mode.err.find("--mode fly: expected one of"), std::string::npos) << mode.err;
  RunResult missing = run_trainer({"--config", "no/such.pbtxt"}, scratch);
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("no/such.pbtxt"), std::string::npos) << missing.err;
  RunResult help = run_trainer({"--help"}, scratch);
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("usage: trainer --config"), std::string::npos);
  std::filesystem::remove_all(scratch);
}

std::vector<std::string> tiny(const std::filesystem::path& dir, int steps) {
  return {"--config", kDemo, "--override",
          "model { classifier { resnet { width: 8 } } } train_config { batch_size: 16 num_steps: " +
              std::to_string(steps) + " } eval_config { batch_size: 2000 }",
          "--override", "runtime { model_dir: \"" + dir.string() + "\" log_every_n_steps: 1 }"};
}

TEST(Cli, TrainLogsJsonLinesThenEvalAndPredictUseTheCheckpoint) {
  const auto scratch = scratch_dir("train");
  auto args = tiny(scratch / "model", 4);
  args.insert(args.end(), {"--log-json", (scratch / "log.json").string()});
  RunResult t = run_trainer(args, scratch);
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_TRUE(std::regex_search(t.out, std::regex("top1: 0\\.\\d{4}\ntop5: 0\\.\\d{4}\n"))) << t.out;
  const std::string log = slurp(scratch / "log.json");
  EXPECT_NE(log.find("{\"type\": \"LOG\", \"step\": 4, \"data\": {"), std::string::npos) << log;
  for (const char* key : {"\"loss\": ", "\"lr\": ", "\"loss_scale\": ", "\"train.imgs_per_sec\": ", "\"top1\": ",
                          "\"top5\": ", "\"parameters\": "})
    EXPECT_NE(log.find(key), std::string::npos) << key;
  EXPECT_NE(log.find("{\"type\": \"METRIC\", \"step\": [], \"data\": {"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(scratch / "model" / "pipeline.pbtxt")) << "resolved config beside checkpoints";
  // The loss curve: a row per log step in loss_history.csv, drawn into loss.png; no
  // precision-recall curves for a classifier.
  const std::string history = slurp(scratch / "model" / "loss_history.csv");
  EXPECT_TRUE(std::regex_match(history, std::regex("step,loss,lr\n1,[-0-9.e]+,[-0-9.e]+\n2,.*\n3,.*\n4,.*\n")))
      << history;
  EXPECT_EQ(slurp(scratch / "model" / "loss.png").substr(0, 8), "\x89PNG\r\n\x1a\n");
  EXPECT_NE(t.err.find("loss curve: " + (scratch / "model" / "loss.png").string()), std::string::npos) << t.err;

  RunResult e = run_trainer({"--config", kDemo, "--mode", "eval", "--override",
                             "model { classifier { resnet { width: 8 } } } eval_config { batch_size: 2000 }",
                             "--override", "runtime { model_dir: \"" + (scratch / "model").string() + "\" }"},
                            scratch);
  ASSERT_EQ(e.status, 0) << e.err;
  EXPECT_EQ(e.out.substr(e.out.find("top1")), t.out.substr(t.out.find("top1"))) << "eval of the checkpoint repeats "
                                                                                    "the end-of-training numbers";
  EXPECT_NE(e.err.find("eval: loss curve written to " + (scratch / "model" / "loss.png").string()), std::string::npos)
      << e.err;
  for (const auto& entry : std::filesystem::directory_iterator(scratch / "model"))
    EXPECT_EQ(entry.path().filename().string().find("pr_curves"), std::string::npos) << entry.path();
  RunResult p = run_trainer({"--config", kDemo, "--mode", "predict", "--checkpoint",
                             (scratch / "model" / "ckpt-000000004.safetensors").string(), "--override",
                             "model { classifier { resnet { width: 8 } } }", "tests/data/fixtures/000000289393.jpg"},
                            scratch);
  ASSERT_EQ(p.status, 0) << p.err;
  EXPECT_TRUE(std::regex_search(p.out, std::regex("000000289393\\.jpg:( \\d \\(0\\.\\d{4}\\)){5}\n"))) << p.out;
  std::filesystem::remove_all(scratch);
}

// Benchmark mode: warm-up steps are not counted; every measured step is its own LOG record (the
// scripts under scripts/bench/ take medians and spreads from them), and the METRIC record and
// the stdout lines give the means.
TEST(Cli, BenchmarkLogsEveryMeasuredStepThenTheMeans) {
  const auto scratch = scratch_dir("benchmark");
  RunResult r = run_trainer({"--config", kDemo, "--mode", "benchmark", "--log-json", (scratch / "log.json").string(),
                             "--override",
                             "model { classifier { resnet { width: 8 } } } train_config { batch_size: 16 } "
                             "benchmark { warmup_steps: 2 steps: 3 inference_warmup_steps: 1 inference_steps: 4 "
                             "synthetic_data: true }"},
                            scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  // What the CPU offers and what its 3x3 convolutions get, on stderr before anything runs.
  EXPECT_TRUE(std::regex_search(r.err, std::regex("cpu: \\w+ \\(oneDNN \\d+\\.\\d+\\.\\d+\\), cpu_conv_algorithm "
                                                  "WINOGRAD \\(3x3 stride-1 convolutions run \\S+\\)")))
      << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("model: .* threads \\d+  processes 1\n"))) << r.out;
  for (const char* line : {"\ntrain imgs/sec: \\d+\\.\\d{3}\n", "\ninfer imgs/sec: \\d+\\.\\d{3}\n",
                           "\ninfer latency ms: p50 \\d+\\.\\d{3} p90 \\d+\\.\\d{3} p99 \\d+\\.\\d{3}\n",
                           "\npeak RSS MiB: \\d+\\.\\d \\(after training \\d+\\.\\d\\)\n"})
    EXPECT_TRUE(std::regex_search("\n" + r.out, std::regex(line))) << line << "\n" << r.out;
  const std::string log = slurp(scratch / "log.json");
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("{\"type\": \"LOG\", \"step\": "), 3u + 4u) << log;
  EXPECT_EQ(count("{\"type\": \"LOG\", \"step\": 3, \"data\": {\"train.imgs_per_sec\": "), 1u) << log;
  EXPECT_EQ(count("{\"type\": \"LOG\", \"step\": 1, \"data\": {"), 0u) << "warm-up steps are not logged\n" << log;
  EXPECT_EQ(count("\"infer.latency_ms\": "), 4u) << log;
  for (const char* key : {"\"train.imgs_per_sec\": ", "\"infer.imgs_per_sec\": ", "\"infer.latency_ms.p50\": ",
                          "\"peak_rss_mib\": ", "\"parameters\": "})
    EXPECT_NE(log.find(key, log.find("\"type\": \"METRIC\"")), std::string::npos) << key << "\n" << log;
  EXPECT_EQ(r.out.find("per-layer"), std::string::npos) << "benchmark.per_layer is off by default\n" << r.out;
  std::filesystem::remove_all(scratch);
}

// benchmark { per_layer: true }: one line per layer, in network order (the order --mode summary
// lists them), the loss, the ops between layers and the phases outside them on lines of their own; no
// time is negative and the shares add up to the step.
TEST(Cli, BenchmarkPerLayerTimesEveryLayerOnceInNetworkOrder) {
  const auto scratch = scratch_dir("per-layer");
  const std::string model = "model { classifier { resnet { width: 8 } } } train_config { batch_size: 8 } ";
  RunResult summary = run_trainer({"--config", kDemo, "--mode", "summary", "--override", model}, scratch);
  ASSERT_EQ(summary.status, 0) << summary.err;
  std::vector<std::string> layers;
  const std::regex summary_row("\n(\\S+) +(Conv2d|BatchNorm|Linear) ");
  for (std::sregex_iterator it(summary.out.begin(), summary.out.end(), summary_row), end; it != end; ++it)
    layers.push_back((*it)[1]);
  ASSERT_GT(layers.size(), 10u) << summary.out;

  RunResult r = run_trainer({"--config", kDemo, "--mode", "benchmark", "--override",
                             model + "benchmark { warmup_steps: 1 steps: 2 inference_warmup_steps: 0 "
                                     "inference_steps: 1 per_layer: true }"},
                            scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  const size_t table = r.out.find("\nlayer ");
  const size_t outside = r.out.find("\noutside the layers:\n");
  const size_t step = r.out.find("\nstep (the sum of the lines) ");
  ASSERT_TRUE(table != std::string::npos && outside != std::string::npos && step != std::string::npos) << r.out;
  const std::string number = " +(-?\\d+\\.\\d+)";
  std::vector<std::string> timed;
  double shares = 0;
  int lines = 0;
  const std::string rows = r.out.substr(table, step - table);
  const std::regex layer_row("\n(\\S.*?) +(\\d+)" + number + number + number + number + "  (ops: )?(\\S.*)");
  const std::regex outside_row("\n(\\S.*?)" + number + number);
  for (std::sregex_iterator it(rows.begin(), rows.end(), layer_row), end; it != end; ++it) {
    const std::smatch& m = *it;
    for (int k = 3; k <= 6; ++k) EXPECT_GE(std::stod(m[k]), 0.0) << m[0];
    EXPECT_NEAR(std::stod(m[3]) + std::stod(m[4]), std::stod(m[5]), 0.002) << "forward + backward = total: " << m[0];
    shares += std::stod(m[6]);
    ++lines;
    if (m[7].matched) EXPECT_EQ(m[1].str().rfind("after ", 0), 0u) << "ops between layers: " << m[0];
    else if (m[1] != "loss") timed.push_back(m[1]);
  }
  const std::string outside_rows = r.out.substr(outside + 21, step - outside - 21);
  for (std::sregex_iterator it(outside_rows.begin(), outside_rows.end(), outside_row), end; it != end; ++it) {
    EXPECT_GE(std::stod((*it)[2]), 0.0) << (*it)[0];
    shares += std::stod((*it)[3]);
    ++lines;
  }
  EXPECT_EQ(timed, layers) << r.out;
  EXPECT_TRUE(std::regex_search(rows, std::regex("\\nloss +1 .* SoftmaxCrossEntropy\\n"))) << rows;
  EXPECT_NE(outside_rows.find("optimizer"), std::string::npos) << outside_rows;
  EXPECT_NEAR(shares, 100.0, 0.005 * lines + 0.01) << r.out;  // each share is rounded to 0.01
  EXPECT_NE(r.out.find("\nby module "), std::string::npos) << r.out;
  std::filesystem::remove_all(scratch);
}

#if TRAINER_HAS_CUDA_KERNELS
// On CUDA the kernels run asynchronously and host-side times would be launch times: refused,
// before anything runs (the emulated kernels are synchronous, but a real GPU's are not).
TEST(Cli, BenchmarkPerLayerIsRefusedOnCuda) {
  const auto scratch = scratch_dir("per-layer-cuda");
  RunResult r = run_trainer({"--config", kDemo, "--mode", "benchmark", "--override",
                             "runtime { device: CUDA } benchmark { per_layer: true }"},
                            scratch);
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("benchmark.per_layer: per-layer times are measured on the CPU only"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.out.find("train imgs/sec"), std::string::npos) << r.out;
  std::filesystem::remove_all(scratch);
}
#endif

TEST(Cli, DirectConvolutionsNeverRunWinograd) {
  const auto scratch = scratch_dir("direct");
  RunResult r = run_trainer({"--config", kDemo, "--mode", "summary", "--override",
                             "runtime { cpu_conv_algorithm: DIRECT }"},
                            scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  const size_t at = r.err.find("cpu_conv_algorithm DIRECT (3x3 stride-1 convolutions run ");
  ASSERT_NE(at, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("wino", at), std::string::npos) << r.err;
  std::filesystem::remove_all(scratch);
}

// --mode summary shows the precision policy per layer: under --amp on the CPU (BF16) the
// convolutions compute and store bf16, batchnorm computes its statistics in f32 and stores bf16,
// and the start-up log says how this CPU runs bf16.
TEST(Cli, SummaryPrintsEachLayersPrecision) {
  const auto scratch = scratch_dir("precision-table");
  RunResult r = run_trainer({"--config", kDemo, "--mode", "summary", "--amp"}, scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("layer +type +output +compute +stored +params +FLOPs\n")))
      << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("backbone.conv1.conv +Conv2d +\\[1,28,28,16\\] +bf16 +bf16 ")))
      << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("backbone.conv1.bn +BatchNorm +\\[1,28,28,16\\] +f32 +bf16 ")))
      << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("fc +Linear +\\[1,10\\] +bf16 +bf16 "))) << r.out;
  EXPECT_NE(r.out.find("precision BF16: convolutions and matmuls bf16 with f32 accumulation"), std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("cpu: bf16 convolutions and matmuls use "), std::string::npos) << r.err;
  std::filesystem::remove_all(scratch);
}

// oneDNN 2.x has no fp16 convolutions on CPUs: FP16 there is refused with the reason and the way out.
TEST(Cli, Fp16OnTheCpuIsRefusedWithTheReason) {
  const auto scratch = scratch_dir("fp16-cpu");
  RunResult r = run_trainer({"--config", kDemo, "--mode", "summary", "--override", "precision { compute_dtype: FP16 }"},
                            scratch);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("precision.compute_dtype FP16 needs runtime.device CUDA: this build's oneDNN ("),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("use BF16 on the CPU"), std::string::npos) << r.err;
  std::filesystem::remove_all(scratch);
}

TEST(Cli, CheckpointOfAnotherModelListsTheMismatchedTensors) {
  const auto scratch = scratch_dir("mismatch");
  RunResult t = run_trainer(tiny(scratch / "model", 1), scratch);
  ASSERT_EQ(t.status, 0) << t.err;
  RunResult e = run_trainer({"--config", kDemo, "--mode", "eval", "--override",
                             "model { classifier { resnet { width: 16 } num_classes: 12 } }", "--override",
                             "runtime { model_dir: \"" + (scratch / "model").string() + "\" }"},
                            scratch);
  EXPECT_EQ(e.status, 1);
  EXPECT_NE(e.err.find("does not fit this model"), std::string::npos) << e.err;
  EXPECT_NE(e.err.find("mis-shaped: "), std::string::npos) << e.err;
  EXPECT_NE(e.err.find("backbone.conv1.conv.weight (f32[8,3,3,1] in the file, f32[16,3,3,1] in the model)"),
            std::string::npos)
      << e.err;
  std::filesystem::remove_all(scratch);
}

TEST(Cli, DivergingLossStopsWithAClearErrorAndKeepsTheWeightsFinite) {
  const auto scratch = scratch_dir("nan");
  auto args = tiny(scratch / "model", 40);
  args.insert(args.end(), {"--override", "train_config { optimizer { momentum_optimizer { learning_rate { "
                                         "cosine_decay_learning_rate { learning_rate_base: 1e30 warmup_steps: 0 } } } } }"});
  RunResult r = run_trainer(args, scratch);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("training diverged"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("update skipped"), std::string::npos) << r.err;
  // It says where it started: the first bad batch run again with every op checked.
  const std::regex started("where it started: (forward: the output|backward: the gradient) (of|from) [a-z_0-9]+ "
                           "(in layer [a-z0-9_.]+|after layer [a-z0-9_.]+|before the first layer|after the last "
                           "layer \\(in the loss\\)) has [0-9]+ of [0-9]+ values not finite");
  EXPECT_TRUE(std::regex_search(r.err, started)) << r.err;

  // With runtime.check_numerics the first non-finite op stops the run at once, named.
  args.insert(args.end(), {"--override", "runtime { check_numerics: true }"});
  RunResult checked = run_trainer(args, scratch);
  EXPECT_EQ(checked.status, 1);
  const std::regex named("error: check_numerics: step [0-9]+: (forward: the output|backward: the gradient) (of|from) "
                         "[a-z_0-9]+ (in layer [a-z0-9_.]+|after layer [a-z0-9_.]+|before the first layer|after the last "
                         "layer \\(in the loss\\)) has");
  EXPECT_TRUE(std::regex_search(checked.err, named)) << checked.err;
  EXPECT_EQ(checked.err.find("update skipped"), std::string::npos) << checked.err;
  std::filesystem::remove_all(scratch);
}

// A batch far beyond the machine's memory fails before the first step, with the estimate, the
// limit and the batch that would fit, instead of meeting the OOM killer mid-run.
TEST(Cli, ABatchThatCannotFitFailsAtStartUpWithTheEstimateAndTheLimit) {
  const auto scratch = scratch_dir("oom");
  auto args = tiny(scratch / "model", 2);
  args.insert(args.end(), {"--override", "train_config { batch_size: 100000000 }"});
  RunResult r = run_trainer(args, scratch);
  EXPECT_EQ(r.status, 1);
  const std::regex refused("error: batch 100000000 needs about [0-9.]+ [GM]iB of memory \\([0-9.]+ [GM]iB per image in "
                           "a step\\), more than the [0-9.]+ [GM]iB available \\((MemAvailable|cgroup [a-z_.]+)\\): "
                           "the largest batch that fits is about [0-9]+\\. Lower train_config.batch_size");
  EXPECT_TRUE(std::regex_search(r.err, refused)) << r.err;
  EXPECT_EQ(r.err.find("step 1/"), std::string::npos) << r.err;

  // A batch that fits says what it will take.
  RunResult fits = run_trainer(tiny(scratch / "model", 2), scratch);
  ASSERT_EQ(fits.status, 0) << fits.err;
  EXPECT_TRUE(std::regex_search(fits.err, std::regex("memory: about [0-9.]+ [GM]iB for batch [0-9]+ \\(")))
      << fits.err;
  std::filesystem::remove_all(scratch);
}

TEST(Cli, SigtermSavesACheckpointAndARerunResumes) {
  const auto scratch = scratch_dir("sigterm");
  const auto dir = scratch / "model";
  std::string cmd = "cd " + quote(std::getenv("TRAINER_SOURCE_DIR")) + " && exec " + quote(TRAINER_EXECUTABLE);
  for (const std::string& a : tiny(dir, 100000)) cmd += " " + quote(a);
  cmd += " > /dev/null 2> " + quote((scratch / "err.txt").string());
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until a few steps have been logged, then ask it to stop.
  for (int i = 0; i < 600 && slurp(scratch / "err.txt").find("step 3/") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << slurp(scratch / "err.txt");
  int checkpoints = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) checkpoints += e.path().extension() == ".safetensors";
  EXPECT_EQ(checkpoints, 1);
  RunResult again = run_trainer(tiny(dir, 0 + 6), scratch);  // 6 steps in all: finishes what is left
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.err.find("resumed from"), std::string::npos) << again.err;
  std::filesystem::remove_all(scratch);
}

}  // namespace
}  // namespace trainer::testing

#include "trainer/data/idx_dataset.h"
#include "trainer/train/checkpoint.h"
#include "trainer/train/safetensors.h"
#include "trainer/data/tfrecord_dataset.h"

namespace trainer::testing {
namespace {

// NVIDIA's input format end to end: tf.train.Example TFRecords (PNG-encoded Fashion-MNIST
// here), read by glob, trained on and evaluated through the executable.
TEST(Cli, TrainsAndEvaluatesFromTFRecords) {
  const auto scratch = scratch_dir("tfrecord");
  const auto files = data::write_tfrecords(data::IdxDataset::fashion_mnist(false), (scratch / "fm").string(), 2);
  ASSERT_EQ(files.size(), 2u);
  const std::string reader =
      "tf_record_input_reader { input_path: \"" + (scratch / "fm-*").string() + "\" }";
  RunResult r = run_trainer({"--config", kDemo, "--override",
                             "model { classifier { resnet { width: 8 } } } train_config { batch_size: 16 num_steps: 3 } "
                             "eval_config { batch_size: 1000 }",
                             "--override", "train_input_reader { " + reader + " } eval_input_reader { " + reader + " }",
                             "--override", "runtime { model_dir: \"" + (scratch / "model").string() + "\" }"},
                            scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("TFRecord"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("images: 10000"), std::string::npos) << r.out;
  std::filesystem::remove_all(scratch);
}

}  // namespace
}  // namespace trainer::testing

namespace trainer::testing {
namespace {

// A reduced ResNet-50 v1.5 on synthetic 32x32 images, 3 steps, checkpointed in `dir`, in
// `precision` ("" = the config's default, TF32).
std::vector<std::string> synthetic_resnet(const std::filesystem::path& dir, const std::string& device,
                                          const std::string& precision = "FP32") {
  const auto config = dir.parent_path() / "synthetic_resnet.pbtxt";
  std::ofstream(config) << R"pb(
    model { classifier { num_classes: 10 image_size: 32 resnet { width: 8 blocks_per_stage: [1, 1, 1, 1] } } }
    train_input_reader { synthetic_input_reader { num_examples: 64 } }
    eval_input_reader { synthetic_input_reader { num_examples: 32 } }
    train_config {
      batch_size: 8
      num_steps: 3
      optimizer {
        momentum_optimizer {
          learning_rate { constant_learning_rate { learning_rate: 0.001 } }
          momentum_optimizer_value: 0.9
        }
        use_moving_average: false
      }
    }
    eval_config { batch_size: 16 }
  )pb";
  std::vector<std::string> args = {
      "--config", config.string(), "--override",
      "runtime { device: " + device + " log_every_n_steps: 1 model_dir: \"" + dir.string() + "\" }"};
  if (!precision.empty()) args.insert(args.end(), {"--override", "precision { compute_dtype: " + precision + " }"});
  return args;
}

// The last logged step's loss ("step 3/3  loss 2.3456").
double last_loss(const RunResult& r) {
  const std::regex loss("step 3/3  loss (\\d+\\.\\d+)");
  std::smatch m;
  EXPECT_TRUE(std::regex_search(r.err, m, loss)) << r.err;
  return m.empty() ? 0 : std::stod(m[1].str());
}

// use_moving_average keeps the weights' EMA in the checkpoint; eval_config.use_moving_averages
// evaluates with it (different numbers from the raw weights after 3 steps at decay 0.5), and asks
// for it in vain, with the way out, from a checkpoint trained without one.
TEST(Cli, EvalUsesTheMovingAverageOfTheWeightsWhenAsked) {
  const auto scratch = scratch_dir("ema");
  auto with = [](std::vector<std::string> args, const std::string& text) {
    args.insert(args.end(), {"--override", text});
    return args;
  };
  const std::string ema = "train_config { optimizer { use_moving_average: true moving_average_decay: 0.5 } }";
  RunResult train = run_trainer(with(synthetic_resnet(scratch / "ema", "CPU"), ema), scratch);
  ASSERT_EQ(train.status, 0) << train.err;
  auto eval = with(synthetic_resnet(scratch / "ema", "CPU"), ema);
  eval.insert(eval.end(), {"--mode", "eval"});
  RunResult raw = run_trainer(eval, scratch);
  ASSERT_EQ(raw.status, 0) << raw.err;
  RunResult averaged = run_trainer(with(eval, "eval_config { use_moving_averages: true }"), scratch);
  ASSERT_EQ(averaged.status, 0) << averaged.err;
  EXPECT_NE(averaged.err.find("moving average of the weights"), std::string::npos) << averaged.err;
  // Top-1 on 32 images moves in steps of 1/32 and can coincide (it did under ASan's code
  // generation); the predicted probabilities say which weights ran.
  auto predict = with(with(synthetic_resnet(scratch / "ema", "CPU"), ema), "eval_config { use_moving_averages: true }");
  predict.insert(predict.end(), {"--mode", "predict", "tests/data/fixtures/000000289393.jpg"});
  RunResult predicted_averaged = run_trainer(predict, scratch);
  predict.insert(predict.end() - 3, {"--override", "eval_config { use_moving_averages: false }"});
  RunResult predicted_raw = run_trainer(predict, scratch);
  ASSERT_EQ(predicted_averaged.status, 0) << predicted_averaged.err;
  ASSERT_EQ(predicted_raw.status, 0) << predicted_raw.err;
  EXPECT_NE(predicted_averaged.out, predicted_raw.out);
  EXPECT_NE(train::read_safetensors(*train::CheckpointManager((scratch / "ema").string(), 1).latest())
                .tensors.count("optimizer.moving_average"),
            0u);

  RunResult plain = run_trainer(synthetic_resnet(scratch / "plain", "CPU"), scratch);
  ASSERT_EQ(plain.status, 0) << plain.err;
  auto plain_eval = with(synthetic_resnet(scratch / "plain", "CPU"), "eval_config { use_moving_averages: true }");
  plain_eval.insert(plain_eval.end(), {"--mode", "eval"});
  RunResult refused = run_trainer(plain_eval, scratch);
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("has no moving average of the weights"), std::string::npos) << refused.err;
  std::filesystem::remove_all(scratch);
}

// `mpirun -np 2 trainer --config X`: two ranks average their gradients; rank 0 alone logs each
// step, writes the checkpoint and evaluates the whole eval split; the training data is split
// between the ranks. A rank launched with a different config stops the job at start-up, naming
// the line.
TEST(Cli, MpirunTrainsWithTwoRanksAndRankZeroWrites) {
  const auto scratch = scratch_dir("mpirun");
  auto args = synthetic_resnet(scratch / "model", "CPU");
  args.insert(args.end(), {"--override", "runtime { num_threads: 1 }", "--log-json", (scratch / "log.json").string()});
  RunResult r = run_command(mpirun(2) + trainer_command(args), scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("[rank 0] data parallel: MPI (Open MPI"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rank 0 of 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("4 batches of 8 per epoch on rank 0 of 2"), std::string::npos) << r.err;  // 64 images / 2
  size_t steps = 0;
  for (size_t at = r.err.find("step 3/3"); at != std::string::npos; at = r.err.find("step 3/3", at + 1)) ++steps;
  EXPECT_EQ(steps, 1u) << r.err;
  EXPECT_EQ(r.out.find("top1"), r.out.rfind("top1")) << r.out;
  EXPECT_NE(r.out.find("images: 32"), std::string::npos) << r.out;  // the whole eval split
  EXPECT_TRUE(train::CheckpointManager((scratch / "model").string(), 1).latest().has_value());
  const std::string json = slurp(scratch / "log.json");
  EXPECT_NE(json.find("\"loss\""), std::string::npos) << json;

  auto other = synthetic_resnet(scratch / "model2", "CPU");
  other.insert(other.end(), {"--override", "train_config { batch_size: 4 }"});
  RunResult mismatch = run_command(mpirun(1) + trainer_command(synthetic_resnet(scratch / "model2", "CPU")) + " : -np 1 " +
                                       trainer_command(other),
                                   scratch);
  EXPECT_NE(mismatch.status, 0);
  EXPECT_NE(mismatch.err.find("rank 1's resolved config differs from rank 0's at line"), std::string::npos)
      << mismatch.err;
  EXPECT_NE(mismatch.err.find("batch_size: 4"), std::string::npos) << mismatch.err;
  std::filesystem::remove_all(scratch);
}

#if TRAINER_HAS_CUDA_KERNELS && TRAINER_HAS_NCCL
// `device: CUDA` under mpirun: the gradients go through NCCL (where the kernels are emulated, its
// stand-in over MPI) in buckets, and the run matches the same job on the CPU step by step.
TEST(Cli, MpirunOnCudaAveragesThroughNcclLikeTheCpu) {
  const auto scratch = scratch_dir("mpirun-nccl");
  std::map<std::string, RunResult> runs;
  for (const std::string device : {"CUDA", "CPU"}) {
    auto args = synthetic_resnet(scratch / device, device);
    args.insert(args.end(), {"--override", "runtime { num_threads: 1 allreduce_bucket_mb: 0.01 }"});
    runs[device] = run_command(mpirun(2) + trainer_command(args), scratch);
    ASSERT_EQ(runs[device].status, 0) << runs[device].err;
  }
  EXPECT_NE(runs["CUDA"].err.find("[rank 0] data parallel: NCCL "), std::string::npos) << runs["CUDA"].err;
  EXPECT_EQ(runs["CPU"].err.find("NCCL"), std::string::npos) << runs["CPU"].err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(runs["CUDA"].err, m, std::regex("in (\\d+) bucket\\(s\\)"))) << runs["CUDA"].err;
  EXPECT_GT(std::stoi(m[1].str()), 1);
  EXPECT_NEAR(last_loss(runs["CUDA"]), last_loss(runs["CPU"]), 2e-3 * last_loss(runs["CPU"]));
  std::filesystem::remove_all(scratch);
}
#endif

// Benchmark mode under mpirun: both ranks train, rank 0 alone prints one result block naming
// the two processes and writes the log; train imgs/sec is the job's (2 x the per-process rate).
TEST(Cli, MpirunBenchmarkPrintsOneResultBlockForTwoProcesses) {
  const auto scratch = scratch_dir("mpirun-benchmark");
  auto args = synthetic_resnet(scratch / "model", "CPU");
  args.insert(args.end(), {"--mode", "benchmark", "--log-json", (scratch / "log.json").string(), "--override",
                           "runtime { num_threads: 1 } benchmark { warmup_steps: 1 steps: 3 inference_warmup_steps: 1 "
                           "inference_steps: 2 synthetic_data: true }"});
  RunResult r = run_command(mpirun(2) + trainer_command(args), scratch);
  ASSERT_EQ(r.status, 0) << r.err;
  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  for (const char* line : {"model: ", "train imgs/sec: ", "train imgs/sec per process: ", "infer imgs/sec: ",
                           "peak RSS MiB: "})
    EXPECT_EQ(count(r.out, line), 1u) << line << "\n" << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("model: .* threads 1  processes 2 "))) << r.out;
  std::smatch job, per;
  ASSERT_TRUE(std::regex_search(r.out, job, std::regex("\ntrain imgs/sec: (\\d+\\.\\d+)\n"))) << r.out;
  ASSERT_TRUE(std::regex_search(r.out, per, std::regex("train imgs/sec per process: (\\d+\\.\\d+)"))) << r.out;
  EXPECT_NEAR(std::stod(job[1].str()), 2 * std::stod(per[1].str()), 0.01) << r.out;
  const std::string log = slurp(scratch / "log.json");
  EXPECT_EQ(count(log, "\"train.imgs_per_sec\": "), 3u + 1u) << "3 steps and the mean, from rank 0 only\n" << log;
  EXPECT_NE(log.find("\"processes\": 2"), std::string::npos) << log;
  std::filesystem::remove_all(scratch);
}

// Runs `mpirun -np 2 trainer args` with its stderr in `err`, waits until that stderr matches the
// grep pattern `once`, sends rank 1 `signal` (this job's child with OpenMPI rank 1: other tests
// may run jobs of their own meanwhile), and times how long the job then takes to end. Its stdout
// says "signalled PID" and "status S ms M"; a stopped rank is killed afterwards.
RunResult signal_rank_one(const std::vector<std::string>& args, const std::string& err, const std::string& once,
                          const std::string& signal, const std::filesystem::path& scratch) {
  const std::string script =
      mpirun(2) + trainer_command(args) + " > /dev/null 2> " + quote(err) + " & job=$!; " +
      "for i in $(seq 600); do grep -q " + quote(once) + " " + quote(err) + " 2>/dev/null && break; sleep 0.1; done; "
      "for p in $(pgrep -P $job -x trainer); do tr '\\0' '\\n' < /proc/$p/environ | grep -qx OMPI_COMM_WORLD_RANK=1 && "
      "kill -" + signal + " $p && signalled=$p && echo signalled $p; done; start=$(date +%s%N); wait $job; status=$?; "
      "echo status $status ms $(( ($(date +%s%N) - start) / 1000000 )); "
      "[ -n \"$signalled\" ] && kill -KILL $signalled 2> /dev/null; true";
  return run_command("bash -c " + quote(script), scratch);
}

// signal_rank_one's job: rank 1 was signalled, and the job then ended with a non-zero status in
// under 60 s (the watchdog's default timeout).
void expect_signalled_job_failed_in_time(const RunResult& r, const std::string& job_err) {
  ASSERT_NE(r.out.find("signalled "), std::string::npos) << r.out << job_err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("status (\\d+) ms (\\d+)"))) << r.out;
  EXPECT_NE(std::stoi(m[1].str()), 0) << job_err;
  EXPECT_LT(std::stoi(m[2].str()), 60000) << job_err;
}

// A rank that hangs (SIGSTOP once training runs) leaves the other waiting in the gradient
// allreduce: its watchdog stops the job after runtime.collective_timeout_seconds, saying which
// rank waited, in which collective and at which step; mpirun ends with a non-zero status.
TEST(Cli, MpirunStopsWithinTheTimeoutWhenARankHangs) {
  const auto scratch = scratch_dir("mpirun-hang");
  auto args = synthetic_resnet(scratch / "model", "CPU");
  args.insert(args.end(), {"--override", "runtime { num_threads: 1 collective_timeout_seconds: 5 } "
                                         "train_config { num_steps: 100000 }"});
  const std::string err = (scratch / "job.err").string();
  // Once the first step is logged, stop rank 1, then time how long the job takes to end.
  RunResult r = signal_rank_one(args, err, "step ", "STOP", scratch);
  const std::string job_err = slurp(err);
  ASSERT_NO_FATAL_FAILURE(expect_signalled_job_failed_in_time(r, job_err));
  EXPECT_TRUE(std::regex_search(
      job_err, std::regex("\\[rank 0\\] error: allreduce of the (gradients|loss) at step \\d+ waited [5-9] s for "
                          "the other ranks: one of them died or hangs")))
      << job_err;
  std::filesystem::remove_all(scratch);
}

// A rank that dies (SIGKILL once training runs): OpenMPI notices, names the rank and ends the
// job, sending the others SIGTERM (then SIGKILL); rank 0, blocked in a collective the dead rank
// never joins, says at once at which step it was. The job ends in seconds, well before the
// watchdog's 60 s, with a non-zero status. Checkpoints are written between steps only and
// renamed into place when complete: whatever rank 0 left reads back.
TEST(Cli, MpirunEndsTheJobWhenARankDies) {
  const auto scratch = scratch_dir("mpirun-dies");
  auto args = synthetic_resnet(scratch / "model", "CPU");
  args.insert(args.end(), {"--override", "runtime { num_threads: 1 checkpoint_every_n_steps: 10 } "
                                         "train_config { num_steps: 100000 }"});
  const std::string err = (scratch / "job.err").string();
  RunResult r = signal_rank_one(args, err, "step 1[1-9]/", "KILL", scratch);
  const std::string job_err = slurp(err);
  ASSERT_NO_FATAL_FAILURE(expect_signalled_job_failed_in_time(r, job_err));
  std::smatch m;
  // OpenMPI names the rank that died; rank 0 the step (steps done, as the watchdog counts them:
  // the last one logged, or the one before when the signal came between logging and the next).
  EXPECT_TRUE(std::regex_search(job_err, std::regex("mpirun noticed that process rank 1 with PID \\d+ on node \\S+ "
                                                    "exited on signal 9 \\(Killed\\)")))
      << job_err;
  ASSERT_TRUE(std::regex_search(job_err, m, std::regex("\\[rank 0\\] SIGTERM at step (\\d+): stopping \\(under "
                                                       "mpirun: another rank died, or the job was cancelled\\)")))
      << job_err;
  const int stopped_at = std::stoi(m[1].str());
  int last_logged = 0;
  const std::regex logged("step (\\d+)/100000");
  for (std::sregex_iterator i(job_err.begin(), job_err.end(), logged), end; i != end; ++i)
    last_logged = std::stoi((*i)[1].str());
  EXPECT_GE(stopped_at, 11) << job_err;
  EXPECT_TRUE(stopped_at == last_logged || stopped_at == last_logged - 1) << stopped_at << " " << last_logged;
  const auto latest = train::CheckpointManager((scratch / "model").string(), 1).latest();
  ASSERT_TRUE(latest.has_value()) << job_err;  // step 10's at least
  EXPECT_NO_THROW(train::read_safetensors(*latest)) << *latest;
  std::filesystem::remove_all(scratch);
}

// Several machines, made on this one (tests/cli/two_nodes.sh): two network namespaces joined by
// a veth pair stand in for two nodes with hostnames of their own; mpirun runs on node-a with a
// hostfile of one slot per node, OpenMPI's rsh launcher starts an orted on node-b through the
// script instead of ssh, and the ranks talk TCP over the veth pair (btl tcp,self). Proof of two
// nodes: both ranks have local rank 0 on hosts of their own, the login happened, and node-b's
// interface carried the gradients.
TEST(Cli, MpirunLaunchesOnTwoNodesThroughAHostfile) {
  const auto scratch = scratch_dir("mpirun-nodes");
  auto args = synthetic_resnet(scratch / "model", "CPU");
  args.insert(args.end(), {"--override", "runtime { num_threads: 1 }", "--log-json", (scratch / "log.json").string()});
  RunResult r = run_command("tests/cli/two_nodes.sh " + trainer_command(args), scratch);
  if (r.status == 77) GTEST_SKIP() << "no two network namespaces here: " << r.err;
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("two_nodes.sh: login to 10.77.0.2 (network namespace"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[rank 0] data parallel: MPI (Open MPI"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rank 0 of 2, local rank 0; ranks on 2 hosts: node-a 0 (local 0), node-b 1 (local 0)\n"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("4 batches of 8 per epoch on rank 0 of 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("step 3/3"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("images: 32"), std::string::npos) << r.out;
  EXPECT_TRUE(train::CheckpointManager((scratch / "model").string(), 1).latest().has_value());
  // Each step's gradient allreduce moves at least the f32 gradients (4 bytes a parameter) to
  // rank 1: three steps' worth crossed node-b's interface.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex("node-b received (\\d+) bytes"))) << r.err;
  const std::string json = slurp(scratch / "log.json");
  std::smatch p;
  ASSERT_TRUE(std::regex_search(json, p, std::regex("\"parameters\": (\\d+)"))) << json;
  EXPECT_GT(std::stoll(m[1].str()), 3 * 4 * std::stoll(p[1].str())) << r.err;
  std::filesystem::remove_all(scratch);
}

#if TRAINER_HAS_CUDA_KERNELS
TEST(Cli, DeviceCudaTrainsLikeTheCpuAndItsCheckpointEvaluatesOnEither) {
  const auto scratch = scratch_dir("cuda");
  RunResult gpu = run_trainer(synthetic_resnet(scratch / "gpu", "CUDA"), scratch);
  ASSERT_EQ(gpu.status, 0) << gpu.err;
  EXPECT_NE(gpu.err.find("device: GPU 0 of"), std::string::npos) << gpu.err;
  RunResult cpu = run_trainer(synthetic_resnet(scratch / "cpu", "CPU"), scratch);
  ASSERT_EQ(cpu.status, 0) << cpu.err;
  // The last step's loss agrees: the same model, data and updates on both backends.
  EXPECT_NEAR(last_loss(gpu), last_loss(cpu), 2e-3 * last_loss(cpu));
  // The CUDA run's checkpoint evaluates to the same accuracy on the CPU.
  auto eval = synthetic_resnet(scratch / "gpu", "CPU");
  eval.insert(eval.end(), {"--mode", "eval"});
  RunResult e = run_trainer(eval, scratch);
  ASSERT_EQ(e.status, 0) << e.err;
  EXPECT_EQ(e.out.substr(e.out.find("top1")), gpu.out.substr(gpu.out.find("top1")));
  std::filesystem::remove_all(scratch);
}

// The precision modes a user picks on the command line: the default TF32 and --amp (FP16 with
// dynamic loss scaling) on CUDA, --amp (BF16) on the CPU; each trains the reduced ResNet to
// within a stated distance of the FP32 loss, logs what it chose and checkpoints the loss scale.
TEST(Cli, PrecisionModesTrainNearFp32OnEitherDevice) {
  const auto scratch = scratch_dir("precision");
  RunResult fp32 = run_trainer(synthetic_resnet(scratch / "fp32", "CPU"), scratch);
  ASSERT_EQ(fp32.status, 0) << fp32.err;
  const double reference = last_loss(fp32);
  RunResult tf32 = run_trainer(synthetic_resnet(scratch / "tf32", "CUDA", ""), scratch);
  ASSERT_EQ(tf32.status, 0) << tf32.err;
  EXPECT_NE(tf32.err.find("precision TF32: convolutions and matmuls tf32"), std::string::npos) << tf32.err;
  auto amp_args = [&](const char* dir, const char* device) {
    auto a = synthetic_resnet(scratch / dir, device, "");
    a.push_back("--amp");
    return a;
  };
  RunResult fp16 = run_trainer(amp_args("fp16", "CUDA"), scratch);
  ASSERT_EQ(fp16.status, 0) << fp16.err;
  EXPECT_NE(fp16.err.find("precision FP16: convolutions and matmuls f16 with f32 accumulation"), std::string::npos)
      << fp16.err;
  RunResult bf16 = run_trainer(amp_args("bf16", "CPU"), scratch);
  ASSERT_EQ(bf16.status, 0) << bf16.err;
  EXPECT_NE(bf16.err.find("precision BF16"), std::string::npos) << bf16.err;
  // The third step's loss of this tiny network moves fast (3.85, 3.65, 3.15 in FP32), so the
  // rounding of 16-bit activations shows: measured TF32 1.3 %, FP16 1.4 %, BF16 1.7 % from FP32
  // (CUDA FP32 itself is 0.16 % from the CPU). The longer loss curves are cuda_emu.step's.
  EXPECT_NEAR(last_loss(tf32), reference, 0.03 * reference);
  EXPECT_NEAR(last_loss(fp16), reference, 0.03 * reference);
  EXPECT_NEAR(last_loss(bf16), reference, 0.03 * reference);
  // FP16 scaled its loss dynamically from 2^15 and the checkpoint keeps the scale.
  const auto ckpt = train::CheckpointManager((scratch / "fp16").string(), 1).latest();
  ASSERT_TRUE(ckpt.has_value());
  const auto meta = train::read_safetensors(*ckpt).metadata;
  EXPECT_EQ(meta.at("loss_scale"), "32768");
  EXPECT_EQ(meta.at("skipped_steps"), "0");
  // --amp and an explicit different precision contradict each other.
  auto both = amp_args("both", "CUDA");
  both.insert(both.end(), {"--override", "precision { compute_dtype: BF16 }"});
  RunResult contradiction = run_trainer(both, scratch);
  EXPECT_EQ(contradiction.status, 1);
  EXPECT_NE(contradiction.err.find("--amp means precision.compute_dtype FP16 on CUDA, but the config sets BF16"),
            std::string::npos)
      << contradiction.err;
  std::filesystem::remove_all(scratch);
}
#else
TEST(Cli, DeviceCudaWithoutCudaKernelsSaysHowToBuildThem) {
  const auto scratch = scratch_dir("cuda");
  RunResult r = run_trainer(synthetic_resnet(scratch / "m", "CUDA"), scratch);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("runtime.device CUDA: this build has no CUDA kernels"), std::string::npos) << r.err;
  std::filesystem::remove_all(scratch);
}
#endif

}  // namespace
}  // namespace trainer::testing

#include <algorithm>
#include <set>

#include "trainer/core/crc32c.h"
#include "trainer/data/tfrecord.h"

namespace trainer::testing {
namespace {

// Data faults at scale: Fashion-MNIST's 10,000 test images as PNG tf.train.Examples in two
// shards, then damaged as disks and copies damage data: 1 % of the images corrupt (their
// records intact), 0.2 % of the records with a wrong data CRC, one record's length field hit
// (the framing breaks), and the second shard truncated mid-record. Training goes to the end,
// naming every bad sample once and counting them; with a lower bad-sample fraction it stops,
// clearly and non-zero, once the fraction is passed.
TEST(Cli, TrainsToTheEndOnDataWithOnePercentCorruptImagesAndDamagedRecords) {
  const auto scratch = scratch_dir("faults");
  const auto files = data::write_tfrecords(data::IdxDataset::fashion_mnist(false), (scratch / "fm").string(), 2);
  ASSERT_EQ(files.size(), 2u);
  std::set<std::string> named;  // "file@offset" of every damaged record
  for (size_t f = 0; f < files.size(); ++f) {
    const data::TFRecordReader reader(files[f]);
    const std::string text = slurp(files[f]);
    std::vector<uint8_t> bytes(text.begin(), text.end());
    for (int64_t r = 0; r < reader.size(); ++r) {
      const uint64_t at = reader.offset(r), length = reader.data_size(r);
      uint8_t* payload = bytes.data() + at + 12;
      if (r % 100 == 7) {  // a corrupt image: its PNG signature and header destroyed, the CRC redone
        const uint8_t png[] = {0x89, 'P', 'N', 'G'};
        uint8_t* image = std::search(payload, payload + length, png, png + 4);
        ASSERT_NE(image, payload + length);
        std::fill(image, image + 16, 0x5a);
        const uint32_t crc = mask_crc32c(crc32c(payload, length));
        for (int i = 0; i < 4; ++i) payload[length + i] = static_cast<uint8_t>(crc >> (8 * i));
        named.insert(files[f] + "@" + std::to_string(at));
      } else if (r % 500 == 250) {  // a wrong data CRC
        payload[length] ^= 0xff;
        named.insert(files[f] + "@" + std::to_string(at));
      } else if (f == 0 && r == 1234) {  // a damaged length field: this record's framing is lost
        bytes[at + 2] ^= 0x40;
      }
    }
    if (f == 1) bytes.erase(bytes.end() - 100, bytes.end());  // a copy cut short
    std::ofstream(files[f], std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                    static_cast<std::streamsize>(bytes.size()));
  }
  const std::string reader = "tf_record_input_reader { input_path: \"" + (scratch / "fm-*").string() + "\" }";
  auto run = [&](const std::string& fraction) {
    return run_trainer({"--config", kDemo, "--override",
                        "model { classifier { resnet { width: 8 } } } train_config { batch_size: 64 num_steps: 40 }",
                        "--override", "train_input_reader { " + reader + " max_bad_sample_fraction: " + fraction + " }",
                        "--override", "eval_input_reader { num_epochs: 0 }",
                        "--override", "runtime { model_dir: \"" + (scratch / "model").string() + "\" }"},
                       scratch);
  };
  RunResult r = run("0.02");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("length CRC mismatch at offset"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(to the end of the file)"), std::string::npos) << r.err;  // the truncated tail
  // 40 steps of 64 read about a quarter of the data: the bad samples met are named, each once,
  // as the file and the record's offset, and they are the damaged ones.
  const std::regex skipped("data: skipping an unusable sample: ([^ \n]*fm-0000[01]-of-00002)(@|: record [0-9]+ at "
                           "offset )([0-9]+)");
  std::set<std::string> met;
  for (auto it = std::sregex_iterator(r.err.begin(), r.err.end(), skipped); it != std::sregex_iterator(); ++it) {
    const std::string record = (*it)[1].str() + "@" + (*it)[3].str();
    EXPECT_TRUE(named.count(record)) << record << " is not one of the damaged records";
    EXPECT_TRUE(met.insert(record).second) << record << " named twice";
  }
  EXPECT_GT(met.size(), 10u) << r.err;
  std::smatch summary;
  ASSERT_TRUE(std::regex_search(r.err, summary, std::regex("data: ([0-9]+) unusable training samples skipped")))
      << r.err;
  EXPECT_EQ(std::stoul(summary[1].str()), met.size()) << r.err;
  EXPECT_TRUE(std::filesystem::exists(scratch / "model" / "ckpt-000000040.safetensors"));

  std::filesystem::remove_all(scratch / "model");
  RunResult stopped = run("0.001");
  EXPECT_EQ(stopped.status, 1) << stopped.err;
  EXPECT_NE(stopped.err.find("data loader stopped: "), std::string::npos) << stopped.err;
  EXPECT_NE(stopped.err.find("more than the fraction 0.001 (input_reader.max_bad_sample_fraction) allows"),
            std::string::npos)
      << stopped.err;
  std::filesystem::remove_all(scratch);
}

}  // namespace
}  // namespace trainer::testing
