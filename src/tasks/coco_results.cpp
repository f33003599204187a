#include "trainer/tasks/coco_results.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <unordered_set>

#include "trainer/core/json_text.h"
#include "trainer/data/box_ops.h"

namespace trainer::tasks {

eval::BBox to_coco_box(float ymin, float xmin, float ymax, float xmax, int width, int height) {
  const double x0 = static_cast<double>(xmin) * width, y0 = static_cast<double>(ymin) * height;
  const double x1 = static_cast<double>(xmax) * width, y1 = static_cast<double>(ymax) * height;
  return {x0, y0, x1 - x0, y1 - y0};
}

namespace {

bool padded(const data::ImageAnnotations& image) {
  return image.true_height_fraction != 1.0f || image.true_width_fraction != 1.0f;
}

}  // namespace

std::array<float, 4> true_image_window(const data::ImageAnnotations& image) {
  return {0.0f, 0.0f, image.true_height_fraction, image.true_width_fraction};
}

std::vector<models::DetectedBox> detections_in_original_image(std::vector<models::DetectedBox> detections,
                                                              const data::ImageAnnotations& image) {
  if (!padded(image)) return detections;
  const std::array<float, 4> w = true_image_window(image);
  TRAINER_CHECK(w[2] > 0 && w[3] > 0, "detections: the true-image window [0, 0, ", w[2], ", ", w[3], "] is empty");
  // box_list_ops.clip_to_window: max(min(v, window max), window min) per coordinate; then the
  // boxes with area > 0 (filter_nonoverlapping); change_coordinate_frame: (v - min) * (1 / size).
  const float y_scale = 1.0f / (w[2] - w[0]), x_scale = 1.0f / (w[3] - w[1]);
  std::vector<models::DetectedBox> out;
  out.reserve(detections.size());
  for (models::DetectedBox d : detections) {
    float* b = d.box;
    for (int k : {0, 2}) b[k] = std::max(std::min(b[k], w[2]), w[0]);
    for (int k : {1, 3}) b[k] = std::max(std::min(b[k], w[3]), w[1]);
    if (!((b[2] - b[0]) * (b[3] - b[1]) > 0.0f)) continue;
    for (int k : {0, 2}) b[k] = (b[k] - w[0]) * y_scale;
    for (int k : {1, 3}) b[k] = (b[k] - w[1]) * x_scale;
    out.push_back(d);
  }
  return out;
}

std::vector<data::BoxAnnotation> ground_truth_in_original_image(std::vector<data::BoxAnnotation> boxes,
                                                                const data::ImageAnnotations& image) {
  if (!padded(image)) return boxes;
  const std::array<float, 4> w = true_image_window(image);
  data::change_coordinate_frame(boxes, data::BoxWindow{w[0], w[1], w[2], w[3]});
  return boxes;
}

void CocoResults::add(const data::ImageAnnotations& image, const std::vector<models::DetectedBox>& detections) {
  TRAINER_CHECK(image.image_id >= 0, "evaluation needs image ids; the eval reader gave none");
  image_ids_.push_back(image.image_id);
  images_.push_back({image.image_id, "", image.original_width, image.original_height});
  for (const data::BoxAnnotation& b : ground_truth_in_original_image(image.boxes, image)) {
    eval::CocoAnnotation a;
    a.id = static_cast<int64_t>(annotations_.size()) + 1;
    a.image_id = image.image_id;
    a.category_id = b.label;
    a.bbox = to_coco_box(b.ymin, b.xmin, b.ymax, b.xmax, image.original_width, image.original_height);
    a.area = b.area > 0 ? b.area : a.bbox.w * a.bbox.h;
    a.iscrowd = b.crowd;
    annotations_.push_back(a);
  }
  for (const models::DetectedBox& d : detections_in_original_image(detections, image)) {
    detections_.push_back({image.image_id, d.class_id,
                           to_coco_box(d.box[0], d.box[1], d.box[2], d.box[3], image.original_width,
                                       image.original_height),
                           d.score});
  }
}

eval::CocoDataset CocoResults::ground_truth(const data::LabelMap* label_map, int64_t num_classes) const {
  std::vector<eval::CocoCategory> categories;
  if (label_map) {
    for (const data::LabelMapItem& item : label_map->items())
      if (item.id >= 1 && item.id <= num_classes) categories.push_back({item.id, label_map->class_name(item.id), ""});
  } else {
    for (int64_t id = 1; id <= num_classes; ++id) categories.push_back({id, std::to_string(id), ""});
  }
  return eval::CocoDataset(images_, categories, annotations_);
}

std::string CocoResults::detections_json() const {
  std::string out = "[";
  for (size_t i = 0; i < detections_.size(); ++i) {
    const eval::Detection& d = detections_[i];
    out += i ? ",\n" : "\n";
    out += "{\"image_id\": " + std::to_string(d.image_id) + ", \"category_id\": " + std::to_string(d.category_id) +
           ", \"bbox\": [" + shortest_text(d.bbox.x) + ", " + shortest_text(d.bbox.y) + ", " + shortest_text(d.bbox.w) +
           ", " + shortest_text(d.bbox.h) + "], \"score\": " + shortest_text(d.score) + "}";
  }
  out += "\n]\n";
  return out;
}

namespace {

// Plain records, one after another: a count, then the values.
struct ByteWriter {
  std::string out;
  template <class T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
};

struct ByteReader {
  const std::string& in;
  size_t at = 0;
  template <class T>
  T get() {
    TRAINER_CHECK(at + sizeof(T) <= in.size(), "CocoResults: truncated results from another rank");
    T v;
    std::memcpy(&v, in.data() + at, sizeof v);
    at += sizeof v;
    return v;
  }
};

}  // namespace

std::string CocoResults::serialize() const {
  ByteWriter w;
  w.put(static_cast<uint64_t>(images_.size()));
  for (const eval::CocoImage& i : images_) w.put(i.id), w.put(i.width), w.put(i.height);
  w.put(static_cast<uint64_t>(annotations_.size()));
  for (const eval::CocoAnnotation& a : annotations_)
    w.put(a.image_id), w.put(a.category_id), w.put(a.bbox), w.put(a.area), w.put(static_cast<uint8_t>(a.iscrowd));
  w.put(static_cast<uint64_t>(detections_.size()));
  for (const eval::Detection& d : detections_) w.put(d.image_id), w.put(d.category_id), w.put(d.bbox), w.put(d.score);
  return std::move(w.out);
}

void CocoResults::append_serialized(const std::string& bytes, int64_t max_images) {
  ByteReader r{bytes};
  std::unordered_set<int64_t> kept;
  const uint64_t images = r.get<uint64_t>();
  for (uint64_t k = 0; k < images; ++k) {
    eval::CocoImage i;
    i.id = r.get<int64_t>(), i.width = r.get<int64_t>(), i.height = r.get<int64_t>();
    if (max_images > 0 && static_cast<int64_t>(images_.size()) >= max_images) continue;
    images_.push_back(i);
    image_ids_.push_back(i.id);
    kept.insert(i.id);
  }
  const uint64_t annotations = r.get<uint64_t>();
  for (uint64_t k = 0; k < annotations; ++k) {
    eval::CocoAnnotation a;
    a.image_id = r.get<int64_t>(), a.category_id = r.get<int64_t>(), a.bbox = r.get<eval::BBox>();
    a.area = r.get<double>(), a.iscrowd = r.get<uint8_t>() != 0;
    if (!kept.count(a.image_id)) continue;
    a.id = static_cast<int64_t>(annotations_.size()) + 1;
    annotations_.push_back(a);
  }
  const uint64_t detections = r.get<uint64_t>();
  for (uint64_t k = 0; k < detections; ++k) {
    eval::Detection d;
    d.image_id = r.get<int64_t>(), d.category_id = r.get<int64_t>(), d.bbox = r.get<eval::BBox>();
    d.score = r.get<double>();
    if (kept.count(d.image_id)) detections_.push_back(d);
  }
  TRAINER_CHECK(r.at == bytes.size(), "CocoResults: ", bytes.size() - r.at, " unexpected bytes in another rank's results");
}

}  // namespace trainer::tasks
