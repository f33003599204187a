// The TF Object Detection API's label map (StringIntLabelMap in protobuf text format, e.g.
// mscoco_label_map.pbtxt): which class ids exist and what they are called. Detection datasets
// check object labels against it, TFRecords that name classes by text are mapped through it,
// and predict output prints its names. Behaviour follows object_detection/utils/label_map_util.py.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace trainer::data {

struct LabelMapItem {
  std::string name;          // e.g. "/m/01g317"
  int32_t id = 0;            // 1..K; 0 only for "background"
  std::string display_name;  // e.g. "person"; empty when the item has none
  bool has_display_name = false;
};

class LabelMap {
 public:
  // Reads a text-format label map. Syntax errors and invalid items are Errors naming
  // file:line:col: a negative id, id 0 for anything but "background" (TensorFlow's
  // _validate_label_map), or an item without an id. A missing file or one without items is an
  // Error naming the file.
  static LabelMap load(const std::string& path);
  // Same, from text in memory; `source` names it in messages.
  static LabelMap parse(std::string_view text, std::string_view source = "<memory>");

  // From items made elsewhere (e.g. a COCO file's categories), validated as parse() does;
  // `source` names them in messages.
  static LabelMap from_items(std::vector<LabelMapItem> items, std::string source);

  LabelMap() = default;

  const std::string& source() const { return source_; }
  const std::vector<LabelMapItem>& items() const { return items_; }
  // The largest id (get_max_label_map_index).
  int32_t max_id() const { return max_id_; }
  bool contains(int64_t id) const;
  // The name to show for a class: the first item with this id, its display_name if it has one,
  // else its name (convert_label_map_to_categories with use_display_name). Empty if unknown.
  std::string class_name(int64_t id) const;
  // The id of a class text, as TensorFlow's decoder maps image/object/class/text: looked up
  // among names and among display names (the last item wins within each, as a Python dict
  // does), the larger of the two ids; -1 when the text is neither.
  int64_t id_of(std::string_view text) const;

 private:
  std::string source_;
  std::vector<LabelMapItem> items_;
  int32_t max_id_ = 0;
};

}  // namespace trainer::data
