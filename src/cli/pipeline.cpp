#include "trainer/cli/pipeline.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>

#include "trainer/core/log.h"
#include "trainer/core/parallel.h"
#include "trainer/kernels/cpu/conv2d.h"
#include "trainer/kernels/cpu/features.h"
#include "trainer/kernels/cuda/runtime.h"
#include "trainer/train/checkpoint.h"
#if TRAINER_HAS_NCCL
#include "trainer/dist/nccl_communicator.h"
#endif
#if TRAINER_HAS_CUDA_KERNELS && !TRAINER_CUDA_EMULATED
#include "trainer/kernels/cuda/stream_context.h"
#endif

namespace trainer::cli {
namespace {

// precision.compute_dtype (or the TF OD API's use_bfloat16) as the run's precision policy.
PrecisionPolicy precision_of(const config::TrainEvalPipelineConfig& c) {
  using Mode = PrecisionPolicy::Mode;
  const bool cuda = c.runtime().device() == config::RuntimeConfig::CUDA;
  // The TF OD API's use_bfloat16 (the TF2 zoo's TPU configs) is our BF16; a precision section
  // that says otherwise is a contradiction, not a choice.
  if (c.train_config().use_bfloat16()) {
    TRAINER_CHECK(!c.precision().has_compute_dtype() || c.precision().compute_dtype() == config::PrecisionConfig::BF16,
                  "train_config.use_bfloat16: true contradicts precision.compute_dtype ",
                  config::PrecisionConfig::ComputeDtype_Name(c.precision().compute_dtype()),
                  "; remove one of them");
    return PrecisionPolicy(Mode::BF16);
  }
  switch (c.precision().compute_dtype()) {
    case config::PrecisionConfig::FP32: return PrecisionPolicy(Mode::FP32);
    case config::PrecisionConfig::TF32: return PrecisionPolicy(Mode::TF32);
    case config::PrecisionConfig::BF16: return PrecisionPolicy(Mode::BF16);
    case config::PrecisionConfig::FP16:
      TRAINER_CHECK(cuda, "precision.compute_dtype FP16 needs runtime.device CUDA: this build's oneDNN (",
                    cpu::onednn_version(), ") has no fp16 convolutions on CPUs (oneDNN 3.x added them for "
                    "AVX512-FP16 / AMX-FP16); use BF16 on the CPU (or FP32)");
      return PrecisionPolicy(Mode::FP16);
  }
  return PrecisionPolicy(Mode::FP32);
}

// Every rank must train the same thing: a rank whose resolved config differs stops the job at
// start-up, naming the first line that differs.
void require_same_config(dist::Communicator& comm, const std::string& text) {
  const std::vector<std::string> all = comm.allgather(text);
  for (size_t r = 1; r < all.size(); ++r) {
    if (all[r] == all[0]) continue;
    size_t line = 1, at = 0;
    while (at < all[0].size() && at < all[r].size() && all[0][at] == all[r][at]) line += all[0][at++] == '\n';
    auto line_of = [&](const std::string& s) {
      const size_t begin = s.rfind('\n', at == 0 ? 0 : at - 1);
      const size_t from = begin == std::string::npos ? 0 : begin + 1;
      return s.substr(from, s.find('\n', from) - from);
    };
    fail("rank ", r, "'s resolved config differs from rank 0's at line ", line, ": \"", line_of(all[r]),
         "\" against \"", line_of(all[0]), "\"; every rank must run the same config and overrides");
  }
}

// Where the ranks run, for the start-up line: each host (in the order of its first rank) with its
// ranks and their local ranks, runs that count up together written as ranges ("ranks on 2 hosts:
// node1 0-7 (local 0-7), node2 8-15 (local 0-7)"). Two ranks on one host with the same local
// rank (a launcher that announced none) would take the same GPU: rank 0 warns, once.
std::string placement(dist::Communicator& comm) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "?");
  const std::vector<std::string> all = comm.allgather(std::to_string(comm.local_rank()) + " " + host);
  std::vector<std::string> hosts;                                 // in order of first appearance
  std::map<std::string, std::vector<std::pair<int, int>>> ranks;  // host -> (rank, local rank)
  bool shared_warned = false;
  for (size_t r = 0; r < all.size(); ++r) {
    const size_t space = all[r].find(' ');
    const std::string name = all[r].substr(space + 1);
    const int local = std::atoi(all[r].substr(0, space).c_str());
    auto& on_host = ranks[name];
    if (on_host.empty()) hosts.push_back(name);
    for (const auto& [other, other_local] : on_host)
      if (other_local == local && comm.is_root() && !shared_warned) {
        shared_warned = true;  // once for the job
        log_warn("ranks ", other, " and ", r, " both run on ", name, " with local rank ", local,
                 ": on CUDA they would share a GPU (does the launcher set OMPI_COMM_WORLD_LOCAL_RANK or "
                 "SLURM_LOCALID?)");
      }
    on_host.emplace_back(static_cast<int>(r), local);
  }
  std::string text;
  for (const std::string& name : hosts) {
    text += (text.empty() ? "" : ", ") + name;
    const auto& list = ranks[name];
    for (size_t i = 0; i < list.size();) {
      size_t j = i;
      while (j + 1 < list.size() && list[j + 1].first == list[j].first + 1 && list[j + 1].second == list[j].second + 1)
        ++j;
      text += " " + std::to_string(list[i].first);
      if (j > i) text += "-" + std::to_string(list[j].first);
      text += " (local " + std::to_string(list[i].second) + (j > i ? "-" + std::to_string(list[j].second) : "") + ")";
      i = j + 1;
    }
  }
  return "ranks on " + std::to_string(hosts.size()) + (hosts.size() == 1 ? " host: " : " hosts: ") + text;
}

