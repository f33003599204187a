#include "trainer/data/tfrecord.h"

#include <gtest/gtest.h>

#include <fstream>

#include "test_util.h"
#include "trainer/core/crc32c.h"
#include "trainer/data/decode.h"
#include "trainer/data/tf_example.h"
#include "trainer/data/tfrecord_dataset.h"

namespace trainer::data {
namespace {

using testing::error_of;

using testing::ScratchDir;

std::vector<uint8_t> record_bytes(int i) {
  std::vector<uint8_t> data(static_cast<size_t>(i * 37 % 500));
  for (size_t k = 0; k < data.size(); ++k) data[k] = static_cast<uint8_t>(k * 13 + i);
  return data;
}

void write_records(const std::string& path, int count) {
  TFRecordWriter writer(path);
  for (int i = 0; i < count; ++i) writer.write(record_bytes(i));
  writer.close();
}

void flip_byte(const std::string& path, uint64_t offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(static_cast<std::streamoff>(offset));
  char c;
  file.get(c);
  file.seekp(static_cast<std::streamoff>(offset));
  file.put(static_cast<char>(c ^ 0x40));
}

TEST(TFRecord, WriteThenReadBack) {
  ScratchDir dir;
  write_records(dir / "a.tfrecord", 20);
  TFRecordReader reader(dir / "a.tfrecord");
  ASSERT_EQ(reader.size(), 20);
  uint64_t offset = 0;
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(reader.offset(i), offset);
    EXPECT_EQ(reader.read(i), record_bytes(i)) << i;
    offset += 16 + record_bytes(i).size();
  }
  EXPECT_EQ(std::filesystem::file_size(dir / "a.tfrecord"), offset);
}

TEST(TFRecord, FramingMatchesTensorFlowByteForByte) {
  // One record "abc": length 3 LE, masked crc32c of the 8 length bytes, data, masked crc of
  // data. The CRC values follow from crc32c("abc") = 0x364B3FB7 and TensorFlow's mask.
  ScratchDir dir;
  {
    TFRecordWriter writer(dir / "abc");
    const std::string abc = "abc";
    writer.write({reinterpret_cast<const uint8_t*>(abc.data()), 3});
    writer.close();
  }
  const auto bytes = read_file_bytes(dir / "abc");
  ASSERT_EQ(bytes.size(), 19u);
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 8), (std::vector<uint8_t>{3, 0, 0, 0, 0, 0, 0, 0}));
  const uint32_t data_crc = bytes[15] | bytes[16] << 8 | bytes[17] << 16 | static_cast<uint32_t>(bytes[18]) << 24;
  EXPECT_EQ(data_crc, mask_crc32c(0x364B3FB7u));
}

TEST(TFRecord, DataCrcMismatchNamesFileAndOffset) {
  ScratchDir dir;
  const std::string path = dir / "bad.tfrecord";
  write_records(path, 5);
  TFRecordReader reader(path);
  flip_byte(path, reader.offset(3) + 12 + 5);  // a data byte of record 3
  EXPECT_EQ(reader.read(2), record_bytes(2));  // the others are intact
  try {
    reader.read(3);
    FAIL() << "a corrupted record must not read back";
  } catch (const BadSampleError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("offset " + std::to_string(reader.offset(3))), std::string::npos) << message;
    EXPECT_NE(message.find("data CRC mismatch"), std::string::npos) << message;
  }
}

TEST(TFRecord, DamagedFramingIsSkippedAndTheScanGoesOnAtTheNextIntactRecord) {
  ScratchDir dir;
  const std::string path = dir / "len.tfrecord";
  write_records(path, 4);
  const TFRecordReader intact(path);
  flip_byte(path, intact.offset(2) + 1);  // the length field of record 2
  const TFRecordReader skipped(path);
  ASSERT_EQ(skipped.size(), 3);
  EXPECT_EQ(skipped.offset(2), intact.offset(3));  // record 3, found again
  EXPECT_EQ(skipped.read(2), record_bytes(3));
  EXPECT_EQ(skipped.damaged_bytes(), intact.offset(3) - intact.offset(2));

  write_records(path, 4);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);  // a truncated copy
  const TFRecordReader truncated(path);
  ASSERT_EQ(truncated.size(), 3);
  EXPECT_EQ(truncated.read(2), record_bytes(2));
  EXPECT_EQ(truncated.damaged_bytes(), std::filesystem::file_size(path) - intact.offset(3));

  // A file without one intact record is not a TFRecord file.
  testing::write_bytes(path, std::vector<uint8_t>(100, 7));
  const std::string message = error_of([&] { TFRecordReader reader(path); });
  EXPECT_NE(message.find(path + ": not a TFRecord file (no intact record in its 100 bytes)"), std::string::npos)
      << message;
}

