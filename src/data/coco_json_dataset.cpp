#include "trainer/data/coco_json_dataset.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>

#include "trainer/data/image_folder.h"
#include "trainer/eval/coco.h"

namespace trainer::data {
namespace {

CocoJsonDatasetOptions checked(CocoJsonDatasetOptions options, const std::string& json) {
  TRAINER_CHECK(options.num_classes > 0, "COCO JSON dataset ", json, ": num_classes must be given (",
                options.num_classes, "); COCO uses 90");
  return options;
}

// The JSON's categories as a label map: id and name (COCO has no display names).
LabelMap categories_as_label_map(const eval::CocoDataset& coco, const std::string& json) {
  std::vector<LabelMapItem> items;
  for (const auto& c : coco.categories())
    items.push_back({c.name, static_cast<int32_t>(std::clamp<int64_t>(c.id, INT32_MIN, INT32_MAX)), "", false});
  TRAINER_CHECK(!items.empty(), json, ": has no categories; pass a label map");
  return LabelMap::from_items(std::move(items), str(json, " (categories)"));
}

}  // namespace

CocoJsonDetectionDataset::CocoJsonDetectionDataset(const std::string& annotations_json, std::string image_dir,
                                                   CocoJsonDatasetOptions options)
    : json_path_(annotations_json), image_dir_(std::move(image_dir)), options_(checked(std::move(options), json_path_)) {
  const eval::CocoDataset coco = eval::CocoDataset::load(json_path_);
  label_map_ = options_.label_map ? options_.label_map
                                  : std::make_shared<const LabelMap>(categories_as_label_map(coco, json_path_));
  filter_ = std::make_unique<GroundTruthFilter>(str("COCO JSON ", json_path_), options_.num_classes, label_map_);
  for (const int64_t id : coco.get_img_ids()) {
    const eval::CocoImage& image = coco.image(id);
    TRAINER_CHECK(image.width > 0 && image.height > 0, json_path_, ": image ", id, " (", image.file_name,
                  ") has size ", image.width, "x", image.height, "; boxes are normalised by it, so it must be positive");
    Entry entry;
    entry.path = (std::filesystem::path(image_dir_) / image.file_name).string();
    ImageAnnotations& a = entry.annotations;
    a.image_id = id;
    a.original_height = static_cast<int>(image.height);
    a.original_width = static_cast<int>(image.width);
    const double width = static_cast<double>(image.width), height = static_cast<double>(image.height);
    for (const int32_t pos : coco.image_annotations(id)) {
      const eval::CocoAnnotation& ann = coco.annotations()[pos];
      const eval::BBox& bb = ann.bbox;
      BoxAnnotation box;
      box.ymin = static_cast<float>(bb.y / height);
      box.xmin = static_cast<float>(bb.x / width);
      box.ymax = static_cast<float>((bb.y + bb.h) / height);
      box.xmax = static_cast<float>((bb.x + bb.w) / width);
      box.label = static_cast<int32_t>(std::clamp<int64_t>(ann.category_id, INT32_MIN, INT32_MAX));
      box.crowd = ann.iscrowd;
      box.area = static_cast<float>(ann.area);
      a.boxes.push_back(box);
    }
    filter_->clean(a.boxes, str(entry.path, " (image id ", id, ")"));
    num_boxes_ += static_cast<int64_t>(a.boxes.size());
    images_.push_back(std::move(entry));
  }
  TRAINER_CHECK(!images_.empty(), json_path_, ": has no images");
}

std::string CocoJsonDetectionDataset::describe() const {
  return str("COCO JSON ", json_path_, " with images in ", image_dir_, " (", size(), " images, ", num_boxes_,
             " boxes, ", num_classes(), " classes)");
}

Sample CocoJsonDetectionDataset::read(int64_t index) const {
  TRAINER_CHECK(index >= 0 && index < size(), "COCO JSON dataset: index ", index, " out of range [0, ", size(), ")");
  const Entry& entry = images_[index];
  Sample sample;
  sample.name = entry.path;
  sample.encoded = read_file_bytes(entry.path);
  sample.annotations = entry.annotations;
  return sample;
}

}  // namespace trainer::data
