// `trainer export`: the task's inference graph, recorded from one eval-mode forward of a blank
// batch with the checkpoint's weights, written as an ONNX model (contract: src/cli/README.md).
#include <filesystem>

#include "trainer/cli/modes.h"
#include "trainer/cli/pipeline.h"
#include "trainer/core/log.h"
#include "trainer/ops/onnx_graph.h"
#include "trainer/train/checkpoint.h"

namespace trainer::cli {

int run_export(const CliArgs& args, MetricsLog& log) {
  Pipeline p = load_pipeline(args);
  if (args.untrained) {
    log_warn("export: the initial weights of seed ", p.run.seed, ", no checkpoint (--untrained)");
  } else {
    std::string path;
    try {
      path = checkpoint_to_load(p, args);
    } catch (const Error& e) {
      fail(e.what(), " (or export the initial weights with --untrained)");
    }
    const bool averaged = p.config.eval_config().use_moving_averages();
    const train::TrainingState s = train::load_inference_weights(path, p.task->store(), averaged);
    log_info("exporting ", path, " (step ", s.step, averaged ? ", moving average of the weights)" : ")");
  }
  OnnxGraph graph(p.task->architecture());
  p.task->record_inference(graph);
  graph.write(args.output_dir);
  const auto bytes = static_cast<int64_t>(std::filesystem::file_size(args.output_dir));
  std::printf("%s: %lld nodes, %lld initializers, %lld bytes\n", args.output_dir.c_str(),
              static_cast<long long>(graph.node_count()), static_cast<long long>(graph.initializer_count()),
              static_cast<long long>(bytes));
  std::fflush(stdout);
  log.metric({{"export.nodes", graph.node_count()}, {"export.bytes", bytes}});
  return 0;
}

}  // namespace trainer::cli
