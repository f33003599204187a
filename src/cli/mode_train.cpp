#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "trainer/cli/modes.h"
#include "trainer/cli/pipeline.h"
#include "trainer/core/log.h"
#include "trainer/tasks/data_batch.h"
#include "trainer/tasks/fine_tune.h"

namespace trainer::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop.store(true); }

}  // namespace

int run_train(const CliArgs& args, MetricsLog& log) {
  Pipeline p = load_pipeline(args);
  train::TrainerOptions options = trainer_options(p);
  // SIGINT/SIGTERM: finish the step in flight, write a checkpoint, exit; a rerun resumes.
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  options.should_stop = [] { return g_stop.load(); };
  train::Trainer trainer(*p.task, options, log);
  // A fresh run starts from the config's fine-tune weights; a resumed one from its checkpoint.
  if (!trainer.resume()) tasks::fine_tune(p.task->store(), p.config.train_config());
  log.metric({{"parameters", p.task->store().count()}});
  if (!options.model_dir.empty()) {
    std::filesystem::create_directories(options.model_dir);
    std::ofstream(std::filesystem::path(options.model_dir) / "pipeline.pbtxt") << p.config_text;
  }
  if (options.num_steps > 0 && trainer.steps_done() >= options.num_steps) {
    log_info("already trained: ", trainer.steps_done(), " of ", options.num_steps, " steps done in ",
             options.model_dir);
  } else {
    const auto [epoch, batch] = trainer.resume_cursor();
    std::unique_ptr<data::Loader> loader = p.task->loader(tasks::Split::Train, data::LoaderCursor{epoch, batch});
    tasks::LoaderSource source(*loader);
    trainer.run(source);
    if (g_stop.load()) {
      log_warn("stopped by a signal after step ", trainer.steps_done(), "; rerun the same command to resume");
      return 130;
    }
  }
  // Every rank evaluates its shard of the eval split; rank 0 gathers, prints and logs.
  if (p.config.has_eval_input_reader()) {
    const MetricMap metrics = p.task->evaluate({options.model_dir, trainer.steps_done(), p.communicator.get()});
    if (p.communicator->is_root()) log.metric(metrics);
  }
  return 0;
}

}  // namespace trainer::cli
