// Predict mode: the task's results for each image file (classes with probabilities, or boxes
// drawn on the picture), from the newest checkpoint or --checkpoint.
#include "trainer/cli/modes.h"
#include "trainer/cli/pipeline.h"
#include "trainer/train/checkpoint.h"

namespace trainer::cli {

int run_predict(const CliArgs& args, MetricsLog&) {
  Pipeline p = load_pipeline(args);
  const std::string path = checkpoint_to_load(p, args);
  train::load_checkpoint(path, p.task->store());
  if (p.config.eval_config().use_moving_averages()) train::use_moving_average_weights(path, p.task->store());
  return p.task->predict(args.images, {args.output_dir}) == 0 ? 0 : 1;
}

}  // namespace trainer::cli
