#include "trainer/cli/cli_args.h"

#include <cstdio>
#include <cstring>

#include "trainer/core/error.h"

namespace trainer::cli {

std::string usage() {
  return "usage: trainer --config FILE.pbtxt [--mode train|eval|benchmark|predict|summary]\n"
         "               [--override 'TEXT PROTO']... [--log-json PATH] [--checkpoint PATH]\n"
         "               [--output DIR] [--amp] [IMAGE...]\n"
         "       trainer export --config FILE.pbtxt --output MODEL.onnx [--format onnx] [--checkpoint PATH]\n"
         "                      [--untrained] [--override 'TEXT PROTO']...\n"
         "       trainer coco-eval --annotations GT.json --detections DT.json [--stats-json OUT.json]\n"
         "\n"
         "  --config      the pipeline config (TF Object Detection API text format, plus trainer's sections)\n"
         "  --mode        train (default), eval, benchmark, predict (IMAGE files), summary\n"
         "  --override    text proto merged over the config, e.g. 'train_config { batch_size: 64 }'\n"
         "  --log-json    append DLLogger-style JSON lines to PATH\n"
         "  --checkpoint  eval/predict/export: use this checkpoint instead of the newest in runtime.model_dir\n"
         "  --output      predict: write the images with their detections drawn into DIR;\n"
         "                export: the model file to write\n"
         "  --format      export: onnx (the inference graph, batchnorm folded; its input is the\n"
         "                preprocessed batch [N,H,W,3] the network sees, after resizing and normalisation)\n"
         "  --untrained   export: the config's initial weights instead of a checkpoint\n"
         "  --amp         automatic mixed precision, as NVIDIA's recipes and torch.autocast mean it: FP16 with\n"
         "                dynamic loss scaling on CUDA, BF16 on the CPU (precision.compute_dtype)\n";
}

namespace {

Mode parse_mode(const std::string& s) {
  if (s == "train") return Mode::Train;
  if (s == "eval") return Mode::Eval;
  if (s == "benchmark") return Mode::Benchmark;
  if (s == "predict") return Mode::Predict;
  if (s == "summary") return Mode::Summary;
  fail("--mode ", s, ": expected one of train, eval, benchmark, predict, summary");
}

}  // namespace

std::optional<CliArgs> parse_args(int argc, char** argv) {
  CliArgs args;
  bool mode_given = false;
  bool format_given = false;
  // `trainer export ...`: a subcommand, so its options read as a command of their own.
  const bool exporting = argc >= 2 && std::strcmp(argv[1], "export") == 0;
  if (exporting) args.mode = Mode::Export;
  for (int i = exporting ? 2 : 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string value;
    bool has_inline = false;
    if (a.rfind("--", 0) == 0) {
      const size_t eq = a.find('=');
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
        has_inline = true;
      }
    }
    auto take = [&]() -> std::string {
      if (has_inline) return value;
      TRAINER_CHECK(i + 1 < argc, a, " needs a value (see trainer --help)");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::fputs(usage().c_str(), stdout);
      return std::nullopt;
    } else if (a == "--config") {
      args.config_path = take();
    } else if (a == "--mode") {
      TRAINER_CHECK(!exporting, "trainer export takes no --mode");
      args.mode = parse_mode(take());
      mode_given = true;
    } else if (a == "--override") {
      args.overrides.push_back(take());
    } else if (a == "--log-json") {
      args.log_json = take();
    } else if (a == "--checkpoint") {
      args.checkpoint = take();
    } else if (a == "--output") {
      args.output_dir = take();
    } else if (a == "--format") {
      args.format = take();
      format_given = true;
    } else if (a == "--untrained") {
      TRAINER_CHECK(!has_inline, "--untrained takes no value");
      args.untrained = true;
    } else if (a == "--amp") {
      TRAINER_CHECK(!has_inline, "--amp takes no value");
      args.amp = true;
    } else if (a.rfind("-", 0) == 0) {
      fail("unknown option ", a, " (see trainer --help)");
    } else {
      args.images.push_back(a);
    }
  }
  TRAINER_CHECK(!args.config_path.empty(), "--config is required (see trainer --help)");
  TRAINER_CHECK(exporting || (!format_given && !args.untrained), "--format and --untrained are for trainer export");
  if (exporting) {
    TRAINER_CHECK(args.format == "onnx", "--format ", args.format, ": trainer export writes onnx only");
    TRAINER_CHECK(!args.output_dir.empty(), "trainer export needs --output MODEL.onnx");
    TRAINER_CHECK(!args.untrained || args.checkpoint.empty(), "--untrained and --checkpoint exclude each other");
    TRAINER_CHECK(!args.amp, "trainer export writes an f32 graph; --amp does not apply");
  }
  TRAINER_CHECK(args.images.empty() || (mode_given && args.mode == Mode::Predict), "unexpected argument ",
                args.images.empty() ? "" : args.images[0], " (image files are for --mode predict)");
  TRAINER_CHECK(args.mode != Mode::Predict || !args.images.empty(), "--mode predict needs image files");
  return args;
}

}  // namespace trainer::cli
