// Classification samples from TFRecord files of tf.train.Example (NVIDIA's ImageNet
// TFRecords: `image/encoded` JPEG bytes, `image/class/label` 1..1000 with 0 left for the
// background class, hence 1001 classes). Every file is indexed once when the dataset opens.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "trainer/data/dataset.h"
#include "trainer/data/tf_example.h"
#include "trainer/data/tfrecord.h"

namespace trainer::data {

// Several TFRecord files read as one numbered sequence of records (the classification and the
// detection datasets share it): patterns expanded and sorted, every file indexed when the set
// opens (or from DALI index files, <index_dir>/<file name>.idx).
class TFRecordFileSet {
 public:
  // `what` names the dataset kind in errors. An Error names a pattern that matches nothing, a
  // file whose framing is broken, or files that hold no records.
  TFRecordFileSet(const std::vector<std::string>& files, const std::string& index_dir, std::string_view what);

  int64_t size() const { return record_starts_.back(); }
  const std::vector<TFRecordReader>& files() const { return readers_; }
  // "first file (and N more)", for describe().
  std::string describe_files() const;
  // Record `index` counted across the files, and its name "file@offset" for messages.
  struct Record {
    std::string name;
    std::vector<uint8_t> data;
  };
  // Throws BadSampleError naming the record when its data CRC does not match. Thread-safe.
  Record read(int64_t index) const;

 private:
  std::string what_;
  std::vector<TFRecordReader> readers_;
  std::vector<int64_t> record_starts_;  // global index of each file's first record; last = total
};

struct TFRecordDatasetOptions {
  int64_t num_classes = 0;  // required: labels must lie in [0, num_classes) after the offset
  // Added to every stored label: NVIDIA's ImageNet TFRecords number classes 1..1000
  // (0 = background), so a 1000-class model reads them with -1.
  int64_t label_offset = 0;
  ImageExampleKeys keys;
  // DALI index files, <index_dir>/<TFRecord file name>.idx (NVIDIA's --data_idx_dir layout).
  // Empty: every file is scanned when the dataset opens.
  std::string index_dir;
};

class TFRecordDataset : public Dataset {
 public:
  // files: paths or glob patterns ("/data/imagenet/train-*"), expanded and sorted. An Error
  // names a pattern that matches nothing or a file whose framing is broken.
  TFRecordDataset(const std::vector<std::string>& files, TFRecordDatasetOptions options);

  int64_t size() const override { return records_.size(); }
  int64_t num_classes() const override { return options_.num_classes; }
  std::string describe() const override;
  Sample read(int64_t index) const override;

  const std::vector<TFRecordReader>& files() const { return records_.files(); }

 private:
  TFRecordDatasetOptions options_;
  TFRecordFileSet records_;
};

// Expands glob patterns (sorted within each pattern); a plain path is kept as it is.
std::vector<std::string> expand_file_patterns(const std::vector<std::string>& patterns);

// Converts any dataset whose samples carry encoded images into `num_shards` TFRecord files
// named <prefix>-00000-of-0000N, samples dealt round-robin (as TensorFlow's converters do);
// returns the file names. Samples with decoded pixels (IDX, synthetic) are PNG-encoded.
std::vector<std::string> write_tfrecords(const Dataset& dataset, const std::string& prefix, int num_shards,
                                         const ImageExampleKeys& keys = {});

}  // namespace trainer::data
