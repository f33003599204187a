#include "trainer/tasks/draw_detections.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>

#include "trainer/core/error.h"

namespace trainer::tasks {
namespace {

// Well separated colours (BGR), readable on photos.
const cv::Scalar kPalette[] = {{75, 25, 230},  {75, 180, 60},  {25, 225, 255}, {200, 130, 0},  {48, 130, 245},
                               {180, 30, 145}, {240, 240, 70}, {230, 50, 240}, {60, 245, 210}, {212, 190, 250}};

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
  for (const DrawnBox& b : boxes) {
    const cv::Scalar color = kPalette[static_cast<size_t>(b.color_index) % std::size(kPalette)];
    const cv::Point p0(static_cast<int>(b.xmin * image.width), static_cast<int>(b.ymin * image.height));
    const cv::Point p1(static_cast<int>(b.xmax * image.width), static_cast<int>(b.ymax * image.height));
    cv::rectangle(canvas, p0, p1, color, thickness, cv::LINE_AA);
    if (b.label.empty()) continue;
    int baseline = 0;
    const cv::Size text = cv::getTextSize(b.label, cv::FONT_HERSHEY_SIMPLEX, font_scale, 1, &baseline);
    // The label sits on a filled strip above the box (below its top edge when there is no room).
    const int top = p0.y - text.height - baseline - 2 >= 0 ? p0.y - text.height - baseline - 2 : p0.y;
    cv::rectangle(canvas, cv::Point(p0.x, top), cv::Point(p0.x + text.width + 4, top + text.height + baseline + 2),
                  color, cv::FILLED);
    cv::putText(canvas, b.label, cv::Point(p0.x + 2, top + text.height + 1), cv::FONT_HERSHEY_SIMPLEX, font_scale,
                cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
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
