#include "trainer/tasks/input_config.h"

#include <algorithm>

namespace trainer::tasks {

const char* reader_name(Split split) { return split == Split::Train ? "train_input_reader" : "eval_input_reader"; }

const config::InputReader& input_reader(const config::TrainEvalPipelineConfig& c, Split split) {
  if (split == Split::Train) {
    TRAINER_CHECK(c.has_train_input_reader(), "the config has no train_input_reader");
    return c.train_input_reader();
  }
  TRAINER_CHECK(c.has_eval_input_reader(), "the config has no eval_input_reader");
  return c.eval_input_reader();
}

data::LoaderOptions loader_options(const config::TrainEvalPipelineConfig& c, Split split, const RunContext& run) {
  const config::InputReader& r = input_reader(c, split);
  data::LoaderOptions o;
  o.mode = split == Split::Train ? data::LoaderMode::kTrain : data::LoaderMode::kEval;
  o.batch_size = split == Split::Train ? c.train_config().batch_size() : c.eval_config().batch_size();
  o.num_workers = static_cast<int>(r.num_workers());
  o.prefetch_batches = std::max(1, r.num_prefetch_batches());
  o.max_bad_fraction = r.max_bad_sample_fraction();
  o.seed = run.seed;
  // Both splits are sharded over the ranks: training by a slice of each epoch's permutation,
  // evaluation as contiguous pieces of the split in order, every image on exactly one rank.
  o.rank = run.rank, o.world_size = run.world_size;
  o.image_dtype = run.precision.activations();  // the loader writes what the first layer reads
  return o;
}

}  // namespace trainer::tasks
