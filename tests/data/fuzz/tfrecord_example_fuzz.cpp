// libFuzzer target for TFRecord files of tf.train.Example, read through the datasets that
// train on them. The first byte picks how the rest is used:
//   bit 0 clear: the rest is one record's data (a serialised Example), framed here with valid
//                CRCs, so that the fuzzer works on the Example and not on the checksums;
//   bit 0 set:   the rest is the whole file, framing included;
//   bit 1:       the detection dataset gets a label map (class/text is then looked up).
// Every record is read as a detection sample and as a classification sample. Rejections must
// be trainer::Error (BadSampleError for a bad record); anything else is a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "../../fuzz_util.h"
#include "trainer/core/error.h"
#include "trainer/data/detection_tfrecord_dataset.h"
#include "trainer/data/label_map.h"
#include "trainer/data/tfrecord.h"
#include "trainer/data/tfrecord_dataset.h"

using namespace trainer::data;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const trainer::fuzz::TempFile file("tfrecord");
  const uint8_t mode = data[0];
  const std::span<const uint8_t> rest(data + 1, size - 1);
  if (mode & 1) {
    file.write(rest.data(), rest.size());
  } else {
    TFRecordWriter writer(file.path());
    writer.write(rest);
    writer.close();
  }
  constexpr int64_t kMaxRecords = 16;  // enough to reach every record-level path
  try {
    DetectionTFRecordDatasetOptions options;
    options.num_classes = 90;
    if (mode & 2)
      options.label_map = std::make_shared<const LabelMap>(
          LabelMap::parse("item { name: \"/m/01g317\" id: 1 display_name: \"person\" }\n"
                          "item { name: \"bicycle\" id: 2 }\nitem { name: \"background\" id: 0 }\n",
                          "fuzz label map"));
    const DetectionTFRecordDataset dataset({file.path()}, options);
    (void)dataset.describe();
    for (int64_t i = 0; i < std::min(dataset.size(), kMaxRecords); ++i) {
      try {
        (void)dataset.read(i);
      } catch (const trainer::Error&) {
      }
    }
    (void)dataset.ground_truth_counts();
  } catch (const trainer::Error&) {
  }
  try {
    TFRecordDatasetOptions options;
    options.num_classes = 1001;
    options.label_offset = -1;
    const TFRecordDataset dataset({file.path()}, options);
    for (int64_t i = 0; i < std::min(dataset.size(), kMaxRecords); ++i) {
      try {
        (void)dataset.read(i);
      } catch (const trainer::Error&) {
      }
    }
  } catch (const trainer::Error&) {
  }
  return 0;
}
