#include "trainer/cli/loss_curve.h"
#include "trainer/cli/modes.h"
#include "trainer/cli/pipeline.h"
#include "trainer/cli/tensorboard_sink.h"
#include "trainer/core/log.h"
#include "trainer/train/checkpoint.h"

namespace trainer::cli {

int run_eval(const CliArgs& args, MetricsLog& log) {
  Pipeline p = load_pipeline(args);
  const std::string path = checkpoint_to_load(p, args);
  const bool averaged = p.config.eval_config().use_moving_averages();
  const train::TrainingState s = train::load_inference_weights(path, p.task->store(), averaged);
  log_info("evaluating ", path, " (step ", s.step, averaged ? ", moving average of the weights)" : ")");
  attach_tensorboard(log, p.config.runtime(), p.communicator->is_root());
  const MetricMap metrics = p.task->evaluate({p.config.runtime().model_dir(), s.step, p.communicator.get(), &log});
  if (p.communicator->is_root()) {
    log.metric(metrics, s.step);
    // The training run's loss curve, when this model_dir has one.
    if (const auto curve = write_loss_curve(p.config.runtime().model_dir())) log_info("eval: loss curve written to ", *curve);
  }
  return 0;
}

}  // namespace trainer::cli
