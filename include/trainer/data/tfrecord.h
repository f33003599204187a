// TFRecord files: the record framing TensorFlow (and NVIDIA's ImageNet and COCO scripts)
// write. Each record is
//   uint64 length (little endian) | uint32 masked crc32c(length) | data | uint32 masked crc32c(data)
// The reader indexes a file once (offsets of every record, checking each length CRC, since a
// bad length loses the framing for the rest of the file) and then reads records at random
// from any thread, checking both CRCs of each record it reads.
//
// Scanning touches every record header, i.e. a disk seek per record on a cold cache. DALI's
// index files (tfrecord2idx; NVIDIA's ResNet scripts keep them in --data_idx_dir), one text
// line "offset length" per record, length counting the framing, skip the scan.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

namespace trainer::data {

class TFRecordReader {
 public:
  // Scans `path` and builds the record index. A broken frame (length CRC mismatch, a record
  // running past the end of the file) is skipped with a warning naming the file, the offset and
  // the bytes lost: the scan goes on at the next intact record. A file without any intact
  // record is an Error.
  explicit TFRecordReader(std::string path);
  // Takes the record offsets from a DALI index file instead of scanning; an index that does
  // not tile the file exactly is an Error naming the index file and line.
  TFRecordReader(std::string path, const std::string& index_path);

  const std::string& path() const { return path_; }
  int64_t size() const { return static_cast<int64_t>(offsets_.size()); }
  uint64_t offset(int64_t record) const { return offsets_[record]; }  // of the record's header

  // The data of record `record`. A data CRC mismatch or a failed read is a BadSampleError
  // naming the file, the record and its offset. Thread-safe.
  std::vector<uint8_t> read(int64_t record) const;
  uint64_t data_size(int64_t record) const { return lengths_[record]; }
  // Bytes of damaged framing the scan skipped (0 for an intact file).
  uint64_t damaged_bytes() const { return damaged_bytes_; }

 private:
  uint64_t file_size() const;

  std::string path_;
  std::vector<uint64_t> offsets_;
  std::vector<uint64_t> lengths_;
  uint64_t damaged_bytes_ = 0;
};

// Writes `reader`'s offsets as a DALI index file.
void write_tfrecord_index(const TFRecordReader& reader, const std::string& index_path);

class TFRecordWriter {
 public:
  explicit TFRecordWriter(std::string path);  // creates or truncates
  ~TFRecordWriter();
  TFRecordWriter(const TFRecordWriter&) = delete;
  TFRecordWriter& operator=(const TFRecordWriter&) = delete;

  void write(std::span<const uint8_t> data);
  // Hands what was written to the operating system, so a reader of the growing file (a live
  // TensorBoard) sees every complete record.
  void flush();
  // Flushes and closes; throws if anything failed to reach the file. The destructor closes
  // too, but cannot report errors.
  void close();

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace trainer::data
