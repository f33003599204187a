#include "trainer/data/label_map.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "object_detection/protos/string_int_label_map.pb.h"
#include "trainer/core/error.h"

namespace trainer::data {
namespace {

namespace pb = google::protobuf;

// The first problem protobuf's text parser reports, as "SOURCE:LINE:COL: message" (1-based).
class FirstError : public pb::io::ErrorCollector {
 public:
  explicit FirstError(std::string_view source) : source_(source) {}
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (error_.empty()) error_ = str(source_, ":", line + 1, ":", column + 1, ": ", message);
  }
  const std::string& error() const { return error_; }

 private:
  std::string source_;
  std::string error_;
};

std::string where(std::string_view source, pb::TextFormat::ParseLocation at) {
  return str(source, ":", at.line + 1, ":", at.column + 1);
}

}  // namespace

LabelMap LabelMap::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open label map ", path, " (label_map_path)");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail("cannot read label map ", path);
  return parse(text.str(), path);
}

LabelMap LabelMap::parse(std::string_view text, std::string_view source) {
  object_detection::protos::StringIntLabelMap proto;
  FirstError errors(source);
  pb::TextFormat::ParseInfoTree locations;
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&locations);
  // Merge, as label_map_util.load_labelmap does (text_format.Merge): a repeated singular field
  // keeps its last value instead of being an error.
  if (!parser.MergeFromString(std::string(text), &proto))
    fail(errors.error().empty() ? str(source, ": not a StringIntLabelMap in text format") : errors.error(),
         " (label map)");

  const pb::FieldDescriptor* item_field = proto.GetDescriptor()->FindFieldByName("item");
  const pb::FieldDescriptor* id_field = object_detection::protos::StringIntLabelMapItem::descriptor()->FindFieldByName("id");
  LabelMap map;
  map.source_ = std::string(source);
  for (int i = 0; i < proto.item_size(); ++i) {
    const auto& item = proto.item(i);
    const pb::TextFormat::ParseInfoTree* item_locations = locations.GetTreeForNested(item_field, i);
    if (!item.has_id())
      fail(where(source, locations.GetLocation(item_field, i)), ": label map item ", i, " (name \"", item.name(),
           "\") has no id");
    const auto id_at = where(source, item_locations ? item_locations->GetLocation(id_field, -1)
                                                    : locations.GetLocation(item_field, i));
    if (item.id() < 0) fail(id_at, ": label map ids must be >= 0, got ", item.id());
    if (item.id() == 0 && item.name() != "background" && item.display_name() != "background")
      fail(id_at, ": label map id 0 is reserved for the background class, but names \"",
           item.display_name().empty() ? item.name() : item.display_name(), "\"");
    map.items_.push_back({item.name(), item.id(), item.display_name(), item.has_display_name()});
    map.max_id_ = std::max(map.max_id_, item.id());
  }
  if (map.items_.empty()) fail(source, ": the label map has no items (expected item { name: ... id: ... })");
  return map;
}

LabelMap LabelMap::from_items(std::vector<LabelMapItem> items, std::string source) {
  LabelMap map;
  map.source_ = std::move(source);
  for (const auto& item : items) {
    TRAINER_CHECK(item.id > 0 || (item.id == 0 && (item.name == "background" || item.display_name == "background")),
                  map.source_, ": class \"", item.name, "\" has id ", item.id,
                  "; ids must be >= 1 (0 is reserved for the background)");
    map.max_id_ = std::max(map.max_id_, item.id);
  }
  TRAINER_CHECK(!items.empty(), map.source_, ": no classes");
  map.items_ = std::move(items);
  return map;
}

bool LabelMap::contains(int64_t id) const {
  return std::any_of(items_.begin(), items_.end(), [&](const LabelMapItem& item) { return item.id == id; });
}

std::string LabelMap::class_name(int64_t id) const {
  for (const auto& item : items_)
    if (item.id == id) return item.has_display_name ? item.display_name : item.name;
  return "";
}

int64_t LabelMap::id_of(std::string_view text) const {
  int64_t by_name = -1, by_display_name = -1;
  for (const auto& item : items_) {
    if (item.name == text) by_name = item.id;
    if (item.display_name == text) by_display_name = item.id;
  }
  return std::max(by_name, by_display_name);
}

}  // namespace trainer::data
