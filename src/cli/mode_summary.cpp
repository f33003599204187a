#include <cstdio>
#include <set>

#include "trainer/cli/modes.h"
#include "trainer/cli/pipeline.h"

namespace trainer::cli {
namespace {

// Collects one row per layer as the model runs once on a single blank image, with the dtype
// its main op computes in (the precision policy's choice for its op class) and the dtype it
// stored.
class LayerTable final : public LayerObserver {
 public:
  explicit LayerTable(const PrecisionPolicy& precision) : precision_(precision) {}

  void layer(const std::string& name, const char* type, OpClass op_class, const Tensor& output, int64_t params,
             double flops) override {
    // A layer applied again (a convolution shared across pyramid levels) owns no new parameters.
    const bool again = !seen_.insert(name).second;
    const OpPrecision p = precision_.of(op_class);
    const std::string compute = p.tf32 ? "tf32" : std::string(dtype_name(p.compute));
    rows_.push_back({name, again ? std::string(type) + "*" : type, shape_str(output.shape()), compute,
                     std::string(dtype_name(output.dtype())), again ? 0 : params, flops});
    total_flops_ += flops;
  }
  void print(int64_t parameters) const {
    std::printf("%-36s %-10s %-18s %-8s %-6s %12s %14s\n", "layer", "type", "output", "compute", "stored", "params",
                "FLOPs");
    for (const Row& r : rows_)
      std::printf("%-36s %-10s %-18s %-8s %-6s %12lld %14.0f\n", r.name.c_str(), r.type.c_str(), r.shape.c_str(),
                  r.compute.c_str(), r.stored.c_str(), static_cast<long long>(r.params), r.flops);
    if (seen_.size() < rows_.size()) std::printf("* applied again: weights shared with the row of the same name\n");
    std::printf("precision %s\n", precision_.describe().c_str());
    std::printf("forward FLOPs per image: %.4g\n", total_flops_);
    std::printf("parameters: %lld\n", static_cast<long long>(parameters));
  }

 private:
  struct Row {
    std::string name, type, shape, compute, stored;
    int64_t params;
    double flops;
  };
  PrecisionPolicy precision_;
  std::vector<Row> rows_;
  std::set<std::string> seen_;
  double total_flops_ = 0;
};

}  // namespace

int run_summary(const CliArgs& args, MetricsLog& log) {
  Pipeline p = load_pipeline(args);
  LayerTable table(p.run.precision);
  p.task->trace(table);
  const Shape input = p.task->input_shape();
  std::printf("model: %s, input %lldx%lldx%lld\n", p.task->architecture().c_str(), static_cast<long long>(input[0]),
              static_cast<long long>(input[1]), static_cast<long long>(input[2]));
  table.print(p.task->store().count());
  log.metric({{"parameters", p.task->store().count()}});
  return 0;
}

}  // namespace trainer::cli
