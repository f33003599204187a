// Boxes, class names and scores drawn onto a picture (predict mode's files, the eval images
// TensorBoard shows), with OpenCV's drawing functions.
#pragma once

#include <string>
#include <vector>

#include "trainer/core/metrics_log.h"
#include "trainer/data/image.h"

namespace trainer::tasks {

struct DrawnBox {
  float ymin, xmin, ymax, xmax;  // normalised to the image
  std::string label;             // "person 0.87"
  int color_index = 0;           // picks a colour from a fixed palette (e.g. the class id)
};

// Draws onto a copy of `image` (RGB or gray) and writes it to `path` (PNG or JPEG by the
// extension). Each label sits on a strip of its box's colour (black or white text, whichever
// reads better), inside the picture, where no earlier box's label is when there is room: list
// the boxes best first. Throws an Error naming the path when it cannot be written.
void draw_boxes(const data::Image& image, const std::vector<DrawnBox>& boxes, const std::string& path);
// The same drawing, returned as an RGB PNG (for MetricsLog::image).
EncodedImage draw_boxes_png(const data::Image& image, const std::vector<DrawnBox>& boxes);

}  // namespace trainer::tasks
