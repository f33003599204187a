// tf.train.Example records holding one image and its class, as TensorFlow's ImageNet
// converter (build_imagenet_data.py, which NVIDIA's scripts use) writes them, or one image and
// its objects, as the TF Object Detection API's create_coco_tf_record.py writes them. The
// protobuf types stay inside the data library; callers see bytes and plain values.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace trainer::data {

struct ImageExampleKeys {
  std::string image = "image/encoded";
  std::string label = "image/class/label";
};

struct ImageExample {
  std::vector<uint8_t> encoded;  // the compressed image
  int64_t label = -1;
};

// Throws BadSampleError naming `name` when the record is not an Example or lacks the keys.
ImageExample parse_image_example(std::span<const uint8_t> record, std::string_view name,
                                 const ImageExampleKeys& keys = {});

// A serialised Example with the image, its label, and `image/format` ("JPEG", "PNG", ...) and
// `image/filename` as the ImageNet converter also writes them.
std::vector<uint8_t> make_image_example(std::span<const uint8_t> encoded, int64_t label, std::string_view format,
                                        std::string_view filename, const ImageExampleKeys& keys = {});

// A detection record in the create_coco_tf_record.py layout. Every feature is optional when
// parsing except image/encoded; absent lists are empty, absent scalars as below.
struct DetectionExample {
  std::vector<uint8_t> encoded;  // image/encoded
  std::string format;            // image/format ("jpeg")
  std::string filename;          // image/filename
  std::string source_id;         // image/source_id: the COCO image id as text
  int64_t height = -1, width = -1;  // image/height, image/width
  // image/object/bbox/{ymin,xmin,ymax,xmax}: normalised, one per object
  std::vector<float> ymin, xmin, ymax, xmax;
  std::vector<int64_t> class_label;     // image/object/class/label: ids 1..K
  std::vector<std::string> class_text;  // image/object/class/text: names; create_coco_tf_record
                                        // writes these (COCO category names), not ids
  std::vector<int64_t> is_crowd;        // image/object/is_crowd
  std::vector<float> area;              // image/object/area: pixels of the original image
};

// Throws BadSampleError naming `name` and the feature for a record that is not an Example, a
// feature of the wrong type (e.g. "image/object/bbox/xmin is a bytes_list, expected a
// float_list") or a missing image/encoded.
DetectionExample parse_detection_example(std::span<const uint8_t> record, std::string_view name);

// Serialises an Example with the features above that are set (non-empty lists and strings,
// height and width when >= 0), under create_coco_tf_record.py's keys.
std::vector<uint8_t> make_detection_example(const DetectionExample& example);

}  // namespace trainer::data
