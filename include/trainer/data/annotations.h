// What a detection sample knows about its objects, in the TF Object Detection API's convention:
// boxes as [ymin, xmin, ymax, xmax] normalised to the image (0 = top/left edge, 1 =
// bottom/right edge), class ids as in the label map (1..K; 0 is the background and never an
// object). The same struct describes a sample as read (normalised to the stored image) and a
// batch row (normalised to the transformed output image), so boxes and pixels travel together.
#pragma once

#include <cstdint>
#include <vector>

namespace trainer::data {

struct BoxAnnotation {
  float ymin = 0, xmin = 0, ymax = 0, xmax = 0;  // normalised to the image
  int32_t label = 0;    // class id 1..K, as in the label map
  bool crowd = false;   // COCO's iscrowd: the evaluator ignores detections matched to it
  float area = -1;      // pixels of the original image, from the record/JSON; -1 if unknown
  bool operator==(const BoxAnnotation&) const = default;
};

struct ImageAnnotations {
  int64_t image_id = -1;  // COCO image id (source_id); -1 when unknown (classification)
  int original_height = 0, original_width = 0;  // of the source image, before any transform
  std::vector<BoxAnnotation> boxes;
  // A batch row's TF true_image_shape over its size: the top-left part of the output image that
  // holds the resized image, the rest being the resizer's zero padding (keep_aspect_ratio_resizer
  // with pad_to_max_dimension), as float(true) / float(output), the values of TensorFlow's clip
  // window. 1 when nothing is padded (and for samples as read). Boxes are normalised to the whole
  // output either way; tasks/coco_results.h maps them back to the original image.
  float true_height_fraction = 1.0f, true_width_fraction = 1.0f;
  bool operator==(const ImageAnnotations&) const = default;
};

}  // namespace trainer::data
