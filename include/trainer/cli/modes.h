// One function per `--mode`; each returns the process exit status.
#pragma once

#include "trainer/cli/cli_args.h"
#include "trainer/core/metrics_log.h"

namespace trainer::cli {

int run_train(const CliArgs& args, MetricsLog& log);
int run_eval(const CliArgs& args, MetricsLog& log);
int run_benchmark(const CliArgs& args, MetricsLog& log);
int run_predict(const CliArgs& args, MetricsLog& log);
int run_summary(const CliArgs& args, MetricsLog& log);
int run_export(const CliArgs& args, MetricsLog& log);

}  // namespace trainer::cli