// --amp: the automatic mixed precision of the run's device, as torch.autocast picks it (float16 on
// CUDA, bfloat16 on CPUs) and NVIDIA's recipes train it (FP16 with dynamic loss scaling).
void use_amp(config::TrainEvalPipelineConfig& c) {
  const auto amp = c.runtime().device() == config::RuntimeConfig::CUDA ? config::PrecisionConfig::FP16
                                                                        : config::PrecisionConfig::BF16;
  TRAINER_CHECK(!c.precision().has_compute_dtype() || c.precision().compute_dtype() == amp,
                "--amp means precision.compute_dtype ", config::PrecisionConfig::ComputeDtype_Name(amp), " on ",
                config::RuntimeConfig::Device_Name(c.runtime().device()), ", but the config sets ",
                config::PrecisionConfig::ComputeDtype_Name(c.precision().compute_dtype()), "; drop one of them");
  c.mutable_precision()->set_compute_dtype(amp);
}

// runtime.device CUDA: registers the CUDA backend, picks this process's GPU and the kernels
// that convolutions and matmuls run on.
void use_cuda(Pipeline& p) {
  const config::RuntimeConfig& rt = p.config.runtime();
#if TRAINER_HAS_CUDA_KERNELS
  cuda::register_runtime();
  const std::string gpu = cuda::select_device(p.communicator->local_rank());
  p.run.device = Device::cuda();
#if TRAINER_CUDA_EMULATED
  TRAINER_CHECK(rt.conv_backend() == config::RuntimeConfig::NATIVE,
                "runtime.conv_backend CUDNN needs a real CUDA build (cmake -DTRAINER_CUDA=ON with nvcc): this build "
                "runs the CUDA kernels on the CPU emulator, which has no cuDNN; use NATIVE");
  log_warn("runtime.device CUDA runs on the CUDA emulator (this build has the CUDA headers but no nvcc): the GPU "
           "kernels execute on the CPU, correct but orders of magnitude slower than device CPU");
  log_info("device: ", gpu, ", conv_backend NATIVE");
#else
  if (rt.conv_backend() == config::RuntimeConfig::CUDNN) {
    cuda::LibraryOptions o;
    o.allow_tf32 = p.run.precision.allow_tf32();
    p.libraries = std::make_shared<cuda::StreamContext>(nullptr, o);
    p.run.libraries = p.libraries.get();
  }
  log_info("device: ", gpu, ", conv_backend ", config::RuntimeConfig::ConvBackend_Name(rt.conv_backend()));
#endif
#else
  (void)p, (void)rt;
  fail("runtime.device CUDA: this build has no CUDA kernels; build with nvcc (cmake -DTRAINER_CUDA=ON, see "
       "src/kernels/cuda/README.md), or with the CUDA toolkit's headers installed to run them on the CPU emulator");
#endif
}

