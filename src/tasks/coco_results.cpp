#include "trainer/tasks/coco_results.h"

#include "trainer/core/json_text.h"

namespace trainer::tasks {

eval::BBox to_coco_box(float ymin, float xmin, float ymax, float xmax, int width, int height) {
  const double x0 = static_cast<double>(xmin) * width, y0 = static_cast<double>(ymin) * height;
  const double x1 = static_cast<double>(xmax) * width, y1 = static_cast<double>(ymax) * height;
  return {x0, y0, x1 - x0, y1 - y0};
}

void CocoResults::add(const data::ImageAnnotations& image, const std::vector<models::DetectedBox>& detections) {
  TRAINER_CHECK(image.image_id >= 0, "evaluation needs image ids; the eval reader gave none");
  image_ids_.push_back(image.image_id);
  images_.push_back({image.image_id, "", image.original_width, image.original_height});
  for (const data::BoxAnnotation& b : image.boxes) {
    eval::CocoAnnotation a;
    a.id = static_cast<int64_t>(annotations_.size()) + 1;
    a.image_id = image.image_id;
    a.category_id = b.label;
    a.bbox = to_coco_box(b.ymin, b.xmin, b.ymax, b.xmax, image.original_width, image.original_height);
    a.area = b.area > 0 ? b.area : a.bbox.w * a.bbox.h;
    a.iscrowd = b.crowd;
    annotations_.push_back(a);
  }
  for (const models::DetectedBox& d : detections) {
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

}  // namespace trainer::tasks
