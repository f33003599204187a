// Train mode's start-up memory check: a batch that cannot fit fails before the first step, with
// the estimate and the limit, instead of meeting the OOM killer mid-run.
#pragma once

#include <cstdint>

#include "trainer/tasks/task.h"
#include "trainer/train/trainer.h"

namespace trainer::cli {

// Estimates the training step's memory at `batch_size` from two measured steps on synthetic
// batches of 2 and 3 images (what one more image adds, and what stays), plus the prefetched
// input batches and what the process holds already; prints it, and stops with an Error when it
// exceeds the memory available to this process (shared with the other ranks on this machine).
// CPU runs only (a GPU's memory is not checked yet).
void check_training_memory(train::Trainer& trainer, const tasks::Task& task, int64_t batch_size,
                           int prefetch_batches);

}  // namespace trainer::cli
