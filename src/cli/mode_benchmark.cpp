// Benchmark mode, measured as NVIDIA's benchmark hooks do: warm-up steps are run and not
// counted; throughput is the mean of per-step images/second over the measured steps;
// inference latency percentiles are over per-batch times.
//
// Under mpirun (N ranks): every rank trains (the gradients are averaged every step, as in
// training); the throughput is the job's, N x the per-process batch / the step time of the
// slowest rank at that step (the ranks' step times are gathered once, after the measured steps,
// so that no extra collective is timed); inference runs on rank 0 alone (one process, as
// deployed) while the others end; rank 0 alone prints and writes the log.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "trainer/cli/modes.h"
#include "trainer/cli/pipeline.h"
#include "trainer/core/log.h"
#include "trainer/core/parallel.h"
#include "trainer/kernels/cuda/runtime.h"
#include "trainer/tasks/data_batch.h"

namespace trainer::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double percentile(std::vector<double> v, double q) {  // linear interpolation, like np.percentile
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

double sum(const std::vector<double>& v) {
  double total = 0;
  for (double x : v) total += x;
  return total;
}

double mean(const std::vector<double>& v) { return v.empty() ? 0 : sum(v) / static_cast<double>(v.size()); }

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux reports KiB
}

// The caching device allocator's high-water mark of tensor memory, or -1 on the CPU.
double peak_device_mib([[maybe_unused]] Device device) {
#if TRAINER_HAS_CUDA_KERNELS
  if (!device.is_cpu()) return static_cast<double>(cuda::device_allocator_stats().peak) / (1 << 20);
#endif
  return -1;
}

// The job's time of each measured step: the slowest rank's (one collective, after the steps).
std::vector<double> slowest_rank_seconds(dist::Communicator& comm, const std::vector<double>& mine) {
  if (comm.world_size() == 1) return mine;
  std::ostringstream text;
  text.precision(17);
  for (double s : mine) text << s << ' ';
  std::vector<double> slowest = mine;
  for (const std::string& rank : comm.allgather(text.str())) {
    std::istringstream in(rank);
    double s = 0;
    for (size_t i = 0; i < slowest.size() && in >> s; ++i) slowest[i] = std::max(slowest[i], s);
  }
  return slowest;
}

// "time in parts: depthwise convolution 12.3 % of training, 15.1 % of inference; ..." (forward and
// backward; CPU only, where the work is synchronous and each part's time its own).
void print_part_shares(const PartTimes& train, double train_seconds, const PartTimes& infer, double infer_seconds) {
  std::map<std::string, std::pair<double, double>> shares;
  for (const auto& [part, seconds] : train.seconds()) shares[part].first = 100.0 * seconds / train_seconds;
  for (const auto& [part, seconds] : infer.seconds()) shares[part].second = 100.0 * seconds / infer_seconds;
  if (shares.empty() || train_seconds <= 0 || infer_seconds <= 0) return;
  std::string line;
  for (const auto& [part, share] : shares) {
    char text[160];
    std::snprintf(text, sizeof(text), "%s%s %.1f %% of training, %.1f %% of inference", line.empty() ? "" : "; ",
                  part.c_str(), share.first, share.second);
    line += text;
  }
  std::printf("time in parts (forward + backward): %s\n", line.c_str());
}

// The module a row belongs to in the per-module summary: its name's first two parts
// (backbone.layer1, bifpn.cell0); the ops between layers go with the layer before them.
std::string module_of(const LayerTimes::Row& row) {
  std::string name = row.name;
  if (row.kind == LayerTimes::Row::Kind::Ops && name.rfind("after ", 0) == 0) name = name.substr(6);
  const size_t first = name.find('.');
  const size_t second = first == std::string::npos ? first : name.find('.', first + 1);
  return name.substr(0, second);
}

