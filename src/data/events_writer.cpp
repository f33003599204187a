#include "trainer/data/events_writer.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "tensorflow/core/util/event.pb.h"
#include "trainer/core/error.h"
#include "trainer/data/tfrecord.h"

namespace trainer::data {
namespace {

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string events_file_name(double now) {
  static std::atomic<int> files_made{0};
  char host[256] = "localhost";
  if (gethostname(host, sizeof host) != 0) host[0] = '\0';
  host[sizeof host - 1] = '\0';
  char name[400];
  std::snprintf(name, sizeof name, "events.out.tfevents.%010lld.%s.%d.%d", static_cast<long long>(now), host,
                static_cast<int>(getpid()), files_made++);
  return name;
}

void write_event(TFRecordWriter& records, const tensorflow::Event& event) {
  const std::string bytes = event.SerializeAsString();
  records.write({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

}  // namespace

EventsWriter::EventsWriter(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  TRAINER_CHECK(!ec, "cannot create the TensorBoard folder ", dir, ": ", ec.message());
  const double now = unix_seconds();
  path_ = (std::filesystem::path(dir) / events_file_name(now)).string();
  records_ = std::make_unique<TFRecordWriter>(path_);
  tensorflow::Event version;
  version.set_wall_time(now);
  version.set_file_version("brain.Event:2");
  write_event(*records_, version);
  records_->flush();
}

EventsWriter::~EventsWriter() = default;

void EventsWriter::scalars(int64_t step, const std::vector<std::pair<std::string, float>>& values) {
  if (values.empty()) return;
  tensorflow::Event event;
  event.set_wall_time(unix_seconds());
  event.set_step(step);
  for (const auto& [tag, value] : values) {
    tensorflow::Summary::Value* v = event.mutable_summary()->add_value();
    v->set_tag(tag);
    v->set_simple_value(value);
  }
  write_event(*records_, event);
}

void EventsWriter::image(int64_t step, const std::string& tag, const EncodedImage& image) {
  TRAINER_CHECK(image.height > 0 && image.width > 0 && (image.channels == 1 || image.channels == 3) &&
                    !image.png.empty(),
                "events file ", path_, ": image ", tag, " is empty or not gray/RGB (", image.height, "x", image.width,
                "x", image.channels, ")");
  tensorflow::Event event;
  event.set_wall_time(unix_seconds());
  event.set_step(step);
  tensorflow::Summary::Value* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  tensorflow::Summary::Image* picture = v->mutable_image();
  picture->set_height(image.height);
  picture->set_width(image.width);
  picture->set_colorspace(image.channels);
  picture->set_encoded_image_string(image.png.data(), image.png.size());
  write_event(*records_, event);
}

void EventsWriter::flush() { records_->flush(); }

void EventsWriter::close() { records_->close(); }

}  // namespace trainer::data
