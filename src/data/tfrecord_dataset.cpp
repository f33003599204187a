#include "trainer/data/tfrecord_dataset.h"

#include <glob.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "trainer/data/decode.h"

namespace trainer::data {

std::vector<std::string> expand_file_patterns(const std::vector<std::string>& patterns) {
  std::vector<std::string> files;
  for (const auto& pattern : patterns) {
    if (pattern.find_first_of("*?[") == std::string::npos) {
      files.push_back(pattern);
      continue;
    }
    glob_t matches{};
    const int rc = ::glob(pattern.c_str(), 0, nullptr, &matches);
    std::vector<std::string> found(matches.gl_pathv, matches.gl_pathv + matches.gl_pathc);
    ::globfree(&matches);
    if (rc == GLOB_NOMATCH || found.empty()) fail("no files match '", pattern, "'");
    if (rc != 0) fail("cannot expand '", pattern, "' (glob error ", rc, ")");
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

TFRecordFileSet::TFRecordFileSet(const std::vector<std::string>& files, const std::string& index_dir,
                                 std::string_view what)
    : what_(what) {
  const std::vector<std::string> paths = expand_file_patterns(files);
  TRAINER_CHECK(!paths.empty(), what_, ": no input files given");
  record_starts_.push_back(0);
  for (const auto& path : paths) {
    if (index_dir.empty())
      readers_.emplace_back(path);
    else
      readers_.emplace_back(path, index_dir + "/" + std::filesystem::path(path).filename().string() + ".idx");
    record_starts_.push_back(record_starts_.back() + readers_.back().size());
  }
  TRAINER_CHECK(size() > 0, what_, ": the ", paths.size(), " file(s) starting with ", paths.front(), " hold no records");
}

std::string TFRecordFileSet::describe_files() const {
  return str(readers_.front().path(), readers_.size() > 1 ? str(" and ", readers_.size() - 1, " more") : "");
}

TFRecordFileSet::Record TFRecordFileSet::read(int64_t index) const {
  TRAINER_CHECK(index >= 0 && index < size(), what_, ": index ", index, " out of range [0, ", size(), ")");
  const size_t file = std::upper_bound(record_starts_.begin(), record_starts_.end(), index) - record_starts_.begin() - 1;
  const TFRecordReader& reader = readers_[file];
  const int64_t record = index - record_starts_[file];
  Record out;
  out.name = str(reader.path(), "@", reader.offset(record));
  out.data = reader.read(record);
  return out;
}

namespace {

// Checked before any file is opened, so a missing setting is reported before a missing file.
TFRecordDatasetOptions checked(TFRecordDatasetOptions options) {
  TRAINER_CHECK(options.num_classes > 0, "TFRecord dataset: num_classes must be given (", options.num_classes,
                "); NVIDIA's ImageNet records use 1001");
  return options;
}

}  // namespace

TFRecordDataset::TFRecordDataset(const std::vector<std::string>& files, TFRecordDatasetOptions options)
    : options_(checked(std::move(options))), records_(files, options_.index_dir, "TFRecord dataset") {}

std::string TFRecordDataset::describe() const {
  return str("TFRecords ", records_.describe_files(), " (", size(), " records, ", num_classes(), " classes)");
}

Sample TFRecordDataset::read(int64_t index) const {
  TFRecordFileSet::Record record = records_.read(index);
  Sample sample;
  sample.name = std::move(record.name);
  ImageExample example = parse_image_example(record.data, sample.name, options_.keys);
  const int64_t label = example.label + options_.label_offset;
  if (label < 0 || label >= options_.num_classes)
    fail_sample(sample.name, ": label ", example.label, (options_.label_offset ? str(" + offset ", options_.label_offset) : ""),
                " outside [0, ", options_.num_classes, ")");
  sample.encoded = std::move(example.encoded);
  sample.label = label;
  return sample;
}

std::vector<std::string> write_tfrecords(const Dataset& dataset, const std::string& prefix, int num_shards,
                                         const ImageExampleKeys& keys) {
  TRAINER_CHECK(num_shards > 0, "write_tfrecords: num_shards must be positive, got ", num_shards);
  std::vector<std::string> names;
  std::vector<std::unique_ptr<TFRecordWriter>> writers;
  for (int s = 0; s < num_shards; ++s) {
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, "-%05d-of-%05d", s, num_shards);
    names.push_back(prefix + suffix);
    writers.push_back(std::make_unique<TFRecordWriter>(names.back()));
  }
  for (int64_t i = 0; i < dataset.size(); ++i) {
    Sample sample = dataset.read(i);
    std::string format = is_jpeg(sample.encoded) ? "JPEG" : "unknown";
    if (sample.encoded.empty()) {  // pixels only: store them losslessly
      const Image& image = sample.image;
      cv::Mat pixels(image.height, image.width, image.channels == 3 ? CV_8UC3 : CV_8UC1,
                     const_cast<uint8_t*>(image.pixels.data()));
      cv::Mat bgr;
      if (image.channels == 3) cv::cvtColor(pixels, bgr, cv::COLOR_RGB2BGR);
      TRAINER_CHECK(cv::imencode(".png", image.channels == 3 ? bgr : pixels, sample.encoded),
                    "write_tfrecords: cannot PNG-encode ", sample.name);
      format = "PNG";
    }
    writers[i % num_shards]->write(make_image_example(sample.encoded, sample.label, format, sample.name, keys));
  }
  for (auto& writer : writers) writer->close();
  return names;
}

}  // namespace trainer::data