// benchmark.per_layer: one line per layer in network order (the leaves: every layer that
// reports, nn::Module), each line of ops between layers, and the phases outside the layers, in ms
// per step; their sum is the pass's step. Then the same time by module.
void print_layer_table(const LayerTimes& times, double pass_seconds, double measured_seconds) {
  const double per_step_ms = 1e3 / static_cast<double>(times.steps());
  double forward = 0, backward = 0, total = 0;
  size_t width = 32;
  for (const LayerTimes::Row& r : times.rows()) {
    forward += r.forward_seconds;
    backward += r.backward_seconds;
    width = std::max(width, r.name.size());
  }
  total = forward + backward;
  const int w = static_cast<int>(width);
  auto share = [&](double seconds) { return total > 0 ? 100.0 * seconds / total : 0.0; };
  std::printf("\nper-layer times (training step, ms: the mean of %lld steps run after the measured ones, timed "
              "apart so that the numbers above carry none of its timing)\n",
              static_cast<long long>(times.steps()));
  std::printf("%-*s %5s %10s %10s %10s %7s  %s\n", w, "layer", "calls", "forward", "backward", "total", "%", "type");
  for (const LayerTimes::Row& r : times.rows()) {
    if (r.kind == LayerTimes::Row::Kind::Outside) continue;
    const double row_total = r.forward_seconds + r.backward_seconds;
    std::printf("%-*s %5.0f %10.3f %10.3f %10.3f %7.2f  %s%s\n", w, r.name.c_str(),
                static_cast<double>(r.calls) / static_cast<double>(times.steps()), r.forward_seconds * per_step_ms,
                r.backward_seconds * per_step_ms, row_total * per_step_ms, share(row_total),
                r.kind == LayerTimes::Row::Kind::Ops ? "ops: " : "", r.type.c_str());
  }
  std::printf("outside the layers:\n");
  for (const LayerTimes::Row& r : times.rows()) {
    if (r.kind != LayerTimes::Row::Kind::Outside) continue;
    std::printf("%-*s %5s %10s %10s %10.3f %7.2f\n", w, r.name.c_str(), "", "", "",
                (r.forward_seconds + r.backward_seconds) * per_step_ms, share(r.forward_seconds + r.backward_seconds));
  }
  std::printf("%-*s %5s %10.3f %10.3f %10.3f %7.2f\n", w, "step (the sum of the lines)", "", forward * per_step_ms,
              backward * per_step_ms, total * per_step_ms, 100.0);
  const double pass_ms = pass_seconds * per_step_ms, measured_ms = measured_seconds * 1e3;
  std::printf("step time: %.3f ms in the per-layer pass, %.3f ms in the measured steps (%+.1f %%)\n", pass_ms,
              measured_ms, 100.0 * (pass_ms / measured_ms - 1));
  struct Module {
    std::string name;
    double forward = 0, backward = 0;
  };
  std::vector<Module> modules;  // in order of first appearance
  std::map<std::string, size_t> index;
  for (const LayerTimes::Row& r : times.rows()) {
    if (r.kind == LayerTimes::Row::Kind::Outside) continue;
    const std::string name = module_of(r);
    const auto [at, added] = index.emplace(name, modules.size());
    if (added) modules.push_back({name});
    modules[at->second].forward += r.forward_seconds;
    modules[at->second].backward += r.backward_seconds;
  }
  std::printf("\nby module (the lines above summed by their names' first two parts)\n");
  std::printf("%-*s %5s %10s %10s %10s %7s\n", w, "module", "", "forward", "backward", "total", "%");
  for (const Module& m : modules)
    std::printf("%-*s %5s %10.3f %10.3f %10.3f %7.2f\n", w, m.name.c_str(), "", m.forward * per_step_ms,
                m.backward * per_step_ms, (m.forward + m.backward) * per_step_ms, share(m.forward + m.backward));
}

}  // namespace

