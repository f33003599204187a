// The COCO index and pycocotools' queries over it, and loadRes for bbox results.
#include <algorithm>
#include <charconv>
#include <cmath>

#include "odd_boxes.h"
#include "trainer/core/error.h"
#include "trainer/core/log.h"
#include "trainer/eval/coco.h"

namespace trainer::eval {

namespace {

// Fills `last` so that last[slot of id] is the position of the last element with that id:
// pycocotools' dicts keep the last element of a duplicated id.
template <class Items>
void index_last(const Items& items, IdIndex& index, std::vector<int32_t>& last) {
  index = IdIndex();
  index.reserve(items.size());
  last.clear();
  last.reserve(items.size());
  for (size_t pos = 0; pos < items.size(); ++pos) {
    int32_t slot = index.insert(items[pos].id);
    if (slot == static_cast<int32_t>(last.size())) last.push_back(0);
    last[slot] = static_cast<int32_t>(pos);
  }
}

// Groups annotation positions by key (a slot of `index`) with a stable counting sort, so each
// group keeps file order: pycocotools' imgToAnns / catToImgs lists.
template <class Value, class Key, class Emit>
void group_by(const std::vector<CocoAnnotation>& anns, IdIndex& index, Key key, Emit emit,
              std::vector<int32_t>& offsets, std::vector<Value>& values) {
  index = IdIndex();
  std::vector<int32_t> slots(anns.size());
  for (size_t pos = 0; pos < anns.size(); ++pos) slots[pos] = index.insert(key(anns[pos]));
  offsets.assign(index.size() + 1, 0);
  for (int32_t slot : slots) ++offsets[slot + 1];
  for (size_t s = 0; s < index.size(); ++s) offsets[s + 1] += offsets[s];
  values.resize(anns.size());
  std::vector<int32_t> cursor(offsets.begin(), offsets.end() - 1);
  for (size_t pos = 0; pos < anns.size(); ++pos) values[cursor[slots[pos]]++] = emit(pos);
}

template <class T>
bool contains(std::span<const T> values, const T& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

}  // namespace

CocoDataset::CocoDataset(std::vector<CocoImage> images, std::vector<CocoCategory> categories,
                         std::vector<CocoAnnotation> annotations)
    : images_(std::move(images)),
      categories_(std::move(categories)),
      annotations_(std::move(annotations)) {
  build_index();
}

void CocoDataset::build_index() {
  index_last(images_, image_index_, image_last_);
  index_last(categories_, category_index_, category_last_);
  // A results dataset's ids are its positions + 1 (load_res): no table needed.
  if (!is_results_) index_last(annotations_, ann_index_, ann_last_);
  group_by(
      annotations_, ann_image_index_, [](const CocoAnnotation& a) { return a.image_id; },
      [](size_t pos) { return static_cast<int32_t>(pos); }, anns_of_image_off_, anns_of_image_);
  group_by(
      annotations_, ann_category_index_, [](const CocoAnnotation& a) { return a.category_id; },
      [&](size_t pos) { return annotations_[pos].image_id; }, images_of_cat_off_,
      images_of_cat_);
}

std::span<const int32_t> CocoDataset::image_annotations(int64_t image_id) const {
  int32_t slot = ann_image_index_.find(image_id);
  if (slot < 0) return {};
  return std::span<const int32_t>(anns_of_image_).subspan(
      anns_of_image_off_[slot], anns_of_image_off_[slot + 1] - anns_of_image_off_[slot]);
}

std::vector<int64_t> CocoDataset::get_ann_ids(std::span<const int64_t> img_ids,
                                              std::span<const int64_t> cat_ids,
                                              std::optional<std::array<double, 2>> area_rng,
                                              std::optional<bool> iscrowd) const {
  std::vector<int32_t> positions;
  if (!img_ids.empty()) {
    for (int64_t id : img_ids) {
      std::span<const int32_t> anns = image_annotations(id);
      positions.insert(positions.end(), anns.begin(), anns.end());
    }
  } else {
    positions.resize(annotations_.size());
    for (size_t i = 0; i < positions.size(); ++i) positions[i] = static_cast<int32_t>(i);
  }
  std::vector<int64_t> ids;
  for (int32_t pos : positions) {
    const CocoAnnotation& a = annotations_[pos];
    if (!cat_ids.empty() && !contains(cat_ids, a.category_id)) continue;
    if (area_rng && !(a.area > (*area_rng)[0] && a.area < (*area_rng)[1])) continue;
    if (iscrowd && a.iscrowd != *iscrowd) continue;
    ids.push_back(a.id);
  }
  return ids;
}

std::vector<int64_t> CocoDataset::get_cat_ids(std::span<const std::string> names,
                                              std::span<const std::string> supercategories,
                                              std::span<const int64_t> ids) const {
  std::vector<int64_t> out;
  for (const CocoCategory& c : categories_) {
    if (!names.empty() && !contains(names, c.name)) continue;
    if (!supercategories.empty() && !contains(supercategories, c.supercategory)) continue;
    if (!ids.empty() && !contains(ids, c.id)) continue;
    out.push_back(c.id);
  }
  return out;
}

std::vector<int64_t> CocoDataset::get_img_ids(std::span<const int64_t> img_ids,
                                              std::span<const int64_t> cat_ids) const {
  if (img_ids.empty() && cat_ids.empty()) return image_index_.ids();
  std::vector<int64_t> ids(img_ids.begin(), img_ids.end());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (size_t i = 0; i < cat_ids.size(); ++i) {
    std::vector<int64_t> of_cat;
    if (int32_t slot = ann_category_index_.find(cat_ids[i]); slot >= 0)
      of_cat.assign(images_of_cat_.begin() + images_of_cat_off_[slot],
                    images_of_cat_.begin() + images_of_cat_off_[slot + 1]);
    std::sort(of_cat.begin(), of_cat.end());
    of_cat.erase(std::unique(of_cat.begin(), of_cat.end()), of_cat.end());
    // pycocotools: the first category seeds an empty set, every other one intersects.
    if (i == 0 && ids.empty()) {
      ids = std::move(of_cat);
    } else {
      std::vector<int64_t> both;
      std::set_intersection(ids.begin(), ids.end(), of_cat.begin(), of_cat.end(),
                            std::back_inserter(both));
      ids = std::move(both);
    }
  }
  return ids;
}

const CocoAnnotation& CocoDataset::annotation(int64_t id) const {
  if (is_results_) {
    TRAINER_CHECK(id >= 1 && id <= static_cast<int64_t>(annotations_.size()),
                  "no annotation with id ", id);
    return annotations_[id - 1];
  }
  int32_t slot = ann_index_.find(id);
  TRAINER_CHECK(slot >= 0, "no annotation with id ", id);
  return annotations_[ann_last_[slot]];
}

const CocoCategory& CocoDataset::category(int64_t id) const {
  int32_t slot = category_index_.find(id);
  TRAINER_CHECK(slot >= 0, "no category with id ", id);
  return categories_[category_last_[slot]];
}

const CocoImage& CocoDataset::image(int64_t id) const {
  int32_t slot = image_index_.find(id);
  TRAINER_CHECK(slot >= 0, "no image with id ", id);
  return images_[image_last_[slot]];
}

bool CocoDataset::has_image(int64_t id) const { return image_index_.contains(id); }

std::vector<const CocoAnnotation*> CocoDataset::load_anns(std::span<const int64_t> ids) const {
  std::vector<const CocoAnnotation*> out;
  out.reserve(ids.size());
  for (int64_t id : ids) out.push_back(&annotation(id));
  return out;
}

CocoDataset CocoDataset::load_res(std::span<const Detection> detections,
                                  std::string_view source) const {
  std::vector<CocoAnnotation> anns(detections.size());
  size_t unknown = 0, first_unknown = 0;
  for (size_t i = 0; i < detections.size(); ++i) {
    const Detection& d = detections[i];
    if (!image_index_.contains(d.image_id) && unknown++ == 0) first_unknown = i;
    TRAINER_CHECK(std::isfinite(d.score) && d.score >= 0, source, ": detections[", i,
                  "].score: expected a finite number >= 0, got ", d.score);
    const BBox& b = d.bbox;
    TRAINER_CHECK(std::isfinite(b.x) && std::isfinite(b.y) && std::isfinite(b.w) &&
                      std::isfinite(b.h),
                  source, ": detections[", i, "].bbox: non-finite coordinate");
    anns[i] = CocoAnnotation{.id = static_cast<int64_t>(i) + 1,
                             .image_id = d.image_id,
                             .category_id = d.category_id,
                             .bbox = b,
                             .area = b.w * b.h,
                             .iscrowd = false,
                             .score = d.score};
  }
  TRAINER_CHECK(unknown == 0, source, ": detections[", first_unknown, "].image_id ",
                detections[first_unknown].image_id, " is not an image of the annotations (",
                unknown, " detection", unknown == 1 ? "" : "s",
                " name images outside the annotations; pycocotools: 'Results do not "
                "correspond to current coco set')");
  detail::warn_odd_boxes(detections, source, "detections");
  CocoDataset res;
  res.images_ = images_;
  res.categories_ = categories_;
  res.annotations_ = std::move(anns);
  res.is_results_ = true;
  res.build_index();
  return res;
}

namespace detail {

void warn_odd_boxes(std::string_view source, std::string_view array, size_t count, size_t first,
                    const BBox& box) {
  std::string numbers;  // shortest round-trip digits
  for (double v : {box.x, box.y, box.w, box.h}) {
    numbers += numbers.empty() ? "[" : ", ";
    char buffer[32];
    numbers.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, v).ptr);
  }
  numbers += "]";
  log_warn(source, ": ", count, count == 1 ? " box has" : " boxes have",
           " a zero or negative width or height (", count == 1 ? "" : "the first: ", array, "[",
           first, "].bbox ", numbers,
           "); evaluated as pycocotools does: such a box overlaps nothing (IoU 0 with any box)");
}

}  // namespace detail

}  // namespace trainer::eval
