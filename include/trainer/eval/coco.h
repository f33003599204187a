// The COCO API for bounding boxes: an instances file (images, categories, annotations), its
// index, pycocotools' id queries, and loadRes for detection results. Behaviour follows
// pycocotools 2.0.11 (src/eval/README.md, "Loading"); where pycocotools would raise, we throw
// trainer::Error with a one-line message naming the file and the element.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "trainer/eval/id_index.h"

namespace trainer::eval {

// COCO's box convention: top-left corner and size, continuous coordinates (no +1).
struct BBox {
  double x = 0, y = 0, w = 0, h = 0;
};

struct CocoImage {
  int64_t id = 0;
  std::string file_name;
  int64_t width = 0, height = 0;
};

struct CocoCategory {
  int64_t id = 0;
  std::string name;
  std::string supercategory;
};

// A ground-truth annotation, or a detection of a results dataset (see load_res: id is its
// 1-based position, area is w*h, iscrowd is false, score is set).
struct CocoAnnotation {
  int64_t id = 0;
  int64_t image_id = 0;
  int64_t category_id = 0;
  BBox bbox;
  double area = 0;  // ground truth: the `area` field (COCO's mask area), never recomputed
  bool iscrowd = false;
  double score = 0;  // detections only
};

// One detector output, as a results file lists it or the trainer produces it in memory.
struct Detection {
  int64_t image_id = 0;
  int64_t category_id = 0;
  BBox bbox;
  double score = 0;
};

class CocoDataset {
 public:
  // Reads and indexes an instances JSON file. Throws trainer::Error on unreadable files,
  // malformed JSON (with line:column) and missing or mistyped fields (naming the element).
  // Boxes with a zero or negative width or height are kept, as pycocotools keeps them (they
  // overlap nothing), with one warning (log_warn) that counts them and names the first.
  static CocoDataset load(const std::string& path);
  // Same, from text in memory; `source` names it in error messages.
  static CocoDataset parse(std::string_view json, std::string_view source = "<memory>");

  CocoDataset() = default;
  // Assembles and indexes a dataset from parts (the trainer's own datasets, tests).
  CocoDataset(std::vector<CocoImage> images, std::vector<CocoCategory> categories,
              std::vector<CocoAnnotation> annotations);

  // In file order, duplicates included (as pycocotools' dataset lists).
  const std::vector<CocoImage>& images() const { return images_; }
  const std::vector<CocoCategory>& categories() const { return categories_; }
  const std::vector<CocoAnnotation>& annotations() const { return annotations_; }
  bool is_results() const { return is_results_; }

  // pycocotools' getAnnIds: an empty filter is no filter; area_rng is exclusive at both ends
  // (unlike the evaluator's inclusive ranges). Ids in index order: image by image in the order
  // given, file order within an image.
  std::vector<int64_t> get_ann_ids(std::span<const int64_t> img_ids = {},
                                   std::span<const int64_t> cat_ids = {},
                                   std::optional<std::array<double, 2>> area_rng = {},
                                   std::optional<bool> iscrowd = {}) const;
  // pycocotools' getCatIds: category ids in file order that pass every non-empty filter.
  std::vector<int64_t> get_cat_ids(std::span<const std::string> names = {},
                                   std::span<const std::string> supercategories = {},
                                   std::span<const int64_t> ids = {}) const;
  // pycocotools' getImgIds: with no filter, every image id in first-appearance order; otherwise
  // the given ids (even unknown ones, as pycocotools) intersected with the images holding an
  // annotation of each given category. pycocotools returns a Python set here; we sort it.
  std::vector<int64_t> get_img_ids(std::span<const int64_t> img_ids = {},
                                   std::span<const int64_t> cat_ids = {}) const;

  // loadAnns / loadCats / loadImgs: one element per id; for duplicated ids the last one in the
  // file, as pycocotools' dicts keep. Throws on an unknown id.
  std::vector<const CocoAnnotation*> load_anns(std::span<const int64_t> ids) const;
  const CocoAnnotation& annotation(int64_t id) const;
  const CocoCategory& category(int64_t id) const;
  const CocoImage& image(int64_t id) const;
  bool has_image(int64_t id) const;

  // pycocotools' loadRes for bbox results: a results dataset with this dataset's images and
  // categories, one annotation per detection in input order with id = position + 1,
  // area = w * h, iscrowd = false. Every image id must be one of this dataset's images
  // (pycocotools asserts); category ids are not checked (unknown ones never match anything).
  // Throws on a negative or non-finite score and on a non-finite box coordinate, naming the
  // detection. Boxes with a zero or negative width or height are kept (area w * h may then be
  // negative: outside every default area range), with one warning naming the first, `source`
  // naming the list. An empty list is accepted here (a model may detect nothing; every AP is
  // then 0).
  CocoDataset load_res(std::span<const Detection> detections,
                       std::string_view source = "detections") const;
  // Same, reading a results JSON file (an array of {image_id, category_id, bbox, score}); an
  // empty array is an error there, as pycocotools raises on it.
  CocoDataset load_res(const std::string& path) const;

  // Index: annotation positions of an image in file order (empty for unknown ids).
  std::span<const int32_t> image_annotations(int64_t image_id) const;

 private:
  void build_index();

  std::vector<CocoImage> images_;
  std::vector<CocoCategory> categories_;
  std::vector<CocoAnnotation> annotations_;
  bool is_results_ = false;

  // The index (pycocotools' imgs, cats, anns, imgToAnns, catToImgs), rebuilt by build_index().
  // Each IdIndex maps an id to a slot; the vectors beside it are indexed by that slot.
  IdIndex image_index_;
  std::vector<int32_t> image_last_;  // position in images_ of the last image with that id
  IdIndex category_index_;
  std::vector<int32_t> category_last_;
  IdIndex ann_index_;
  std::vector<int32_t> ann_last_;
  IdIndex ann_image_index_;               // image ids that annotations name
  std::vector<int32_t> anns_of_image_off_;  // CSR: annotation positions per image, file order
  std::vector<int32_t> anns_of_image_;
  IdIndex ann_category_index_;            // category ids that annotations name
  std::vector<int32_t> images_of_cat_off_;  // CSR: one image id per annotation, file order
  std::vector<int64_t> images_of_cat_;
};

// Reads a results JSON file / text: an array of {image_id, category_id, bbox, score} objects
// (other keys are ignored). Throws on malformed JSON, a non-array top level, missing or mistyped
// fields, naming the element.
std::vector<Detection> load_detections(const std::string& path);
std::vector<Detection> parse_detections(std::string_view json,
                                        std::string_view source = "<memory>");

// Writes detections as a results JSON array, numbers in shortest round-trip form, so that
// parse_detections (and Python's json) reads back the same doubles.
std::string detections_to_json(std::span<const Detection> detections);
void write_detections(const std::string& path, std::span<const Detection> detections);

}  // namespace trainer::eval
