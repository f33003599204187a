// Detection samples from a COCO instances JSON and its image folder, read with the eval layer's
// COCO API (one JSON parser in the project): one sample per image id, in the file's order of
// first appearance, images without annotations included (all their anchors are negatives).
// Boxes come from bbox [x, y, w, h] in pixels, normalised by the image's width and height from
// the JSON (as create_coco_tf_record.py does, in double, then stored as float); labels are
// category_id, crowd is iscrowd, area is the annotation's area. Objects go through
// GroundTruthFilter once, when the dataset opens: create_coco_tf_record.py skips boxes reaching
// past the image, this clips them (see ground_truth_filter.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "trainer/data/dataset.h"
#include "trainer/data/ground_truth_filter.h"
#include "trainer/data/label_map.h"

namespace trainer::data {

struct CocoJsonDatasetOptions {
  int64_t num_classes = 0;  // required: class ids must lie in 1..num_classes (COCO: 90)
  // Optional: class ids must also be in it. Without one, the JSON's categories play its part.
  std::shared_ptr<const LabelMap> label_map;
};

class CocoJsonDetectionDataset : public Dataset {
 public:
  // Throws an Error for an unreadable or malformed JSON (naming file:line:col or the element),
  // an image with a non-positive width or height, or a file without images.
  CocoJsonDetectionDataset(const std::string& annotations_json, std::string image_dir, CocoJsonDatasetOptions options);

  int64_t size() const override { return static_cast<int64_t>(images_.size()); }
  int64_t num_classes() const override { return options_.num_classes; }
  std::string describe() const override;
  // The image file's bytes (BadSampleError naming the path when it cannot be read) and its
  // annotations: image id, size from the JSON, the cleaned boxes.
  Sample read(int64_t index) const override;

  // The label map the labels were checked against: the given one, or the JSON's categories
  // (id, name) — class names for predict output.
  const LabelMap& label_map() const { return *label_map_; }
  // Boxes clipped or dropped, each counted once (the JSON is checked when the dataset opens).
  GroundTruthCounts ground_truth_counts() const { return filter_->counts(); }
  const std::string& path(int64_t index) const { return images_.at(index).path; }

 private:
  struct Entry {
    std::string path;
    ImageAnnotations annotations;
  };
  std::string json_path_, image_dir_;
  CocoJsonDatasetOptions options_;
  std::shared_ptr<const LabelMap> label_map_;
  std::unique_ptr<GroundTruthFilter> filter_;
  std::vector<Entry> images_;
  int64_t num_boxes_ = 0;
};

}  // namespace trainer::data
