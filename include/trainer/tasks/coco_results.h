// Detections and ground truth in COCO's terms, for evaluation with the eval layer: boxes from
// normalised [ymin, xmin, ymax, xmax] to [x, y, w, h] pixels of the ORIGINAL image (as the TF
// Object Detection API exports them for pycocotools), and a results file pycocotools loads.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "trainer/data/annotations.h"
#include "trainer/data/label_map.h"
#include "trainer/eval/coco.h"
#include "trainer/models/detectors/postprocess.h"

namespace trainer::tasks {

// Normalised corners -> COCO pixels of an image of width x height.
eval::BBox to_coco_box(float ymin, float xmin, float ymax, float xmax, int width, int height);

// A batch row's image inside the model input. The keep_aspect_ratio_resizer with
// pad_to_max_dimension puts the resized image in the top-left part of the input, the rest zero
// padding; boxes in the batch, and the network's detections, are normalised to the whole
// (padded) input. The TF OD API maps them back through true_image_shape:
//  - detections: ssd_meta_arch.postprocess passes the clip window [0, 0, true_h / padded_h,
//    true_w / padded_w] (_compute_clip_window) to batch_multiclass_non_max_suppression, which
//    clips the kept boxes to it, drops those left without area, and (change_coordinate_frame,
//    true by default) moves them into its frame: (y - 0) * (1 / (true_h / padded_h)) in float;
//  - ground truth: eval_util.result_dict_for_batched_example moves the (padded-frame) boxes the
//    same way, without clipping (_scale_box_to_normalized_true_image);
// then both are scaled to the original image's pixels. With a fixed_shape_resizer the window is
// [0, 0, 1, 1] and nothing changes (these functions return their input as it is).

// TF's clip window of a row: [0, 0, true_height_fraction, true_width_fraction].
std::array<float, 4> true_image_window(const data::ImageAnnotations& image);

// Detections normalised to the model input -> normalised to the original image: clipped to
// true_image_window, those left without area dropped (order kept), moved into its frame. For
// the API's exact order the postprocess would clip to true_image_window before keeping the best
// max_total_detections; clipping to it here again then changes nothing.
std::vector<models::DetectedBox> detections_in_original_image(std::vector<models::DetectedBox> detections,
                                                              const data::ImageAnnotations& image);

// A row's ground truth (normalised to the model input) -> normalised to the original image:
// moved into true_image_window's frame, not clipped.
std::vector<data::BoxAnnotation> ground_truth_in_original_image(std::vector<data::BoxAnnotation> boxes,
                                                                const data::ImageAnnotations& image);

// Collects an evaluation pass: the images seen, their ground truth and the detections.
class CocoResults {
 public:
  // One image: its identity and objects (as the eval loader delivers them) and its detections,
  // both normalised to the model input as the batch row and the postprocess give them; they
  // are mapped to the original image (ground_truth_in_original_image,
  // detections_in_original_image) before they become pixels.
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