TEST(TFRecord, DaliIndexFilesReplaceTheScanAndAreChecked) {
  ScratchDir dir;
  const std::string path = dir / "train-0", index = dir / "train-0.idx";
  write_records(path, 6);
  const TFRecordReader scanned(path);
  write_tfrecord_index(scanned, index);
  // DALI's format: "offset length" per line, the length counting the 16 framing bytes.
  const auto text = read_file_bytes(index);
  EXPECT_EQ(std::string(text.begin(), text.begin() + 5), "0 16\n");  // record 0 is empty
  const TFRecordReader indexed(path, index);
  ASSERT_EQ(indexed.size(), 6);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(indexed.offset(i), scanned.offset(i));
    EXPECT_EQ(indexed.read(i), record_bytes(i));
  }
  // An index that does not tile the file is refused, naming the index file and line.
  testing::write_bytes(dir / "bad.idx", {'0', ' ', '1', '6', '\n', '1', '7', ' ', '5', '\n'});
  const std::string message = error_of([&] { TFRecordReader(path, dir / "bad.idx"); });
  EXPECT_NE(message.find(dir / "bad.idx:2"), std::string::npos) << message;
  testing::write_bytes(dir / "shifted.idx", {'4', ' ', '1', '6', '\n'});
  EXPECT_NE(error_of([&] { TFRecordReader(path, dir / "shifted.idx"); }).find("expected offset 0"), std::string::npos);
  // An index that tiles the file with wrong boundaries (records 0 and 1 merged): reading the
  // merged record finds its length field disagreeing, an unusable sample.
  std::string merged = str("0 ", scanned.offset(2), "\n");
  for (int i = 2; i < 6; ++i) merged += str(scanned.offset(i), " ", scanned.data_size(i) + 16, "\n");
  testing::write_bytes(dir / "merged.idx", {merged.begin(), merged.end()});
  const TFRecordReader wrong(path, dir / "merged.idx");
  EXPECT_THROW(wrong.read(0), BadSampleError);
  EXPECT_EQ(wrong.read(1), record_bytes(2));
}

TEST(TFRecord, ExampleRoundTripAndMissingKeys) {
  const std::vector<uint8_t> image = {1, 2, 3, 250};
  const auto record = make_image_example(image, 417, "JPEG", "n01/x.jpg");
  const ImageExample parsed = parse_image_example(record, "r");
  EXPECT_EQ(parsed.encoded, image);
  EXPECT_EQ(parsed.label, 417);

  ImageExampleKeys other;
  other.label = "image/class/id";
  const std::string message = error_of([&] { parse_image_example(record, "file@16", other); });
  EXPECT_NE(message.find("file@16"), std::string::npos) << message;
  EXPECT_NE(message.find("image/class/id"), std::string::npos) << message;
  const std::vector<uint8_t> junk = {0xff, 0xff, 0xff};
  EXPECT_THROW(parse_image_example(junk, "j"), BadSampleError);
}

TEST(TFRecord, DatasetFromAnImageFolderReadsBack) {
  ScratchDir dir;
  testing::write_bytes(dir / "images/cat/a.jpg", read_file_bytes(testing::coco_jpeg()));
  testing::write_bytes(dir / "images/dog/b.png", testing::encode(testing::gradient(8, 9, 3), ".png"));
  testing::write_bytes(dir / "images/dog/c.png", testing::encode(testing::gradient(8, 9, 3, 1), ".png"));
  const ImageFolderDataset folder(dir / "images");
  const auto files = write_tfrecords(folder, dir / "train", 2);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0], dir / "train-00000-of-00002");

  TFRecordDatasetOptions options;
  options.num_classes = 2;
  const TFRecordDataset records({dir / "train-*"}, options);
  ASSERT_EQ(records.size(), 3);
  // Round-robin: shard 0 holds folder samples 0 and 2, shard 1 holds sample 1.
  const int64_t folder_index[] = {0, 2, 1};
  for (int64_t i = 0; i < 3; ++i) {
    const Sample sample = records.read(i);
    EXPECT_EQ(sample.encoded, read_file_bytes(folder.path(folder_index[i])));
    EXPECT_EQ(sample.label, folder.label(folder_index[i]));
  }
  for (const auto& file : files) write_tfrecord_index(TFRecordReader(file), file + ".idx");
  TFRecordDatasetOptions indexed = options;
  indexed.index_dir = dir.path();
  EXPECT_EQ(TFRecordDataset({dir / "train-*-of-*[0-9]"}, indexed).read(2).encoded, records.read(2).encoded);

  options.num_classes = 1;  // labels beyond the class count are unusable samples
  const TFRecordDataset narrow({dir / "train-00000-of-00002"}, options);
  EXPECT_THROW(narrow.read(1), BadSampleError);
  EXPECT_NE(error_of([&] { TFRecordDataset({dir / "nothing-*"}, options); }).find("nothing-*"), std::string::npos);
}

}  // namespace
}  // namespace trainer::data