int run_benchmark(const CliArgs& args, MetricsLog& log) {
  Pipeline p = load_pipeline(args);
  tasks::Task& task = *p.task;
  const config::BenchmarkConfig& b = p.config.benchmark();
  TRAINER_CHECK(!b.per_layer() || p.run.device.is_cpu(), "benchmark.per_layer: per-layer times are measured on the "
                "CPU only (CUDA kernels run asynchronously, so times taken on the host would be launch times); this "
                "run's device is ", p.run.device.name(), ". Set per_layer: false, or run on the CPU");
  const int64_t train_batch = p.config.train_config().batch_size();
  const int64_t infer_batch = b.inference_batch_size() > 0 ? b.inference_batch_size() : train_batch;

  // Training: the real step (forward, backward, optimizer), no checkpoints.
  train::TrainerOptions options = trainer_options(p);
  options.model_dir.clear();
  PartTimes train_parts, infer_parts;  // time in the parts the model marks, measured steps only
  options.execution.part_times = &train_parts;
  MetricsLog quiet;
  train::Trainer trainer(task, options, quiet);
  std::unique_ptr<data::Loader> loader;
  if (!b.synthetic_data()) loader = task.loader(tasks::Split::Train);
  tasks::DataBatch fixed(task.synthetic_batch(train_batch));
  // As in train's loop (Trainer::run), each step's batch is taken, and its copy to the device
  // started, while the step before computes; the synthetic batch is copied again every step.
  std::optional<tasks::DataBatch> current, next;
  auto take_next = [&] {
    if (loader) next.emplace(std::move(*loader->next()));
    (loader ? *next : fixed).prefetch(p.run.device);
  };
  dist::Communicator& comm = *p.communicator;
  const int world = comm.world_size();
  const double job_batch = static_cast<double>(train_batch * world);  // batch_size is per process
  std::vector<double> step_seconds;
  const int64_t train_total = b.warmup_steps() + b.steps();
  for (int64_t s = 0; s < train_total; ++s) {
    // Data time counts when the loader runs: NVIDIA's hooks time the whole step.
    if (s == static_cast<int64_t>(b.warmup_steps())) train_parts.clear();
    const auto t0 = Clock::now();
    if (s == 0) take_next();
    if (loader) current = std::move(next);
    trainer.step(loader ? *current : fixed, take_next);
    const double dt = seconds_since(t0);
    if (s >= static_cast<int64_t>(b.warmup_steps())) step_seconds.push_back(dt);
    log_info("benchmark train step ", s + 1, "/", train_total, s < static_cast<int64_t>(b.warmup_steps()) ? " (warm-up)" : "",
             ": ", job_batch / dt, " img/s", world > 1 ? " (the job's, by rank 0's step time)" : "");
  }
  // benchmark.per_layer: a pass of its own after the measured steps, each step timed per layer
  // (the parts' times, which it adds to, are the measured steps').
  const PartTimes measured_parts = train_parts;
  LayerTimes layer_times;
  double layer_pass_seconds = 0;
  if (b.per_layer()) {
    trainer.time_layers(&layer_times);
    for (int64_t s = 0; s < static_cast<int64_t>(b.steps()); ++s) {
      const auto t0 = Clock::now();
      layer_times.start_step();
      if (loader) {
        const tasks::DataBatch batch(std::move(*loader->next()));
        layer_times.outside("data loading");
        trainer.step(batch);
      } else {
        trainer.step(fixed);
      }
      layer_pass_seconds += seconds_since(t0);
    }
    trainer.time_layers(nullptr);
  }
  std::vector<double> train_ips;
  for (double dt : slowest_rank_seconds(comm, step_seconds)) {
    train_ips.push_back(job_batch / dt);
    // Each measured step on its own, so that comparisons can use medians and spreads.
    log.log(b.warmup_steps() + static_cast<int64_t>(train_ips.size()), {{"train.imgs_per_sec", train_ips.back()}});
  }
  loader.reset();
  if (!comm.is_root()) return 0;  // inference and the results: rank 0's
  const double train_rss = peak_rss_mib(), train_device = peak_device_mib(p.run.device);

  // Inference as deployed: eval-mode forward (folded conv+bn+act) and post-processing, no tape.
  Context ctx = p.run.inference_context();
  ctx.part_times = &infer_parts;
  const data::Batch infer = task.synthetic_batch(infer_batch);
  std::vector<double> latency_ms, infer_ips;
  const int64_t infer_total = b.inference_warmup_steps() + b.inference_steps();
  for (int64_t s = 0; s < infer_total; ++s) {
    if (s == static_cast<int64_t>(b.inference_warmup_steps())) infer_parts.clear();
    const auto t0 = Clock::now();
    task.infer(ctx, infer);
    const double dt = seconds_since(t0);
    if (s >= static_cast<int64_t>(b.inference_warmup_steps())) {
      latency_ms.push_back(dt * 1e3);
      infer_ips.push_back(static_cast<double>(infer_batch) / dt);
      log.log(s + 1, {{"infer.imgs_per_sec", infer_ips.back()}, {"infer.latency_ms", latency_ms.back()}});
    }
  }

  const double train_rate = mean(train_ips), infer_rate = mean(infer_ips);
  std::printf("model: %s  train batch %lld  inference batch %lld  precision %s  device %s  threads %d  processes %d"
              "%s\n",
              task.architecture().c_str(), static_cast<long long>(train_batch), static_cast<long long>(infer_batch),
              p.run.precision.name(), p.run.device.name().c_str(), num_threads(), world,
              world > 1 ? " (train batch and threads per process; inference on rank 0 alone)" : "");
  std::printf("train imgs/sec: %.3f\n", train_rate);
  if (world > 1)
    std::printf("train imgs/sec per process: %.3f (the job's %d x %lld images per step / the slowest rank's step "
                "time)\n",
                train_rate / world, world, static_cast<long long>(train_batch));
  std::printf("infer imgs/sec: %.3f\n", infer_rate);
  if (!latency_ms.empty())
    std::printf("infer latency ms: p50 %.3f p90 %.3f p99 %.3f\n", percentile(latency_ms, 0.5),
                percentile(latency_ms, 0.9), percentile(latency_ms, 0.99));
  if (p.run.device.is_cpu()) print_part_shares(measured_parts, sum(step_seconds), infer_parts, sum(latency_ms) / 1e3);
  std::printf("peak RSS MiB: %.1f (after training %.1f)\n", peak_rss_mib(), train_rss);
  if (train_device >= 0)
    std::printf("peak device MiB: %.1f (training %.1f)\n", peak_device_mib(p.run.device), train_device);
  if (layer_times.steps() > 0) print_layer_table(layer_times, layer_pass_seconds, mean(step_seconds));
  std::fflush(stdout);
  MetricMap m = {{"train.imgs_per_sec", train_rate}, {"infer.imgs_per_sec", infer_rate},
                 {"parameters", task.store().count()}, {"peak_rss_mib", peak_rss_mib()},
                 {"processes", static_cast<int64_t>(world)}};
  if (train_device >= 0) m["peak_device_mib"] = peak_device_mib(p.run.device);
  if (!latency_ms.empty()) {
    m["infer.latency_ms.p50"] = percentile(latency_ms, 0.5);
    m["infer.latency_ms.p90"] = percentile(latency_ms, 0.9);
    m["infer.latency_ms.p99"] = percentile(latency_ms, 0.99);
  }
  log.metric(m);
  return 0;
}

}  // namespace trainer::cli
