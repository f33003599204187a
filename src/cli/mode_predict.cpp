// Predict mode: the task's results for each image file (classes with probabilities, or boxes
// drawn on the picture), from the newest checkpoint or --checkpoint.
#include "trainer/cli/modes.h"
#include "trainer/cli/pipeline.h"
#include "trainer/train/checkpoint.h"

namespace trainer::cli {

int run_predict(const CliArgs& args, MetricsLog&) {
  Pipeline p = load_pipeline(args);
  train::load_inference_weights(checkpoint_to_load(p, args), p.task->store(),
                                p.config.eval_config().use_moving_averages());
  return p.task->predict(args.images, {args.output_dir}) == 0 ? 0 : 1;
}

}  // namespace trainer::cli
