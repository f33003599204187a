// Reading instances and results JSON into the COCO API's structures, and writing results.
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "json_reader.h"
#include "odd_boxes.h"
#include "trainer/core/error.h"
#include "trainer/eval/coco.h"

namespace trainer::eval {

using simdjson::dom::element;
using simdjson::dom::object;

namespace {

simdjson::dom::array require_array(element value, const json::Where& where) {
  simdjson::dom::array array;
  if (value.get_array().get(array))
    json::fail_at(where, str("expected an array, got ", json::type_name(value)));
  return array;
}

object require_object(element value, const json::Where& where) {
  object fields;
  if (value.get_object().get(fields))
    json::fail_at(where, str("expected an object, got ", json::type_name(value)));
  return fields;
}

void require_field(bool seen, json::Where where, std::string_view field) {
  if (seen) return;
  where.field = "";
  json::fail_at(where, str("missing required field '", field, "'"));
}

CocoImage read_image(element value, json::Where where) {
  CocoImage image;
  bool has_id = false;
  // Fields are visited in order and later duplicates overwrite earlier ones, as Python's json.
  for (auto [key, field] : require_object(value, where)) {
    where.field = key;
    if (key == "id") {
      image.id = json::read_id(field, where);
      has_id = true;
    } else if (key == "file_name") {
      image.file_name = json::read_string(field, where);
    } else if (key == "width") {
      image.width = json::read_id(field, where);
    } else if (key == "height") {
      image.height = json::read_id(field, where);
    }
  }
  require_field(has_id, where, "id");
  return image;
}

CocoCategory read_category(element value, json::Where where) {
  CocoCategory category;
  bool has_id = false;
  for (auto [key, field] : require_object(value, where)) {
    where.field = key;
    if (key == "id") {
      category.id = json::read_id(field, where);
      has_id = true;
    } else if (key == "name") {
      category.name = json::read_string(field, where);
    } else if (key == "supercategory") {
      category.supercategory = json::read_string(field, where);
    }
  }
  require_field(has_id, where, "id");
  return category;
}

// Every field pycocotools' bbox evaluation reads is required: it raises KeyError on a missing
// id, image_id, category_id, bbox, area or iscrowd (the last only in a cell it evaluates).
CocoAnnotation read_annotation(element value, json::Where where) {
  CocoAnnotation ann;
  enum : unsigned { kId = 1, kImage = 2, kCategory = 4, kBox = 8, kArea = 16, kCrowd = 32 };
  unsigned seen = 0;
  for (auto [key, field] : require_object(value, where)) {
    where.field = key;
    if (key == "id") {
      ann.id = json::read_id(field, where), seen |= kId;
    } else if (key == "image_id") {
      ann.image_id = json::read_id(field, where), seen |= kImage;
    } else if (key == "category_id") {
      ann.category_id = json::read_id(field, where), seen |= kCategory;
    } else if (key == "bbox") {
      double box[4];
      json::read_box(field, where, box);
      ann.bbox = {box[0], box[1], box[2], box[3]};
      seen |= kBox;
    } else if (key == "area") {
      ann.area = json::read_number(field, where), seen |= kArea;
    } else if (key == "iscrowd") {
      ann.iscrowd = json::read_flag(field, where), seen |= kCrowd;
    }
  }
  require_field(seen & kId, where, "id");
  require_field(seen & kImage, where, "image_id");
  require_field(seen & kCategory, where, "category_id");
  require_field(seen & kBox, where, "bbox");
  require_field(seen & kArea, where, "area");
  require_field(seen & kCrowd, where, "iscrowd");
  return ann;
}

Detection read_detection(element value, json::Where where) {
  Detection det;
  enum : unsigned { kImage = 1, kCategory = 2, kBox = 4, kScore = 8 };
  unsigned seen = 0;
  for (auto [key, field] : require_object(value, where)) {
    where.field = key;
    if (key == "image_id") {
      det.image_id = json::read_id(field, where), seen |= kImage;
    } else if (key == "category_id") {
      det.category_id = json::read_id(field, where), seen |= kCategory;
    } else if (key == "bbox") {
      double box[4];
      json::read_box(field, where, box);
      det.bbox = {box[0], box[1], box[2], box[3]};
      seen |= kBox;
    } else if (key == "score") {
      det.score = json::read_number(field, where), seen |= kScore;
    }
  }
  require_field(seen & kImage, where, "image_id");
  require_field(seen & kCategory, where, "category_id");
  if (!(seen & kBox)) {
    where.field = "";
    json::fail_at(where, "missing required field 'bbox' (only bbox results are supported)");
  }
  require_field(seen & kScore, where, "score");
  return det;
}

template <class T, class Read>
std::vector<T> read_list(element value, const json::Where& where, Read read) {
  simdjson::dom::array array = require_array(value, where);
  std::vector<T> items;
  items.reserve(array.size());
  json::Where item_where{where.source, where.field, 0, ""};
  for (element item : array) {
    items.push_back(read(item, item_where));
    ++item_where.index;
  }
  return items;
}

CocoDataset parse_dataset(const simdjson::padded_string& text, std::string_view source) {
  simdjson::dom::parser parser;
  element root = json::parse(parser, text, source);
  object top;
  if (root.get_object().get(top))
    fail(source, ": expected an instances JSON object with 'images', 'annotations' and "
         "'categories', got ", json::type_name(root),
         root.is_array() ? " (is this a results file?)" : "");
  std::vector<CocoImage> images;
  std::vector<CocoCategory> categories;
  std::vector<CocoAnnotation> annotations;
  bool has_images = false, has_categories = false, has_annotations = false;
  for (auto [key, value] : top) {
    json::Where where{source, "", 0, key};
    if (key == "images") {
      images = read_list<CocoImage>(value, where, read_image), has_images = true;
    } else if (key == "categories") {
      categories = read_list<CocoCategory>(value, where, read_category), has_categories = true;
    } else if (key == "annotations") {
      annotations = read_list<CocoAnnotation>(value, where, read_annotation);
      has_annotations = true;
    }
  }
  for (auto [seen, name] : {std::pair{has_images, "images"}, {has_categories, "categories"},
                            {has_annotations, "annotations"}})
    if (!seen) fail(source, ": missing top-level '", name, "' array");
  detail::warn_odd_boxes(annotations, source, "annotations");
  return CocoDataset(std::move(images), std::move(categories), std::move(annotations));
}

std::vector<Detection> parse_detection_list(const simdjson::padded_string& text,
                                            std::string_view source) {
  simdjson::dom::parser parser;
  element root = json::parse(parser, text, source);
  if (!root.is_array())
    fail(source, ": detections must be a JSON array of {image_id, category_id, bbox, score}, got ",
         json::type_name(root), root.is_object() ? " (is this an annotations file?)" : "");
  return read_list<Detection>(root, json::Where{source, "", 0, ""},
                              [&](element item, json::Where where) {
                                where.array = "detections";
                                return read_detection(item, where);
                              });
}

}  // namespace

CocoDataset CocoDataset::load(const std::string& path) { return parse_dataset(json::read_file(path), path); }

CocoDataset CocoDataset::parse(std::string_view text, std::string_view source) {
  return parse_dataset(simdjson::padded_string(text), source);
}

std::vector<Detection> load_detections(const std::string& path) {
  return parse_detection_list(json::read_file(path), path);
}

std::vector<Detection> parse_detections(std::string_view text, std::string_view source) {
  return parse_detection_list(simdjson::padded_string(text), source);
}

CocoDataset CocoDataset::load_res(const std::string& path) const {
  std::vector<Detection> detections = load_detections(path);
  TRAINER_CHECK(!detections.empty(), path,
                ": no detections (pycocotools raises on an empty results list)");
  return load_res(detections, path);
}

namespace {

template <class Number>
void append_number(std::string& out, Number value) {
  char buffer[32];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, end);
}

}  // namespace

std::string detections_to_json(std::span<const Detection> detections) {
  std::string out = "[";
  for (size_t i = 0; i < detections.size(); ++i) {
    const Detection& d = detections[i];
    out += i ? ",\n{\"image_id\": " : "\n{\"image_id\": ";
    append_number(out, d.image_id);
    out += ", \"category_id\": ";
    append_number(out, d.category_id);
    const double box[4] = {d.bbox.x, d.bbox.y, d.bbox.w, d.bbox.h};
    for (int j = 0; j < 4; ++j) {
      out += j ? ", " : ", \"bbox\": [";
      append_number(out, box[j]);
    }
    out += "], \"score\": ";
    append_number(out, d.score);
    out += "}";
  }
  out += "\n]\n";
  return out;
}

void write_detections(const std::string& path, std::span<const Detection> detections) {
  std::string text = detections_to_json(detections);
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) fail("cannot write ", path, ": ", std::strerror(errno));
  bool ok = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  ok = std::fclose(file) == 0 && ok;
  if (!ok) fail("cannot write ", path, ": ", std::strerror(errno));
}

}  // namespace trainer::eval
