#include "trainer/cli/memory_check.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "trainer/core/log.h"
#include "trainer/core/system_memory.h"
#include "trainer/tasks/data_batch.h"

namespace trainer::cli {
namespace {

std::string gib(double bytes) {
  char text[32];
  if (bytes >= (1ull << 30)) std::snprintf(text, sizeof text, "%.1f GiB", bytes / (1ull << 30));
  else if (bytes >= (10 << 20)) std::snprintf(text, sizeof text, "%.0f MiB", bytes / (1 << 20));
  else std::snprintf(text, sizeof text, "%.2f MiB", bytes / (1 << 20));
  return text;
}

// Processes of this job on this machine, as the launcher says (they share its memory).
int local_processes() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"})
    if (const char* v = std::getenv(name)) {
      const int n = std::atoi(v);
      if (n > 0) return n;
    }
  return 1;
}

}  // namespace

void check_training_memory(train::Trainer& trainer, const tasks::Task& task, int64_t batch_size,
                           int prefetch_batches) {
  // Two steps on synthetic batches of 2 and 3 images (2 at least: batchnorm needs two values per
  // channel where the maps end 1x1): the allocator's high-water marks give what one more image
  // adds; the resident set's growth in the first also counts what the tensor allocator does not
  // see (oneDNN's primitives and scratchpads, thread stacks).
  const tasks::DataBatch small(task.synthetic_batch(2)), larger(task.synthetic_batch(3));
  const double held = static_cast<double>(resident_memory());
  const bool rss_measured = reset_resident_peak();
  const size_t two = trainer.step_memory(small);
  if (two == 0) return;  // not on the CPU
  const double first_growth = rss_measured ? static_cast<double>(resident_peak()) - held : 0.0;
  const size_t three = trainer.step_memory(larger);
  const double per_image = three > two ? static_cast<double>(three - two) : static_cast<double>(two) / 2;
  const double fixed = std::max({0.0, static_cast<double>(two) - 2 * per_image, first_growth - 2 * per_image});
  // The batches in flight (f32 images): the loader's prefetch window, the one being trained on,
  // the next one, which the training loop takes during the step (Trainer::run), and the one the
  // workers fill next.
  const int in_flight = prefetch_batches + 3;
  double image_bytes = 4;
  for (const int64_t d : task.input_shape()) image_bytes *= static_cast<double>(d);
  const double inputs = static_cast<double>(in_flight) * static_cast<double>(batch_size) * image_bytes;
  const double need = held + fixed + static_cast<double>(batch_size) * per_image + inputs;
  const MemoryLimit limit = available_memory();
  const int sharing = local_processes();
  const double room = static_cast<double>(limit.bytes) / sharing + held;  // what is held is ours already
  const std::string shared = sharing > 1 ? str(", shared by ", sharing, " processes on this machine") : "";
  log_info("memory: about ", gib(need), " for batch ", batch_size, " (", gib(per_image), " per image in a step, ",
           gib(inputs), " of input batches, ", gib(held), " held now); ", gib(room), " available (", limit.source,
           shared, ")");
  if (need <= room) return;
  const double fits = (room - held - fixed) / (per_image + in_flight * image_bytes);
  fail("batch ", batch_size, " needs about ", gib(need), " of memory (", gib(per_image), " per image in a step), more than the ",
       gib(room), " available (", limit.source, shared, "): the largest batch that fits is about ",
       std::max<int64_t>(0, static_cast<int64_t>(fits)),
       ". Lower train_config.batch_size, or spread the batch over more processes (mpirun)");
}

}  // namespace trainer::cli
