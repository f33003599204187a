#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "trainer/cli/loss_curve.h"
#include "trainer/cli/memory_check.h"
#include "trainer/cli/modes.h"
#include "trainer/cli/pipeline.h"
#include "trainer/cli/tensorboard_sink.h"
#include "trainer/core/log.h"
#include "trainer/tasks/data_batch.h"
#include "trainer/tasks/fine_tune.h"

namespace trainer::cli {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};
// What the signal handler says: this process's rank (-1 alone) and the steps done so far (-1
// before training starts), published between steps.
std::atomic<int> g_rank{-1};
std::atomic<int64_t> g_step{-1};
static_assert(std::atomic<int64_t>::is_always_lock_free, "read from a signal handler");

// Appends to a fixed buffer without allocating: a signal handler may not call printf or new.
struct SignalText {
  char text[320];
  size_t n = 0;
  SignalText& operator<<(const char* s) {
    for (; *s && n < sizeof text; ++s) text[n++] = *s;
    return *this;
  }
  SignalText& operator<<(int64_t v) {
    char digits[24];
    int k = 0;
    const bool negative = v < 0;
    uint64_t u = negative ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
    do digits[k++] = static_cast<char>('0' + u % 10), u /= 10;
    while (u);
    if (negative) *this << "-";
    while (k > 0 && n < sizeof text) text[n++] = digits[--k];
    return *this;
  }
};

// The first SIGINT/SIGTERM asks the loop to stop after the step in flight (which then writes a
// checkpoint) and says so at once, naming the rank and the step: under mpirun a SIGTERM usually
// means the launcher is ending the job because another rank died, and this rank may be blocked
// in a collective that never completes, so this line is all it gets to say before the launcher's
// SIGKILL (or the watchdog) ends it. Checkpoints are written between steps only, to a temporary
// file renamed when complete, so stopping never leaves a partial one. A second signal exits at
// once.
extern "C" void on_stop_signal(int sig) {
  const char* name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal";
  const bool again = g_stop.exchange(true);
  const int rank = g_rank.load();
  const int64_t step = g_step.load();
  SignalText t;
  if (rank >= 0) t << "[rank " << static_cast<int64_t>(rank) << "] ";
  t << name << (again ? " again" : "");
  if (step >= 0) t << " at step " << step;
  else t << " before training started";
  if (again) t << ": exiting now\n";
  else if (rank >= 0)
    t << ": stopping (under mpirun: another rank died, or the job was cancelled); a step that completes is "
         "checkpointed by rank 0, a second signal exits at once\n";
  else t << ": stopping after this step with a checkpoint; a second signal exits at once\n";
  const ssize_t written = ::write(STDERR_FILENO, t.text, t.n);
  (void)written;
  if (again) ::_exit(128 + sig);
}

}  // namespace

int run_train(const CliArgs& args, MetricsLog& log) {
  Pipeline p = load_pipeline(args);
  train::TrainerOptions options = trainer_options(p);
  // SIGINT/SIGTERM: finish the step in flight, write a checkpoint, exit; a rerun resumes.
  if (p.communicator->world_size() > 1) g_rank.store(p.communicator->rank());
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  const train::Trainer* running = nullptr;
  options.should_stop = [&running] {  // polled between steps
    if (running) g_step.store(running->steps_done());
    return g_stop.load();
  };
  attach_tensorboard(log, p.config.runtime(), p.communicator->is_root());
  // model_dir/loss.png follows the run: redrawn from its loss history after every checkpoint.
  options.after_checkpoint = [dir = options.model_dir] { write_loss_curve(dir); };
  train::Trainer trainer(*p.task, options, log);
  running = &trainer;
  // A fresh run starts from the config's fine-tune weights; a resumed one from its checkpoint.
  if (!trainer.resume()) tasks::fine_tune(p.task->store(), p.config.train_config());
  g_step.store(trainer.steps_done());
  log.metric({{"parameters", p.task->store().count()}});
  if (!options.model_dir.empty()) {
    std::filesystem::create_directories(options.model_dir);
    std::ofstream(std::filesystem::path(options.model_dir) / "pipeline.pbtxt") << p.config_text;
  }
  if (options.num_steps > 0 && trainer.steps_done() >= options.num_steps) {
    log_info("already trained: ", trainer.steps_done(), " of ", options.num_steps, " steps done in ",
             options.model_dir);
  } else {
    check_training_memory(trainer, *p.task, p.config.train_config().batch_size(),
                          std::max(1, p.config.train_input_reader().num_prefetch_batches()));
    const auto [epoch, batch] = trainer.resume_cursor();
    std::unique_ptr<data::Loader> loader = p.task->loader(tasks::Split::Train, data::LoaderCursor{epoch, batch});
    tasks::LoaderSource source(*loader);
    trainer.run(source);
    if (const fs::path curve = fs::path(options.model_dir) / kLossCurveFile;
        !options.model_dir.empty() && p.communicator->is_root() && fs::exists(curve))
      log_info("loss curve: ", curve.string());
    // What the data cost: each unusable sample was named when met; here the count, once.
    const data::LoaderStats stats = loader->stats();
    if (stats.bad_samples > 0) {
      char share[32];
      std::snprintf(share, sizeof share, "%.2f",
                    100.0 * static_cast<double>(stats.bad_samples) /
                        static_cast<double>(stats.samples + stats.bad_samples));
      log_warn("data: ", stats.bad_samples, " unusable training samples skipped (", share, " % of the ",
               stats.samples + stats.bad_samples, " read); each is named above");
    }
    log.metric({{"data.bad_samples", static_cast<double>(stats.bad_samples)}});
    if (g_stop.load()) {
      log_warn("stopped by a signal after step ", trainer.steps_done(), "; rerun the same command to resume");
      return 130;
    }
  }
  // Every rank evaluates its shard of the eval split; rank 0 gathers, prints and logs.
  if (p.config.has_eval_input_reader()) {
    const MetricMap metrics =
        p.task->evaluate({options.model_dir, trainer.steps_done(), p.communicator.get(), &log});
    if (p.communicator->is_root()) log.metric(metrics, trainer.steps_done());
  }
  return 0;
}

}  // namespace trainer::cli
