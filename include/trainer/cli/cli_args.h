// The command line (contract: src/cli/README.md):
//   trainer --config FILE.pbtxt [--mode train|eval|benchmark|predict|summary] [--override TEXT]...
//           [--log-json PATH] [--checkpoint PATH] [--output DIR] [IMAGE...]
//   trainer export --config FILE.pbtxt --output MODEL.onnx [--format onnx] [--checkpoint PATH]
//                  [--untrained] [--override TEXT]...
//   trainer coco-eval --annotations GT.json --detections DT.json [--stats-json OUT.json]
// Everything else lives in the pbtxt.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace trainer::cli {

enum class Mode { Train, Eval, Benchmark, Predict, Summary, Export };

struct CliArgs {
  std::string config_path;
  Mode mode = Mode::Train;
  std::vector<std::string> overrides;
  std::string log_json;
  std::string checkpoint;            // eval/predict/export: this file instead of the newest in model_dir
  std::string output_dir;            // predict: annotated images go here; export: the model file
  std::string format = "onnx";       // export: the model file's format (onnx is the only one)
  bool untrained = false;            // export: the initial weights, without a checkpoint
  bool amp = false;                  // --amp: FP16 on CUDA, BF16 on the CPU
  std::vector<std::string> images;   // predict
};

// Parses argv[1..]; returns nullopt after printing help. Throws Error on bad usage.
std::optional<CliArgs> parse_args(int argc, char** argv);
std::string usage();

}  // namespace trainer::cli
