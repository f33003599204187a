// trainer: one executable that trains, evaluates, benchmarks and summarises models from a
// pipeline config, exports their inference graph, and evaluates COCO detection results (interfaces: src/cli/README.md).
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>

#include "trainer/cli/cli_args.h"
#include "trainer/cli/coco_eval_command.h"
#include "trainer/cli/modes.h"
#include "trainer/core/metrics_log.h"
#include "trainer/dist/communicator.h"

int main(int argc, char** argv) {
  using namespace trainer;
  // Past a file-size limit (ulimit -f) a write then fails with EFBIG, which the writer reports
  // with the file's name, instead of the signal killing the process mid-checkpoint.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    if (argc >= 2 && std::strcmp(argv[1], "coco-eval") == 0) return run_coco_eval_command(argc - 1, argv + 1);
    const auto args = cli::parse_args(argc, argv);
    if (!args) return 0;  // --help
    MetricsLog log(dist::launcher_rank() == 0 ? args->log_json : "");  // under mpirun, rank 0 writes it
    switch (args->mode) {
      case cli::Mode::Train: return cli::run_train(*args, log);
      case cli::Mode::Eval: return cli::run_eval(*args, log);
      case cli::Mode::Benchmark: return cli::run_benchmark(*args, log);
      case cli::Mode::Predict: return cli::run_predict(*args, log);
      case cli::Mode::Summary: return cli::run_summary(*args, log);
      case cli::Mode::Export: return cli::run_export(*args, log);
    }
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "trainer: error: %s\n", e.what());
    return 1;
  }
  return 1;
}