// runtime.device CPU: the convolution algorithm, and what this CPU runs it with (printed: CPUs
// differ from machine to machine).
void use_cpu(Pipeline& p) {
  const auto choice = p.config.runtime().cpu_conv_algorithm();
  p.run.cpu_conv_algorithm =
      choice == config::RuntimeConfig::DIRECT ? cpu::ConvAlgorithm::Direct : cpu::ConvAlgorithm::Winograd;
  // A 3x3 stride-1 layer with many tiles (SSD320's 40x40 heads at batch 8) shows what the CPU gives.
  Conv2dShape probe;
  probe.batch = 8, probe.in_h = probe.in_w = 40, probe.in_c = probe.out_c = 256, probe.kernel_h = probe.kernel_w = 3;
  probe.pad_top = probe.pad_bottom = probe.pad_left = probe.pad_right = 1;
  log_info("cpu: ", cpu::instruction_set(), ", cpu_conv_algorithm ",
           config::RuntimeConfig::CpuConvAlgorithm_Name(choice), " (3x3 stride-1 convolutions run ",
           cpu::conv2d_implementation(probe, DType::F32, p.run.cpu_conv_algorithm), ")");
  if (p.run.precision.gemm() == DType::BF16) log_info("cpu: bf16 convolutions and matmuls use ", cpu::bf16_path());
}

}  // namespace

Pipeline load_pipeline(const CliArgs& args) {
  Pipeline p;
  p.config = config::load_pipeline_config(args.config_path, args.overrides);
  if (args.amp) use_amp(p.config);
  config::validate(p.config, args.config_path);
  p.config_text = config::to_text(p.config);
  p.communicator = dist::make_communicator();
  set_log_rank(p.communicator->rank(), p.communicator->world_size());
  p.communicator->set_timeout(p.config.runtime().collective_timeout_seconds());
  if (p.communicator->world_size() > 1) {
    require_same_config(*p.communicator, p.config_text);
    log_info("data parallel: ", p.communicator->describe(), "; ", placement(*p.communicator));
  }
  p.run.rank = p.communicator->rank();
  p.run.world_size = p.communicator->world_size();
  p.run.precision = precision_of(p.config);
  if (p.config.runtime().device() == config::RuntimeConfig::CUDA) use_cuda(p);
  else use_cpu(p);
  if (p.run.device.is_cuda() && p.communicator->world_size() > 1) {
#if TRAINER_HAS_NCCL
    p.communicator = dist::nccl_communicator(p.communicator);
    log_info("data parallel: ", p.communicator->describe());
#else
    log_warn("this build has no NCCL: the GPUs' gradients go through host memory and MPI (slow)");
#endif
  }
  if (p.config.runtime().sync_batchnorm() && p.communicator->world_size() > 1) {
    p.run.sync_batchnorm = p.communicator.get();
    log_info("sync_batchnorm: batch statistics over all ", p.communicator->world_size(), " ranks' batches");
  }
  log_info("precision ", p.run.precision.describe());
  p.run.seed = p.config.runtime().seed();
  set_num_threads(static_cast<int>(p.config.runtime().num_threads()));
  if (args.mode != Mode::Summary && p.communicator->is_root()) {  // the ranks' configs are equal
    std::fprintf(stderr, "# resolved config (%s)\n%s", args.config_path.c_str(), p.config_text.c_str());
  }
  p.task = tasks::create_task(p.config, p.run);
  return p;
}

