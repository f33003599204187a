// `trainer coco-eval`: exit statuses and one-line reasons for bad use and bad input, and a run on
// the real val2017 annotations (its numbers are checked against pycocotools by the parity suite).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "trainer/cli/coco_eval_command.h"
#include "trainer/eval/coco.h"

namespace fs = std::filesystem;

namespace {

struct CommandRun {
  int status;
  std::string out, err;
};

CommandRun run(std::vector<std::string> args) {
  args.insert(args.begin(), "coco-eval");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  int status = trainer::run_coco_eval_command(static_cast<int>(argv.size()), argv.data());
  std::string out = testing::internal::GetCapturedStdout();
  std::string err = testing::internal::GetCapturedStderr();
  return {status, out, err};
}

std::string mini_path() {
  const char* dir = std::getenv("TRAINER_SOURCE_DIR");
  return std::string(dir ? dir : ".") +
         "/tests/eval/data/instances_val2017_mini.json";
}

class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "trainer-coco-cli-XXXXXX").string();
    path_ = mkdtemp(templ.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    std::string path = (path_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  fs::path path() const { return path_; }

 private:
  fs::path path_;
};

// The reason must be one line on stderr, naming the command.
void expect_one_line_error(const CommandRun& r, int status, const std::string& part) {
  EXPECT_EQ(r.status, status);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(r.err.find("trainer coco-eval: "), 0u) << r.err;
  EXPECT_NE(r.err.find(part), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}

TEST(CocoEvalCommand, UsageErrors) {
  expect_one_line_error(run({}), 2, "--annotations and --detections are required");
  expect_one_line_error(run({"--annotations", "a.json"}), 2, "are required");
  expect_one_line_error(run({"--annotations"}), 2, "--annotations needs a value");
  expect_one_line_error(run({"--annotations=a", "--detections=b", "--plot"}), 2,
                        "unknown argument '--plot'");
  CommandRun help = run({"--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("usage: trainer coco-eval"), std::string::npos);
}

TEST(CocoEvalCommand, BadInputIsReportedNotCrashed) {
  TempDir dir;
  std::string gt = mini_path();
  expect_one_line_error(run({"--annotations", "/nonexistent.json", "--detections", gt}), 1,
                        "cannot open /nonexistent.json");
  std::string broken = dir.write("broken.json", "[\n {\"image_id\": 17627,, }\n]");
  expect_one_line_error(run({"--annotations", gt, "--detections", broken}), 1, "broken.json:2:");
  std::string empty = dir.write("empty.json", "[]");
  expect_one_line_error(run({"--annotations", gt, "--detections", empty}), 1, "no detections");
  std::string unknown = dir.write(
      "unknown.json", R"([{"image_id": 5, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}])");
  expect_one_line_error(run({"--annotations", gt, "--detections", unknown}), 1,
                        "detections[0].image_id 5 is not an image of the annotations");
  std::string nan_score = dir.write(
      "nan.json", R"([{"image_id": 17627, "category_id": 1, "bbox": [0, 0, 1, 1], "score": NaN}])");
  expect_one_line_error(run({"--annotations", gt, "--detections", nan_score}), 1, "nan.json:1:");
  std::string swapped_dt = dir.write(
      "dt.json", R"([{"image_id": 17627, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}])");
  expect_one_line_error(run({"--annotations", swapped_dt, "--detections", gt}), 1,
                        "is this a results file?");
  expect_one_line_error(run({"--annotations", gt, "--detections", swapped_dt, "--stats-json",
                             (dir.path() / "missing-dir" / "s.json").string()}),
                        1, "cannot write");
}

// Boxes with a zero or negative side are evaluated, as pycocotools does (the parity suite's
// odd_boxes family checks the numbers), with one warning line per file.
TEST(CocoEvalCommand, OddBoxesAreEvaluatedWithOneWarningPerFile) {
  TempDir dir;
  std::string gt = dir.write("gt.json", R"({"images": [{"id": 1}], "categories": [{"id": 1}],
    "annotations": [
      {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
      {"id": 2, "image_id": 1, "category_id": 1, "bbox": [10, 20, -30, 40], "area": 1200, "iscrowd": 0},
      {"id": 3, "image_id": 1, "category_id": 1, "bbox": [50, 20, 30, 0], "area": 1200, "iscrowd": 0}]})");
  std::string dt = dir.write("dt.json", R"([
    {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
    {"image_id": 1, "category_id": 1, "bbox": [10, 20, -30, 40], "score": 0.8}])");
  CommandRun r = run({"--annotations", gt, "--detections", dt});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "warning: " + gt +
                       ": 2 boxes have a zero or negative width or height (the first: "
                       "annotations[1].bbox [10, 20, -30, 40]); evaluated as pycocotools does: "
                       "such a box overlaps nothing (IoU 0 with any box)\n"
                       "warning: " + dt +
                       ": 1 box has a zero or negative width or height (detections[1].bbox [10, "
                       "20, -30, 40]); evaluated as pycocotools does: such a box overlaps nothing "
                       "(IoU 0 with any box)\n");
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 12);
  // One of three GTs found, by the first of two detections; the second, outside every area
  // range (w * h = -1200), is ignored rather than a false positive: AP 0.3366..., AR 0.3333.
  EXPECT_NE(r.out.find("(AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.337"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("(AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.333"), std::string::npos)
      << r.out;
}

TEST(CocoEvalCommand, EvaluatesRealAnnotations) {
  TempDir dir;
  trainer::eval::CocoDataset gt = trainer::eval::CocoDataset::load(mini_path());
  std::vector<trainer::eval::Detection> dets;
  for (const auto& a : gt.annotations())  // every object found, slightly off
    dets.push_back({a.image_id, a.category_id, {a.bbox.x + 1, a.bbox.y, a.bbox.w, a.bbox.h}, 0.5});
  std::string dt = dir.write("dt.json", trainer::eval::detections_to_json(dets));
  std::string stats = (dir.path() / "stats.json").string();
  CommandRun r = run({"--annotations", mini_path(), "--detections=" + dt, "--stats-json", stats});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty());
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 12);
  EXPECT_EQ(r.out.find(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = "), 0u);
  std::ifstream in(stats);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("{\"stats\": ["), 0u);
  EXPECT_EQ(std::count(text.begin(), text.end(), ','), 11);
}

}  // namespace
