// TensorBoard's events files: a TFRecord file (tfrecord.h's framing, masked CRC-32C) of
// serialised tensorflow.Event protos (src/data/proto/tensorflow/core/util/event.proto), the first
// one holding file_version "brain.Event:2", each other a Summary of scalars or images at a step.
// TensorBoard reads every file named *tfevents* in a folder, in name order; one folder is one
// "run" in its dashboards.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "trainer/core/metrics_log.h"

namespace trainer::data {

class TFRecordWriter;

class EventsWriter {
 public:
  // Creates `dir` if needed and in it a new file events.out.tfevents.<unix seconds>.<hostname>.
  // <pid>.<n> (TensorFlow's name, with the process id and a per-process count so that two
  // writers never share a file), then writes the file_version record.
  explicit EventsWriter(const std::string& dir);
  ~EventsWriter();
  EventsWriter(const EventsWriter&) = delete;
  EventsWriter& operator=(const EventsWriter&) = delete;

  const std::string& path() const { return path_; }

  // One Event at `step` with a simple_value (float, as TensorBoard stores scalars) per entry.
  void scalars(int64_t step, const std::vector<std::pair<std::string, float>>& values);
  // One Event at `step` holding the picture (PNG) under `tag`.
  void image(int64_t step, const std::string& tag, const EncodedImage& image);
  // Hands the records to the operating system, for a TensorBoard watching the file.
  void flush();
  // Flushes and closes; throws if anything failed to reach the file.
  void close();

 private:
  std::string path_;
  std::unique_ptr<TFRecordWriter> records_;
};

}  // namespace trainer::data
