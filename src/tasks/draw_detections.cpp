#include "trainer/tasks/draw_detections.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <span>
#include <vector>

#include "trainer/core/error.h"

namespace trainer::tasks {
namespace {

// Well separated colours (BGR), readable on photos.
const cv::Scalar kPalette[] = {{75, 25, 230},  {75, 180, 60},  {25, 225, 255}, {200, 130, 0},  {48, 130, 245},
                               {180, 30, 145}, {240, 240, 70}, {230, 50, 240}, {60, 245, 210}, {212, 190, 250}};

// Where a label goes: the first of above the box, inside its top, below it, inside its bottom,
// and one or two label heights further out (each moved into the picture) that no label placed
// before covers; else the one covered least.
cv::Rect place_label(cv::Size text, cv::Point p0, cv::Point p1, cv::Size image, std::span<const cv::Rect> taken) {
  const int h = text.height;
  const cv::Point corners[] = {{p0.x, p0.y - h},     {p0.x, p0.y},     {p0.x, p1.y},         {p0.x, p1.y - h},
                               {p0.x, p0.y - 2 * h}, {p0.x, p1.y + h}, {p0.x, p0.y - 3 * h}, {p0.x, p1.y + 2 * h}};
  cv::Rect best;
  int least = -1;
  for (cv::Point c : corners) {
    const cv::Rect r(std::clamp(c.x, 0, std::max(0, image.width - text.width)),
                     std::clamp(c.y, 0, std::max(0, image.height - text.height)), text.width, text.height);
    int covered = 0;
    for (const cv::Rect& t : taken) covered += (r & t).area();
    if (covered == 0) return r;
    if (least < 0 || covered < least) least = covered, best = r;
  }
  return best;
}

// The picture with its boxes, in OpenCV's BGR order. `name`: the picture's, for the error.
cv::Mat drawn(const data::Image& image, const std::vector<DrawnBox>& boxes, const std::string& name) {
  TRAINER_CHECK(!image.empty() && (image.channels == 3 || image.channels == 1), "draw_boxes: an empty image for ",
                name);
  cv::Mat rgb(image.height, image.width, image.channels == 3 ? CV_8UC3 : CV_8UC1,
              const_cast<uint8_t*>(image.pixels.data()));
  cv::Mat canvas;
  cv::cvtColor(rgb, canvas, image.channels == 3 ? cv::COLOR_RGB2BGR : cv::COLOR_GRAY2BGR);
  // Line width and text size grow with the picture, so a box stays visible on a large photo.
  const int thickness = std::max(1, std::min(image.height, image.width) / 250);
  const double font_scale = std::max(0.4, std::min(image.height, image.width) / 800.0);
  const int text_thickness = font_scale >= 0.8 ? 2 : 1;
  auto colour_of = [](const DrawnBox& b) { return kPalette[static_cast<size_t>(b.color_index) % std::size(kPalette)]; };
  auto corners = [&](const DrawnBox& b) {
    return std::pair(cv::Point(static_cast<int>(b.xmin * image.width), static_cast<int>(b.ymin * image.height)),
                     cv::Point(static_cast<int>(b.xmax * image.width), static_cast<int>(b.ymax * image.height)));
  };
  for (const DrawnBox& b : boxes) {
    const auto [p0, p1] = corners(b);
    cv::rectangle(canvas, p0, p1, colour_of(b), thickness, cv::LINE_AA);
  }
  // Labels after every box, each on a filled strip of its box's colour, placed so they do not
  // cover each other where there is room: the earlier boxes (predict lists the best scores
  // first) get the clearest places and are drawn last, on top.
  std::vector<cv::Rect> taken(boxes.size());
  for (size_t i = 0; i < boxes.size(); ++i) {
    if (boxes[i].label.empty()) continue;
    int baseline = 0;
    const cv::Size text = cv::getTextSize(boxes[i].label, cv::FONT_HERSHEY_SIMPLEX, font_scale, text_thickness, &baseline);
    const auto [p0, p1] = corners(boxes[i]);
    taken[i] = place_label({text.width + 6, text.height + baseline + 6}, p0, p1, canvas.size(),
                           std::span<const cv::Rect>(taken.data(), i));
  }
  for (size_t i = boxes.size(); i-- > 0;) {
    if (boxes[i].label.empty()) continue;
    const cv::Scalar colour = colour_of(boxes[i]);
    const cv::Rect& r = taken[i];
    cv::rectangle(canvas, r, colour, cv::FILLED);
    // Black text on light colours, white on dark ones (ITU-R BT.601 luma).
    const double luma = 0.114 * colour[0] + 0.587 * colour[1] + 0.299 * colour[2];
    int baseline = 0;
    cv::getTextSize(boxes[i].label, cv::FONT_HERSHEY_SIMPLEX, font_scale, text_thickness, &baseline);
    cv::putText(canvas, boxes[i].label, cv::Point(r.x + 3, r.y + r.height - baseline - 3), cv::FONT_HERSHEY_SIMPLEX,
                font_scale, luma > 140 ? cv::Scalar(0, 0, 0) : cv::Scalar(255, 255, 255), text_thickness, cv::LINE_AA);
  }
  return canvas;
}

}  // namespace

void draw_boxes(const data::Image& image, const std::vector<DrawnBox>& boxes, const std::string& path) {
  const cv::Mat canvas = drawn(image, boxes, path);
  bool written = false;
  try {
    written = cv::imwrite(path, canvas);
  } catch (const cv::Exception& e) {
    fail("cannot write ", path, ": ", e.what());
  }
  TRAINER_CHECK(written, "cannot write ", path, " (check the folder and the extension: .png or .jpg)");
}

EncodedImage draw_boxes_png(const data::Image& image, const std::vector<DrawnBox>& boxes) {
  const cv::Mat canvas = drawn(image, boxes, "a picture to encode");
  EncodedImage out;
  out.height = canvas.rows;
  out.width = canvas.cols;
  out.channels = 3;
  TRAINER_CHECK(cv::imencode(".png", canvas, out.png), "draw_boxes: PNG encoding of a ", out.width, "x", out.height,
                " picture failed");
  return out;
}

}  // namespace trainer::tasks
