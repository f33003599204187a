// TensorBoard's events files: TFRecord framing (both masked CRC-32Cs checked on read-back) of
// tensorflow.Event records, checked byte for byte against the protobuf wire format with the
// upstream field numbers, so a wrong number in our .proto fails here and not only in TensorBoard.
#include "trainer/data/events_writer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <regex>

#include "test_util.h"
#include "trainer/core/crc32c.h"
#include "trainer/data/tfrecord.h"

namespace trainer::data {
namespace {

using testing::ScratchDir;

std::vector<uint8_t> bytes_of(std::initializer_list<int> values) { return {values.begin(), values.end()}; }

void append(std::vector<uint8_t>& out, const std::vector<uint8_t>& more) { out.insert(out.end(), more.begin(), more.end()); }
void append(std::vector<uint8_t>& out, const std::string& text) { out.insert(out.end(), text.begin(), text.end()); }

// A record's data up to the wall_time: field 1, wire type 1 (fixed64 double), then 8 bytes.
double wall_time_of(const std::vector<uint8_t>& record) {
  EXPECT_GE(record.size(), 9u);
  EXPECT_EQ(record[0], 0x09);
  double t = 0;
  std::memcpy(&t, record.data() + 1, 8);
  return t;
}

TEST(EventsWriter, WritesFileVersionScalarsAndImagesAsFramedEventRecords) {
  ScratchDir dir;
  const double before = static_cast<double>(std::time(nullptr));
  std::string path;
  {
    EventsWriter writer(dir / "run");
    path = writer.path();
    writer.scalars(7, {{"loss", 1.5f}, {"lr", 0.25f}});
    EncodedImage picture{2, 3, 3, {0x89, 'P', 'N', 'G'}};
    writer.image(7, "detections/0", picture);
    writer.close();
  }
  // TensorFlow's name: events.out.tfevents.<10-digit seconds>.<host>, ours adds pid and count.
  EXPECT_TRUE(std::regex_match(std::filesystem::path(path).filename().string(),
                               std::regex(R"(events\.out\.tfevents\.\d{10}\..+\.\d+\.\d+)")))
      << path;
  EXPECT_EQ(std::filesystem::path(path).parent_path(), std::filesystem::path(dir / "run"));

  const TFRecordReader reader(path);  // scans every length CRC
  ASSERT_EQ(reader.size(), 3);
  EXPECT_EQ(reader.damaged_bytes(), 0u);
  std::vector<std::vector<uint8_t>> records;
  for (int64_t i = 0; i < reader.size(); ++i) records.push_back(reader.read(i));  // checks each data CRC

  // The framing itself: uint64 length, masked CRC-32C of those 8 bytes, data, masked CRC of it.
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t length = 0;
  std::memcpy(&length, file.data(), 8);
  EXPECT_EQ(length, records[0].size());
  uint32_t length_crc = 0, data_crc = 0;
  std::memcpy(&length_crc, file.data() + 8, 4);
  std::memcpy(&data_crc, file.data() + 12 + length, 4);
  EXPECT_EQ(length_crc, mask_crc32c(crc32c(file.data(), 8)));
  EXPECT_EQ(data_crc, mask_crc32c(crc32c(file.data() + 12, length)));

  // Event { wall_time = 1 (double); file_version = 3 (string) }.
  std::vector<uint8_t> version(records[0].begin(), records[0].begin() + 9);
  append(version, bytes_of({0x1a, 13}));
  append(version, std::string("brain.Event:2"));
  EXPECT_EQ(records[0], version);
  EXPECT_GE(wall_time_of(records[0]), before);
  EXPECT_LE(wall_time_of(records[0]), before + 60);

  // Event { wall_time; step = 2 (varint); summary = 5 { value = 1 { tag = 1; simple_value = 2 (float) } } }.
  auto scalar_value = [](const std::string& tag, float v) {
    std::vector<uint8_t> value = bytes_of({0x0a, static_cast<int>(tag.size())});
    append(value, tag);
    value.push_back(0x15);
    uint8_t f[4];
    std::memcpy(f, &v, 4);
    append(value, bytes_of({f[0], f[1], f[2], f[3]}));
    std::vector<uint8_t> wrapped = bytes_of({0x0a, static_cast<int>(value.size())});
    append(wrapped, value);
    return wrapped;
  };
  std::vector<uint8_t> summary = scalar_value("loss", 1.5f);
  append(summary, scalar_value("lr", 0.25f));
  std::vector<uint8_t> scalars(records[1].begin(), records[1].begin() + 9);
  append(scalars, bytes_of({0x10, 7, 0x2a, static_cast<int>(summary.size())}));
  append(scalars, summary);
  EXPECT_EQ(records[1], scalars);
  EXPECT_GE(wall_time_of(records[1]), wall_time_of(records[0]));

  // Summary.Value { tag = 1; image = 4 { height = 1; width = 2; colorspace = 3; encoded_image_string = 4 } }.
  std::vector<uint8_t> image = bytes_of({0x08, 2, 0x10, 3, 0x18, 3, 0x22, 4, 0x89, 'P', 'N', 'G'});
  std::vector<uint8_t> value = bytes_of({0x0a, 12});
  append(value, std::string("detections/0"));
  append(value, bytes_of({0x22, static_cast<int>(image.size())}));
  append(value, image);
  std::vector<uint8_t> image_event(records[2].begin(), records[2].begin() + 9);
  append(image_event, bytes_of({0x10, 7, 0x2a, static_cast<int>(value.size()) + 2, 0x0a, static_cast<int>(value.size())}));
  append(image_event, value);
  EXPECT_EQ(records[2], image_event);
}

TEST(EventsWriter, FlushMakesEveryRecordReadableWhileTheFileIsOpen) {
  ScratchDir dir;
  EventsWriter writer(dir.path());
  writer.scalars(1, {{"loss", 2.0f}});
  writer.flush();
  EXPECT_EQ(TFRecordReader(writer.path()).size(), 2);  // what a live TensorBoard reads
  writer.scalars(2, {{"loss", 1.0f}});
  writer.flush();
  EXPECT_EQ(TFRecordReader(writer.path()).size(), 3);
}

TEST(EventsWriter, TwoWritersInOneFolderWriteTwoFiles) {
  ScratchDir dir;
  EventsWriter a(dir.path()), b(dir.path());
  EXPECT_NE(a.path(), b.path());
}

TEST(EventsWriter, AnEmptyImageIsAnErrorNamingTheTag) {
  ScratchDir dir;
  EventsWriter writer(dir.path());
  const std::string message = testing::error_of([&] { writer.image(1, "detections/3", EncodedImage{}); });
  EXPECT_NE(message.find("detections/3"), std::string::npos) << message;
  EXPECT_NE(message.find(writer.path()), std::string::npos) << message;
}

}  // namespace
}  // namespace trainer::data
