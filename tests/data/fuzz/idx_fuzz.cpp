// libFuzzer target for IDX files (MNIST's format, raw or gzip'd). The first two bytes (little
// endian) give the length of the labels file, which follows them; the rest is the images file.
// A dataset that opens is read at its first and last sample. Rejections must be trainer::Error;
// a crash, a sanitizer report, another exception or an allocation that the header's counts
// alone drive (not the data present) is a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../../fuzz_util.h"
#include "trainer/core/error.h"
#include "trainer/data/idx_dataset.h"

using namespace trainer::data;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static const trainer::fuzz::TempFile images("idx-images"), labels("idx-labels");
  const size_t labels_size = std::min<size_t>(data[0] | data[1] << 8, size - 2);
  labels.write(data + 2, labels_size);
  images.write(data + 2 + labels_size, size - 2 - labels_size);
  try {
    const IdxDataset dataset(images.path(), labels.path());
    (void)dataset.describe();
    if (dataset.size() > 0) {
      (void)dataset.read(0);
      (void)dataset.read(dataset.size() - 1);
    }
  } catch (const trainer::Error&) {
  }
  return 0;
}
