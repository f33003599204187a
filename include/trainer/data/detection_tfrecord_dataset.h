// Detection samples from TFRecord files in the layout the TF Object Detection API's
// create_coco_tf_record.py writes (NVIDIA's SSD scripts use it): image/encoded, image/source_id
// (the COCO image id as text), image/height, image/width, image/object/bbox/{ymin,xmin,ymax,xmax}
// (normalised floats), image/object/class/text (category names) and/or image/object/class/label
// (ids 1..K), image/object/is_crowd, image/object/area.
//
// Class ids follow TensorFlow's decoder (tf_example_decoder.py): with a label map, class/text is
// looked up by name and display name; when a record has no class/text (or there is no label
// map) class/label is used. Objects then go through GroundTruthFilter (NaN, class range and
// label map, clipping, empty boxes; each counted and warned once). A record whose lists
// disagree in length, or that names classes only by text without a label map, is a
// BadSampleError naming file@offset and the feature, like a truncated record or an undecodable
// image.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "trainer/data/dataset.h"
#include "trainer/data/ground_truth_filter.h"
#include "trainer/data/label_map.h"
#include "trainer/data/tfrecord_dataset.h"

namespace trainer::data {

struct DetectionTFRecordDatasetOptions {
  int64_t num_classes = 0;  // required: object class ids must lie in 1..num_classes (COCO: 90)
  std::shared_ptr<const LabelMap> label_map;  // label_map_path; optional unless records use class/text
  std::string index_dir;  // DALI index files, as TFRecordDatasetOptions::index_dir
};

class DetectionTFRecordDataset : public Dataset {
 public:
  // files: paths or glob patterns, expanded and sorted. Errors as TFRecordDataset's.
  DetectionTFRecordDataset(const std::vector<std::string>& files, DetectionTFRecordDatasetOptions options);

  int64_t size() const override { return records_.size(); }
  int64_t num_classes() const override { return options_.num_classes; }
  std::string describe() const override;
  // The sample's encoded image and annotations: image_id from image/source_id when it is a
  // whole number, else the record's position in the dataset (logged once); original size from
  // image/height and image/width (0 when absent; the transform takes the decoded size).
  Sample read(int64_t index) const override;

  const std::vector<TFRecordReader>& files() const { return records_.files(); }
  // Boxes clipped or dropped so far; records are checked as they are read, so a bad box counts
  // once per read (per epoch).
  GroundTruthCounts ground_truth_counts() const { return filter_.counts(); }

 private:
  DetectionTFRecordDatasetOptions options_;
  TFRecordFileSet records_;
  GroundTruthFilter filter_;
  mutable std::atomic<bool> warned_source_id_{false};
};

}  // namespace trainer::data
