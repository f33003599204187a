// What every task reads the same way from the config's input readers.
#pragma once

#include "trainer/config/config.h"
#include "trainer/data/loader.h"
#include "trainer/tasks/task.h"

namespace trainer::tasks {

// train_input_reader or eval_input_reader; an Error if the config has none.
const config::InputReader& input_reader(const config::TrainEvalPipelineConfig& c, Split split);
const char* reader_name(Split split);  // "train_input_reader", "eval_input_reader"

// Batch size (train_config or eval_config), workers, prefetch depth, seed, rank, image dtype.
data::LoaderOptions loader_options(const config::TrainEvalPipelineConfig& c, Split split, const RunContext& run);

}  // namespace trainer::tasks
