// libFuzzer target for pipeline configs with overrides. The input is split at '\x01' bytes: the
// first part is the config text, every further part an --override, applied in order as
// load_pipeline_config does; then the defaults are resolved, the config is validated and
// printed, and the printed text must read back to the same config. Rejections must be
// trainer::Error; a crash, a sanitizer report, another exception or a config that does not
// survive its own printing is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <google/protobuf/util/field_comparator.h>
#include <google/protobuf/util/message_differencer.h>

#include "trainer/config/config.h"
#include "trainer/core/error.h"

using namespace trainer::config;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\x01')
      parts.emplace_back();
    else
      parts.back().push_back(static_cast<char>(data[i]));
  }
  TrainEvalPipelineConfig config;
  try {
    config = parse_pipeline_text(parts[0], "fuzz.config");
    for (size_t i = 1; i < parts.size(); ++i) apply_override(config, parts[i], "<override>");
    resolve_defaults(config);
    (void)validation_problems(config);
  } catch (const trainer::Error&) {
    return 0;
  }
  const std::string text = to_text(config);
  TrainEvalPipelineConfig again;
  try {
    again = parse_pipeline_text(text, "printed");
  } catch (const trainer::Error& e) {
    std::fprintf(stderr, "the printed config does not read back: %s\n%s\n", e.what(), text.c_str());
    std::abort();
  }
  google::protobuf::util::DefaultFieldComparator floats;
  floats.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer differ;
  differ.set_field_comparator(&floats);
  std::string difference;
  differ.ReportDifferencesToString(&difference);
  if (!differ.Compare(config, again)) {
    std::fprintf(stderr, "the printed config reads back different:\n%s\nprinted:\n%s\n", difference.c_str(),
                 text.c_str());
    std::abort();
  }
  return 0;
}
