#include <cstdio>
#include <set>

#include "trainer/cli/modes.h"
#include "trainer/cli/pipeline.h"

namespace trainer::cli {
namespace {

// Collects one row per layer as the model runs once on a single blank image.
class LayerTable final : public LayerObserver {
 public:
  void layer(const std::string& name, const char* type, const Tensor& output, int64_t params, double flops) override {
    // A layer applied again (a convolution shared across pyramid levels) owns no new parameters.
    const bool again = !seen_.insert(name).second;
    rows_.push_back({name, again ? std::string(type) + "*" : type, shape_str(output.shape()), again ? 0 : params,
                     flops});
    total_flops_ += flops;
  }
  void print(int64_t parameters) const {
    std::printf("%-36s %-10s %-18s %12s %14s\n", "layer", "type", "output", "params", "FLOPs");
    for (const Row& r : rows_)
      std::printf("%-36s %-10s %-18s %12lld %14.0f\n", r.name.c_str(), r.type.c_str(), r.shape.c_str(),
                  static_cast<long long>(r.params), r.flops);
    if (seen_.size() < rows_.size()) std::printf("* applied again: weights shared with the row of the same name\n");
    std::printf("forward FLOPs per image: %.4g\n", total_flops_);
    std::printf("parameters: %lld\n", static_cast<long long>(parameters));
  }

 private:
  struct Row {
    std::string name, type, shape;
    int64_t params;
    double flops;
  };
  std::vector<Row> rows_;
  std::set<std::string> seen_;
  double total_flops_ = 0;
};

}  // namespace

int run_summary(const CliArgs& args, MetricsLog& log) {
  Pipeline p = load_pipeline(args);
  LayerTable table;
  p.task->trace(table);
  const Shape input = p.task->input_shape();
  std::printf("model: %s, input %lldx%lldx%lld\n", p.task->architecture().c_str(), static_cast<long long>(input[0]),
              static_cast<long long>(input[1]), static_cast<long long>(input[2]));
  table.print(p.task->store().count());
  log.metric({{"parameters", p.task->store().count()}});
  return 0;
}

}  // namespace trainer::cli
