// libFuzzer target for label maps (StringIntLabelMap in text format): the input is the file's
// text. A map that parses is queried as the detection datasets and predict use it. Rejections
// must be trainer::Error; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "trainer/core/error.h"
#include "trainer/data/label_map.h"

using namespace trainer::data;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  LabelMap map;
  try {
    map = LabelMap::parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.pbtxt");
  } catch (const trainer::Error&) {
    return 0;
  }
  for (const LabelMapItem& item : map.items()) {
    (void)map.contains(item.id);
    (void)map.class_name(item.id);
    (void)map.id_of(item.name);
    (void)map.id_of(item.display_name);
  }
  (void)map.class_name(int64_t{map.max_id()} + 1);
  // As the COCO datasets make one from their categories.
  try {
    (void)LabelMap::from_items(map.items(), "fuzz categories");
  } catch (const trainer::Error&) {
  }
  return 0;
}
