// The line-plot renderer and the precision-recall picture: files that decode to the size asked
// for, with the lines drawn in their colours, and clear errors for what cannot be drawn.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "../scratch_dir.h"
#include "trainer/core/error.h"
#include "trainer/eval/line_plot.h"
#include "trainer/eval/pr_curve_plot.h"

using namespace trainer::eval;

namespace {

// Pixels within `tolerance` of a BGR colour.
int count_colour(const cv::Mat& image, cv::Vec3b bgr, int tolerance = 8) {
  int n = 0;
  for (int y = 0; y < image.rows; ++y)
    for (int x = 0; x < image.cols; ++x) {
      const cv::Vec3b p = image.at<cv::Vec3b>(y, x);
      if (std::abs(p[0] - bgr[0]) <= tolerance && std::abs(p[1] - bgr[1]) <= tolerance &&
          std::abs(p[2] - bgr[2]) <= tolerance)
        ++n;
    }
  return n;
}

const cv::Vec3b kFirstColour(180, 119, 31), kSecondColour(14, 127, 255);  // the cycle's blue and orange

}  // namespace

TEST(LinePlot, WritesAPngOfTheSizeAskedForWithEachSeriesInItsColour) {
  const test_support::ScratchDir dir("plot");
  LinePlot plot;
  plot.title = "two lines";
  plot.x_label = "step";
  plot.y_label = "loss";
  plot.width = 640;
  plot.height = 480;
  plot.series = {{"rising", {0, 100, 200}, {1, 2, 3}}, {"flat", {0, 200}, {2.5, 2.5}}};
  const std::string path = dir / "lines.png";
  write_line_plot(plot, path);
  const cv::Mat image = cv::imread(path, cv::IMREAD_COLOR);
  ASSERT_FALSE(image.empty());
  EXPECT_EQ(image.cols, 640);
  EXPECT_EQ(image.rows, 480);
  // Two-pixel lines across most of the width, plus their legend samples.
  EXPECT_GT(count_colour(image, kFirstColour), 600);
  EXPECT_GT(count_colour(image, kSecondColour), 600);
  EXPECT_EQ(count_colour(image, {40, 39, 214}), 0);  // the third colour: no third series
  // White background, black text and frame.
  EXPECT_GT(count_colour(image, {255, 255, 255}, 0), image.total() / 2);
  EXPECT_GT(count_colour(image, {0, 0, 0}, 40), 1000);
}

TEST(LinePlot, LogAxisLeavesOutPointsItCannotShow) {
  const test_support::ScratchDir dir("plot");
  LinePlot plot;
  plot.log_y = true;
  plot.series = {{"loss", {0, 1, 2, 3, 4}, {10, 0, 1, -1, 0.01}}, {"nan", {0, 1}, {NAN, INFINITY}}};
  const std::string path = dir / "log.png";
  write_line_plot(plot, path);
  const cv::Mat image = cv::imread(path, cv::IMREAD_COLOR);
  ASSERT_FALSE(image.empty());
  EXPECT_EQ(image.cols, 800);
  EXPECT_EQ(image.rows, 600);
  EXPECT_GT(count_colour(image, kFirstColour), 20);
}

TEST(LinePlot, MalformedPlotsAndUnwritablePathsAreErrorsNamingThePath) {
  const test_support::ScratchDir dir("plot");
  LinePlot plot;
  plot.series = {{"bad", {0, 1, 2}, {1, 2}}};
  try {
    write_line_plot(plot, dir / "bad.png");
    FAIL() << "no error";
  } catch (const trainer::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'bad' has 3 x values but 2 y values"), std::string::npos) << e.what();
  }
  plot.series = {{"ok", {0, 1}, {1, 2}}};
  const std::string nowhere = dir / "missing/folder/plot.png";
  try {
    write_line_plot(plot, nowhere);
    FAIL() << "no error";
  } catch (const trainer::Error& e) {
    EXPECT_NE(std::string(e.what()).find(nowhere), std::string::npos) << e.what();
  }
  plot.width = 100;
  EXPECT_THROW(write_line_plot(plot, dir / "tiny.png"), trainer::Error);
}

TEST(PrCurvePlot, DrawsEveryThresholdThatHasGroundTruth) {
  const test_support::ScratchDir dir("plot");
  std::vector<PrCurve> curves(10);
  for (int t = 0; t < 10; ++t) {
    curves[t].iou_threshold = 0.5 + 0.05 * t;
    if (t == 9) continue;  // as if no category had ground truth
    for (int r = 0; r <= 100; ++r) {
      curves[t].recall.push_back(r / 100.0);
      curves[t].precision.push_back(r / 100.0 <= 0.9 - 0.08 * t ? 1.0 - 0.05 * t : 0.0);
    }
    curves[t].ap = 0.5;
  }
  const std::string path = dir / "pr.png";
  write_pr_curves_plot(curves, "precision-recall", path);
  const cv::Mat image = cv::imread(path, cv::IMREAD_COLOR);
  ASSERT_FALSE(image.empty());
  EXPECT_EQ(image.cols, 800);
  EXPECT_EQ(image.rows, 600);
  EXPECT_GT(count_colour(image, kFirstColour), 300);
  EXPECT_GT(count_colour(image, {207, 190, 23}), 10);  // the tenth colour: its legend entry only
}