train::LearningRateSchedule learning_rate_schedule(const config::LearningRate& lr) {
  using Kind = train::LearningRateSchedule::Kind;
  train::LearningRateSchedule s;
  if (lr.has_cosine_decay_learning_rate()) {
    const auto& cd = lr.cosine_decay_learning_rate();
    s.kind = Kind::CosineWithWarmup;
    s.base = cd.learning_rate_base();
    s.total_steps = cd.total_steps();
    s.warmup_lr = cd.warmup_learning_rate();
    s.warmup_steps = cd.warmup_steps();
    s.hold_steps = cd.hold_base_rate_steps();
    s.cosine_from_step_zero = cd.cosine_from_step_zero();
  } else if (lr.has_exponential_decay_learning_rate()) {
    const auto& ed = lr.exponential_decay_learning_rate();
    s.kind = Kind::ExponentialDecay;
    s.base = ed.initial_learning_rate();
    s.decay_steps = ed.decay_steps();
    s.decay_factor = ed.decay_factor();
    s.staircase = ed.staircase();
    s.burnin_lr = ed.burnin_learning_rate();
    s.burnin_steps = ed.burnin_steps();
    s.min_lr = ed.min_learning_rate();
  } else if (lr.has_manual_step_learning_rate()) {
    const auto& ms = lr.manual_step_learning_rate();
    s.kind = Kind::ManualStep;
    s.base = ms.initial_learning_rate();
    s.rates = {ms.initial_learning_rate()};
    for (const auto& entry : ms.schedule()) {
      s.boundaries.push_back(entry.step());
      s.rates.push_back(entry.learning_rate());
    }
    s.manual_warmup = ms.warmup();
  } else {
    s.kind = Kind::Constant;
    s.base = lr.constant_learning_rate().learning_rate();
  }
  return s;
}

train::TrainerOptions trainer_options(const Pipeline& p) {
  const config::TrainConfig& tc = p.config.train_config();
  train::TrainerOptions o;
  o.num_steps = tc.num_steps();
  o.execution = p.run;
  const config::MomentumOptimizer& m = tc.optimizer().momentum_optimizer();
  o.optimizer.momentum = m.momentum_optimizer_value();
  o.optimizer.nesterov = m.use_nesterov();
  o.schedule = learning_rate_schedule(m.learning_rate());
  const config::PrecisionConfig& pr = p.config.precision();
  if (pr.has_static_loss_scale()) {
    o.loss_scaling.mode = train::LossScalerOptions::Mode::Static;
    o.loss_scaling.initial_scale = pr.static_loss_scale();
  } else if (pr.has_dynamic_loss_scale() || p.run.precision.needs_loss_scaling()) {
    o.loss_scaling.mode = train::LossScalerOptions::Mode::Dynamic;
    o.loss_scaling.initial_scale = pr.dynamic_loss_scale().initial_scale();
    o.loss_scaling.growth_interval = pr.dynamic_loss_scale().growth_interval();
    o.loss_scaling.growth_factor = pr.dynamic_loss_scale().growth_factor();
    o.loss_scaling.backoff_factor = pr.dynamic_loss_scale().backoff_factor();
  }
  o.clip_gradient_norm = tc.gradient_clipping_by_norm();
  o.clip_gradient_norm_per_tensor = tc.gradient_clipping_by_norm_per_tensor();
  // The TF OD API's default is true: a config without the field keeps the moving average.
  if (tc.optimizer().use_moving_average()) o.moving_average_decay = tc.optimizer().moving_average_decay();
  const config::RuntimeConfig& rt = p.config.runtime();
  o.log_every = rt.log_every_n_steps();
  o.model_dir = rt.model_dir();
  o.checkpoint_every = rt.checkpoint_every_n_steps();
  o.keep_checkpoints = static_cast<int>(rt.keep_checkpoint_max());
  o.check_numerics = rt.check_numerics();
  o.config_text = p.config_text;
  o.communicator = p.communicator.get();
  TRAINER_CHECK(rt.allreduce_bucket_mb() >= 0, "runtime.allreduce_bucket_mb: ", rt.allreduce_bucket_mb(),
                " is negative");
  o.allreduce_bucket_bytes = static_cast<int64_t>(static_cast<double>(rt.allreduce_bucket_mb()) * (1 << 20));
  p.task->configure(o);
  return o;
}

std::string checkpoint_to_load(const Pipeline& p, const CliArgs& args) {
  if (!args.checkpoint.empty()) return args.checkpoint;
  const std::string& dir = p.config.runtime().model_dir();
  TRAINER_CHECK(!dir.empty(), "no checkpoint to evaluate: pass --checkpoint PATH or set runtime.model_dir");
  auto latest = train::CheckpointManager(dir, 1).latest();
  TRAINER_CHECK(latest.has_value(), "no checkpoint in ", dir, ": train first, or pass --checkpoint PATH");
  return *latest;
}

}  // namespace trainer::cli
