// Parity with the real pycocotools: scripts/eval/pycocotools_oracle.py generates each family of
// adversarial and realistic cases and runs pycocotools on them; we evaluate the same files and
// require bit-identical stats, precision/recall/scores arrays and summary text, through the
// library and through `trainer coco-eval`. Without a working pycocotools the tests fail.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "trainer/cli/coco_eval_command.h"
#include "trainer/core/error.h"
#include "trainer/eval/coco.h"
#include "trainer/eval/coco_eval.h"

namespace fs = std::filesystem;
using namespace trainer::eval;

namespace {

std::string source_dir() {
  const char* dir = std::getenv("TRAINER_SOURCE_DIR");
  return dir ? dir : ".";
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<double> read_f64(const fs::path& path) {
  std::string bytes = read_text(path);
  std::vector<double> values(bytes.size() / sizeof(double));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(double));
  return values;
}

std::string hex(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%a (%.17g)", v, v);
  return buffer;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Runs the oracle for one family ("family" or "family/seed") into a fresh temporary directory.
fs::path run_oracle(const std::string& family_seed) {
  const size_t slash = family_seed.find('/');
  const std::string family = family_seed.substr(0, slash);
  const std::string seed = slash == std::string::npos ? "0" : family_seed.substr(slash + 1);
  std::string templ = (fs::temp_directory_path() / "trainer-coco-parity-XXXXXX").string();
  if (!mkdtemp(templ.data())) ADD_FAILURE() << "mkdtemp failed";
  const char* python = std::getenv("TRAINER_PYTHON");
  std::string command = std::string(python ? python : TRAINER_ORACLE_PYTHON) + " " + source_dir() +
                        "/scripts/eval/pycocotools_oracle.py --families " + family + " --seed " +
                        seed + " --out " + templ + " > " + templ + "/oracle.log 2>&1";
  int status = std::system(command.c_str());
  if (status != 0) {
    ADD_FAILURE() << "the pycocotools oracle failed (" << command << "):\n"
                  << read_text(fs::path(templ) / "oracle.log");
    fs::remove_all(templ);
    return {};
  }
  return templ;
}

CocoEvalParams read_params(const CocoDataset& gt, const fs::path& path) {
  CocoEvalParams p = CocoEvalParams::defaults(gt);
  simdjson::dom::parser parser;
  simdjson::padded_string text(read_text(path));
  simdjson::dom::object overrides = parser.parse(text).get_object().value();
  auto ids = [](simdjson::dom::array a) {
    std::vector<int64_t> out;
    for (auto v : a) out.push_back(static_cast<int64_t>(v.get_double().value()));
    return out;
  };
  auto doubles = [](simdjson::dom::array a) {
    std::vector<double> out;
    for (auto v : a) out.push_back(v.get_double().value());
    return out;
  };
  for (auto [key, value] : overrides) {
    if (key == "imgIds") p.img_ids = ids(value.get_array());
    else if (key == "catIds") p.cat_ids = ids(value.get_array());
    else if (key == "useCats") p.use_cats = value.get_int64().value() != 0;
    else if (key == "iouThrs") p.iou_thrs = doubles(value.get_array());
    else if (key == "recThrs") p.rec_thrs = doubles(value.get_array());
    else if (key == "maxDets") {
      p.max_dets.clear();
      simdjson::dom::array values = value.get_array();
      for (auto v : values) p.max_dets.push_back(static_cast<int>(v.get_int64().value()));
    } else if (key == "areaRng") {
      p.area_rng.clear();
      simdjson::dom::array ranges = value.get_array();
      for (auto v : ranges) {
        std::vector<double> r = doubles(v.get_array());
        p.area_rng.push_back({r.at(0), r.at(1)});
      }
    } else if (key == "areaRngLbl") {
      p.area_rng_lbl.clear();
      simdjson::dom::array labels = value.get_array();
      for (auto v : labels) p.area_rng_lbl.emplace_back(v.get_string().value());
    } else {
      ADD_FAILURE() << path << ": unknown parameter " << key;
    }
  }
  return p;
}

// The first differing cell of a [dims...] C-order array, with its coordinates.
void expect_same_array(const std::string& what, const std::vector<double>& ours,
                       const std::vector<double>& expected, const std::vector<int>& dims,
                       const std::string& names) {
  ASSERT_EQ(ours.size(), expected.size()) << what << ": sizes differ";
  for (size_t n = 0; n < ours.size(); ++n) {
    if (same_bits(ours[n], expected[n])) continue;
    std::vector<int> at(dims.size());
    size_t rest = n;
    for (size_t d = dims.size(); d-- > 0;) at[d] = static_cast<int>(rest % dims[d]), rest /= dims[d];
    std::string coords;
    for (size_t d = 0; d < at.size(); ++d) coords += std::string(d ? ", " : "") + names[d] + "=" + std::to_string(at[d]);
    size_t count = 0;
    for (size_t m = n; m < ours.size(); ++m) count += !same_bits(ours[m], expected[m]);
    FAIL() << what << "[" << coords << "]: ours " << hex(ours[n]) << ", pycocotools "
           << hex(expected[n]) << " (" << count << " cells differ)";
  }
}

bool has_odd_box(const std::vector<CocoAnnotation>& anns) {
  return std::any_of(anns.begin(), anns.end(),
                     [](const CocoAnnotation& a) { return !(a.bbox.w > 0 && a.bbox.h > 0); });
}

struct Manifest {
  std::vector<std::string> cases;
  NumpySum sum = NumpySum::Pairwise;
  std::string numpy;
};

Manifest read_manifest(const fs::path& dir) {
  Manifest m;
  simdjson::dom::parser parser;
  simdjson::padded_string text(read_text(dir / "manifest.json"));
  simdjson::dom::object root = parser.parse(text).get_object().value();
  simdjson::dom::array cases = root["cases"].get_array().value();
  for (auto name : cases) m.cases.emplace_back(name.get_string().value());
  m.numpy = std::string(root["numpy"].get_string().value());
  int major = 0, minor = 0;
  std::sscanf(m.numpy.c_str(), "%d.%d", &major, &minor);
  m.sum = (major > 2 || (major == 2 && minor >= 3)) ? NumpySum::Pairwise : NumpySum::Chunked8192;
  return m;
}

// `trainer coco-eval` in-process: its stdout and the stats it writes (its warnings are checked
// by the command's own tests, and kept off the test log here).
void expect_cli_matches(const fs::path& dir, const std::string& name, const Manifest& manifest,
                        const std::string& summary, const std::vector<std::string>& stats_hex) {
  std::string gt = (dir / (name + ".gt.json")).string(), dt = (dir / (name + ".dt.json")).string(),
              out = (dir / (name + ".stats.json")).string();
  std::vector<std::string> args = {"coco-eval", "--annotations", gt, "--detections", dt,
                                   "--stats-json", out};
  if (manifest.sum == NumpySum::Chunked8192) args.push_back("--legacy-numpy-sum");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  int status = trainer::run_coco_eval_command(static_cast<int>(argv.size()), argv.data());
  std::string printed = testing::internal::GetCapturedStdout();
  std::string warnings = testing::internal::GetCapturedStderr();
  ASSERT_EQ(status, 0) << name << ": " << warnings;
  EXPECT_EQ(printed, summary) << name << ": coco-eval output differs";
  simdjson::dom::parser parser;
  simdjson::padded_string text(read_text(out));
  simdjson::dom::array stats = parser.parse(text)["stats"].get_array().value();
  ASSERT_EQ(stats.size(), 12u);
  size_t i = 0;
  for (auto v : stats) {
    double value = v.is_int64() ? static_cast<double>(v.get_int64().value()) : v.get_double().value();
    EXPECT_TRUE(same_bits(value, std::strtod(stats_hex[i].c_str(), nullptr)))
        << name << ": --stats-json stat " << i << " " << hex(value) << " vs " << stats_hex[i];
    ++i;
  }
}

class CocoParity : public testing::TestWithParam<std::string> {};

TEST_P(CocoParity, MatchesPycocotools) {
  const fs::path dir = run_oracle(GetParam());
  ASSERT_FALSE(dir.empty());
  const Manifest manifest = read_manifest(dir);
  ASSERT_FALSE(manifest.cases.empty());
  int checked_cli = 0;
  for (size_t c = 0; c < manifest.cases.size(); ++c) {
    const std::string& name = manifest.cases[c];
    SCOPED_TRACE("case " + name + " in " + dir.string() + " (numpy " + manifest.numpy + ")");
    auto file = [&](const char* suffix) { return dir / (name + suffix); };
    simdjson::dom::parser parser;
    simdjson::padded_string expect_text(read_text(file(".expect.json")));
    simdjson::dom::object expect = parser.parse(expect_text).get_object().value();

    if (!expect["error"].is_null()) {
      // pycocotools raised: so must we, with our own clear message.
      EXPECT_THROW(
          {
            CocoDataset gt = CocoDataset::load(file(".gt.json").string());
            CocoDataset dt = gt.load_res(file(".dt.json").string());
            summarize(evaluate(gt, dt, read_params(gt, file(".params.json"))), manifest.sum);
          },
          trainer::Error)
          << "pycocotools: " << std::string(expect["error"].get_string().value());
      continue;
    }
    testing::internal::CaptureStderr();
    CocoDataset gt = CocoDataset::load(file(".gt.json").string());
    CocoDataset dt = gt.load_res(file(".dt.json").string());
    // Boxes with a zero or negative side are evaluated, with one warning line per file.
    const std::string warnings = testing::internal::GetCapturedStderr();
    EXPECT_EQ(std::count(warnings.begin(), warnings.end(), '\n'),
              has_odd_box(gt.annotations()) + has_odd_box(dt.annotations()))
        << warnings;
    CocoEvalResult result = evaluate(gt, dt, read_params(gt, file(".params.json")));
    CocoSummary summary = summarize(result, manifest.sum);

    std::vector<int> shape;
    simdjson::dom::array dims = expect["shape"].get_array().value();
    for (auto d : dims) shape.push_back(static_cast<int>(d.get_int64().value()));
    ASSERT_EQ(shape, (std::vector<int>{result.T, result.R, result.K, result.A, result.M}));
    expect_same_array("precision", result.precision, read_f64(file(".precision.f64")), shape, "trkam");
    expect_same_array("scores", result.scores, read_f64(file(".scores.f64")), shape, "trkam");
    expect_same_array("recall", result.recall, read_f64(file(".recall.f64")),
                      {result.T, result.K, result.A, result.M}, "tkam");
    std::vector<std::string> stats_hex;
    simdjson::dom::array expected_stats = expect["stats"].get_array().value();
    for (auto s : expected_stats) stats_hex.emplace_back(s.get_string().value());
    for (int i = 0; i < 12; ++i)
      EXPECT_TRUE(same_bits(summary.stats[i], std::strtod(stats_hex[i].c_str(), nullptr)))
          << "stat " << i << ": ours " << hex(summary.stats[i]) << ", pycocotools " << stats_hex[i];
    const std::string expected_text(expect["summary"].get_string().value());
    EXPECT_EQ(summary.text, expected_text);
    // The command line too, on a spread of cases (it reads the same files).
    if (read_text(file(".params.json")) == "{}" && (c % 20 == 0 || GetParam() != "fuzz")) {
      expect_cli_matches(dir, name, manifest, expected_text, stats_hex);
      ++checked_cli;
    }
    if (HasFailure()) {
      ADD_FAILURE() << "stopping at the first failing case; inputs kept in " << dir;
      return;
    }
  }
  EXPECT_GT(checked_cli, 0);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(
    Families, CocoParity,
    testing::Values("ties", "duplicates", "over100", "crowd", "area", "geometry", "iou_thresholds",
                    "equal_iou", "recall_thresholds", "epsilon", "missing", "identity", "summation",
                    "numbers", "params", "fuzz", "realistic", "odd_boxes", "odd_boxes/1",
                    "odd_boxes/2", "odd_boxes/3"),
    [](const testing::TestParamInfo<std::string>& info) {
      std::string name = info.param;
      if (size_t slash = name.find('/'); slash != std::string::npos) name.replace(slash, 1, "_seed");
      return name;
    });

}  // namespace
