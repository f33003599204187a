// Predict's pictures: every label readable, none hidden under another where there is room, and
// none cut off at the picture's edge.
#include <gtest/gtest.h>

#include <filesystem>

#include "../scratch_dir.h"
#include "trainer/data/decode.h"
#include "trainer/data/image_folder.h"
#include "trainer/tasks/draw_detections.h"

namespace trainer::tasks {
namespace {

namespace fs = std::filesystem;

// Pixels of exactly this RGB colour in columns [x0, x1).
int count(const data::Image& image, std::array<uint8_t, 3> rgb, int x0 = 0, int x1 = -1) {
  if (x1 < 0) x1 = image.width;
  int n = 0;
  for (int y = 0; y < image.height; ++y)
    for (int x = x0; x < x1; ++x) {
      const uint8_t* p = image.row(y) + x * 3;
      n += p[0] == rgb[0] && p[1] == rgb[1] && p[2] == rgb[2];
    }
  return n;
}

data::Image drawn(const std::vector<DrawnBox>& boxes, const fs::path& path) {
  data::Image grey(300, 400, 3);
  std::fill(grey.pixels.begin(), grey.pixels.end(), uint8_t{128});
  draw_boxes(grey, boxes, path.string());
  return data::decode_image(data::read_file_bytes(path.string()), path.string(), data::ColorMode::kRgb);
}

// The palette's first two colours, as RGB.
constexpr std::array<uint8_t, 3> kRed{230, 25, 75}, kGreen{60, 180, 75};

TEST(DrawDetections, TwoLabelsOfTheSameBoxBothStayVisible) {
  const test_support::ScratchDir dir("draw");
  const data::Image one = drawn({{0.3f, 0.3f, 0.7f, 0.6f, "person 0.91", 0}}, dir / "one.png");
  const int alone = count(one, kRed);
  ASSERT_GT(alone, 1000);  // the outline and the label's strip
  // A second detection on the same box: its label goes elsewhere, the first one's strip stays.
  const data::Image two = drawn({{0.3f, 0.3f, 0.7f, 0.6f, "person 0.91", 0}, {0.3f, 0.3f, 0.7f, 0.6f, "dog 0.42", 1}},
                                dir / "two.png");
  EXPECT_GT(count(two, kRed), alone * 8 / 10);
  EXPECT_GT(count(two, kGreen), 700);
}

TEST(DrawDetections, ALabelAtTheRightEdgeIsMovedInsideThePicture) {
  const test_support::ScratchDir dir("draw");
  const data::Image image = drawn({{0.4f, 0.9f, 0.8f, 1.0f, "a long class name 0.99", 0}}, dir / "edge.png");
  // The strip is wider than the box's 40 columns: it reaches left of the box, inside the picture.
  EXPECT_GT(count(image, kRed, 0, 340), 500);
}

}  // namespace
}  // namespace trainer::tasks
