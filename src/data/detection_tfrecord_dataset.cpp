#include "trainer/data/detection_tfrecord_dataset.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

#include "trainer/core/log.h"
#include "trainer/data/tf_example.h"

namespace trainer::data {
namespace {

DetectionTFRecordDatasetOptions checked(DetectionTFRecordDatasetOptions options) {
  TRAINER_CHECK(options.num_classes > 0, "detection TFRecord dataset: num_classes must be given (",
                options.num_classes, "); COCO uses 90");
  if (options.label_map)
    TRAINER_CHECK(options.label_map->max_id() <= options.num_classes, "detection TFRecord dataset: the label map ",
                  options.label_map->source(), " has ids up to ", options.label_map->max_id(), " but num_classes is ",
                  options.num_classes);
  return options;
}

// A per-object list must have one entry per box (or, for optional fields, none at all).
template <class T>
void check_length(const std::vector<T>& values, size_t boxes, const char* key, bool optional, std::string_view name) {
  if (values.size() == boxes || (optional && values.empty())) return;
  fail_sample(name, ": feature ", key, " holds ", values.size(), " values but the record has ", boxes,
              " boxes (image/object/bbox/*)");
}

bool parse_whole_number(const std::string& text, int64_t& out) {
  const char* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, out);
  return !text.empty() && result.ec == std::errc() && result.ptr == end;
}

}  // namespace

DetectionTFRecordDataset::DetectionTFRecordDataset(const std::vector<std::string>& files,
                                                   DetectionTFRecordDatasetOptions options)
    : options_(checked(std::move(options))),
      records_(files, options_.index_dir, "detection TFRecord dataset"),
      filter_(str("detection TFRecords ", records_.describe_files()), options_.num_classes, options_.label_map) {}

std::string DetectionTFRecordDataset::describe() const {
  return str("detection TFRecords ", records_.describe_files(), " (", size(), " records, ", num_classes(), " classes",
             options_.label_map ? str(", label map ", options_.label_map->source()) : "", ")");
}

Sample DetectionTFRecordDataset::read(int64_t index) const {
  TFRecordFileSet::Record record = records_.read(index);
  Sample sample;
  sample.name = std::move(record.name);
  DetectionExample example = parse_detection_example(record.data, sample.name);

  const size_t boxes = example.ymin.size();
  check_length(example.xmin, boxes, "image/object/bbox/xmin", false, sample.name);
  check_length(example.ymax, boxes, "image/object/bbox/ymax", false, sample.name);
  check_length(example.xmax, boxes, "image/object/bbox/xmax", false, sample.name);
  check_length(example.is_crowd, boxes, "image/object/is_crowd", true, sample.name);
  check_length(example.area, boxes, "image/object/area", true, sample.name);

  // tf_example_decoder: class/text through the label map when both exist, else class/label.
  const bool by_text = options_.label_map && !example.class_text.empty();
  std::vector<int64_t> labels;
  if (by_text) {
    check_length(example.class_text, boxes, "image/object/class/text", false, sample.name);
    for (const auto& text : example.class_text) labels.push_back(options_.label_map->id_of(text));
  } else if (!example.class_label.empty() || boxes == 0) {
    check_length(example.class_label, boxes, "image/object/class/label", false, sample.name);
    labels = std::move(example.class_label);
  } else if (!example.class_text.empty()) {
    fail_sample(sample.name, ": objects are named by image/object/class/text only, which needs a label map to give ids "
                "(set label_map_path)");
  } else {
    fail_sample(sample.name, ": the record has ", boxes, " boxes but neither image/object/class/label nor "
                "image/object/class/text");
  }

  ImageAnnotations& a = sample.annotations;
  if (!parse_whole_number(example.source_id, a.image_id)) {
    if (!warned_source_id_.exchange(true))
      log_warn("data: ", sample.name, ": image/source_id \"", example.source_id, "\" is not a whole number; ", describe(),
               " uses each record's position as its image id instead (warned once)");
    a.image_id = index;
  }
  if (example.height > INT32_MAX || example.width > INT32_MAX)
    fail_sample(sample.name, ": image/height ", example.height, " or image/width ", example.width,
                " is beyond any image size");
  a.original_height = example.height > 0 ? static_cast<int>(example.height) : 0;
  a.original_width = example.width > 0 ? static_cast<int>(example.width) : 0;
  a.boxes.resize(boxes);
  for (size_t i = 0; i < boxes; ++i) {
    BoxAnnotation& b = a.boxes[i];
    b.ymin = example.ymin[i];
    b.xmin = example.xmin[i];
    b.ymax = example.ymax[i];
    b.xmax = example.xmax[i];
    // Saturated: an id beyond int32 stays out of range for the filter to report.
    b.label = static_cast<int32_t>(std::clamp<int64_t>(labels[i], INT32_MIN, INT32_MAX));
    b.crowd = !example.is_crowd.empty() && example.is_crowd[i] != 0;
    b.area = example.area.empty() ? -1.0f : example.area[i];
  }
  filter_.clean(a.boxes, sample.name, by_text ? &example.class_text : nullptr);
  sample.encoded = std::move(example.encoded);
  return sample;
}

}  // namespace trainer::data
