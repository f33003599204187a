// Detections and ground truth in COCO's terms, for evaluation with the eval layer: boxes from
// normalised [ymin, xmin, ymax, xmax] to [x, y, w, h] pixels of the ORIGINAL image (as the TF
// Object Detection API exports them for pycocotools), and a results file pycocotools loads.
#pragma once

#include <string>
#include <vector>

#include "trainer/data/annotations.h"
#include "trainer/data/label_map.h"
#include "trainer/eval/coco.h"
#include "trainer/models/detectors/postprocess.h"

namespace trainer::tasks {

// Normalised corners -> COCO pixels of an image of width x height.
eval::BBox to_coco_box(float ymin, float xmin, float ymax, float xmax, int width, int height);

// Collects an evaluation pass: the images seen, their ground truth and the detections.
class CocoResults {
 public:
  // One image: its identity and objects (as the eval loader delivers them) and its detections.
  void add(const data::ImageAnnotations& image, const std::vector<models::DetectedBox>& detections);

  const std::vector<eval::Detection>& detections() const { return detections_; }
  const std::vector<int64_t>& image_ids() const { return image_ids_; }
  // Ground truth built from what the loader delivered: areas from the records where known,
  // else box areas; categories from the label map (or ids 1..num_classes).
  eval::CocoDataset ground_truth(const data::LabelMap* label_map, int64_t num_classes) const;
  // [{"image_id", "category_id", "bbox", "score"}, ...] in shortest round-trip numbers.
  std::string detections_json() const;

  // Distributed evaluation: each rank's results as bytes (exact: doubles travel as doubles),
  // and rank 0 appending the others' in rank order, which is dataset order (the eval sampler
  // splits the split into contiguous shards), so the merged results equal one process's. At
  // most `max_images` images are kept overall (0: all), with their annotations and detections.
  std::string serialize() const;
  void append_serialized(const std::string& bytes, int64_t max_images = 0);

 private:
  std::vector<eval::CocoImage> images_;
  std::vector<eval::CocoAnnotation> annotations_;
  std::vector<eval::Detection> detections_;
  std::vector<int64_t> image_ids_;
};

}  // namespace trainer::tasks
