#include "trainer/data/decode.h"

#include <gtest/gtest.h>

#include <zlib.h>

#include <cmath>

#include "test_util.h"
#include "trainer/data/dataset.h"

namespace trainer::data {
namespace {

using testing::coco_jpeg;

std::vector<uint8_t> coco_bytes() { return read_file_bytes(coco_jpeg()); }

double mean_of(const Image& image) {
  double sum = 0;
  for (uint8_t v : image.pixels) sum += v;
  return sum / image.pixels.size();
}

// The error for a bad image must say which file it was and what is wrong with it.
void expect_bad_sample(const std::vector<uint8_t>& bytes, const std::string& name, const std::string& what) {
  try {
    decode_image(bytes, name, ColorMode::kRgb);
    FAIL() << "decoding " << name << " should have failed";
  } catch (const BadSampleError& e) {
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(Decode, RealJpegRgbAndGray) {
  const auto bytes = coco_bytes();
  ASSERT_TRUE(is_jpeg(bytes));
  const ImageSize size = jpeg_size(bytes, coco_jpeg());
  EXPECT_EQ(size.width, 640);
  EXPECT_EQ(size.height, 480);

  const Image rgb = decode_image(bytes, coco_jpeg(), ColorMode::kRgb);
  EXPECT_EQ(rgb.width, 640);
  EXPECT_EQ(rgb.height, 480);
  EXPECT_EQ(rgb.channels, 3);
  const Image gray = decode_image(bytes, coco_jpeg(), ColorMode::kGray);
  EXPECT_EQ(gray.channels, 1);
  EXPECT_EQ(gray.pixels.size(), 640u * 480u);
  // Luma is a weighted average of R, G, B: the image means agree closely.
  EXPECT_NEAR(mean_of(gray), mean_of(rgb), 12.0);
  EXPECT_GT(mean_of(rgb), 20.0);  // a real photo, not a blank buffer

  // OpenCV decodes the same JPEG (both use libjpeg-turbo's accurate IDCT): pixels agree.
  cv::Mat bgr = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8U, const_cast<uint8_t*>(bytes.data())),
                             cv::IMREAD_COLOR);
  ASSERT_EQ(bgr.rows, 480);
  int max_diff = 0;
  for (int y = 0; y < 480; y += 7)
    for (int x = 0; x < 640; x += 5)
      for (int c = 0; c < 3; ++c)
        max_diff = std::max(max_diff, std::abs(int(rgb.row(y)[x * 3 + c]) - int(bgr.at<cv::Vec3b>(y, x)[2 - c])));
  EXPECT_LE(max_diff, 2);
}

TEST(Decode, DctScalingPicksTheSmallestSufficientFactor) {
  const auto bytes = coco_bytes();
  // 640x480: factor 1/2 gives 320x240 >= 300x200; 3/8 would give 240x180.
  const Image half = decode_image(bytes, "x", ColorMode::kRgb, ImageSize{200, 300});
  EXPECT_EQ(half.width, 320);
  EXPECT_EQ(half.height, 240);
  const Image eighth = decode_image(bytes, "x", ColorMode::kRgb, ImageSize{10, 10});
  EXPECT_EQ(eighth.width, 80);
  EXPECT_EQ(eighth.height, 60);
  const Image full = decode_image(bytes, "x", ColorMode::kRgb, ImageSize{480, 641});  // never upscales
  EXPECT_EQ(full.width, 640);
  // The reduced image is the full one averaged: 2x2 block means agree.
  const Image whole = decode_image(bytes, "x", ColorMode::kRgb);
  double diff = 0;
  for (int y = 0; y < 240; ++y)
    for (int x = 0; x < 320; ++x)
      for (int c = 0; c < 3; ++c) {
        const double block = (whole.row(2 * y)[6 * x + c] + whole.row(2 * y)[6 * x + 3 + c] +
                              whole.row(2 * y + 1)[6 * x + c] + whole.row(2 * y + 1)[6 * x + 3 + c]) / 4.0;
        diff += std::abs(block - half.row(y)[3 * x + c]);
      }
  EXPECT_LT(diff / (240 * 320 * 3), 3.0);
}

TEST(Decode, TruncatedJpegIsAnErrorNamingTheFile) {
  auto bytes = coco_bytes();
  bytes.resize(bytes.size() / 2);
  expect_bad_sample(bytes, "/data/train/n01/img_17.jpg", "truncated");
}

TEST(Decode, CorruptJpegIsAnErrorNamingTheFile) {
  auto bytes = coco_bytes();
  // Wipe the frame header and everything after it: the markers are gone.
  std::fill(bytes.begin() + 20, bytes.end(), 0);
  expect_bad_sample(bytes, "/data/img_corrupt.jpg", "JPEG");
}

TEST(Decode, NotAnImageAndEmptyFile) {
  const std::string text = "this is not an image at all";
  expect_bad_sample({text.begin(), text.end()}, "/data/notes.png", "cannot decode");
  expect_bad_sample({}, "/data/empty.jpg", "empty file");
}

TEST(Decode, PngIsExactAndGrayIsExpanded) {
  const Image rgb = testing::gradient(17, 23, 3);
  const Image decoded = decode_image(testing::encode(rgb, ".png"), "g.png", ColorMode::kRgb);
  ASSERT_EQ(decoded.width, 23);
  ASSERT_EQ(decoded.height, 17);
  EXPECT_EQ(decoded.pixels, rgb.pixels);  // lossless, and in RGB order (OpenCV works in BGR)

  const Image gray = testing::gradient(5, 6, 1);
  const Image expanded = decode_image(testing::encode(gray, ".png"), "g.png", ColorMode::kRgb);
  ASSERT_EQ(expanded.channels, 3);
  for (int i = 0; i < 30; ++i)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(expanded.pixels[i * 3 + c], gray.pixels[i]);
  const Image kept = decode_image(testing::encode(gray, ".bmp"), "g.bmp", ColorMode::kGray);
  EXPECT_EQ(kept.pixels, gray.pixels);
}

TEST(Decode, GrayJpegExpandsToEqualChannels) {
  const Image gray = testing::gradient(16, 24, 1);
  const auto jpeg = testing::encode(gray, ".jpg");
  ASSERT_TRUE(is_jpeg(jpeg));
  const Image rgb = decode_image(jpeg, "g.jpg", ColorMode::kRgb);
  const Image kept = decode_image(jpeg, "g.jpg", ColorMode::kGray);
  ASSERT_EQ(rgb.channels, 3);
  ASSERT_EQ(kept.channels, 1);
  for (size_t i = 0; i < kept.pixels.size(); ++i)
    for (int c = 0; c < 3; ++c) ASSERT_EQ(rgb.pixels[i * 3 + c], kept.pixels[i]);
}

// A header may claim a size the pixels cannot fill: refused from the header, before the pixels
// are allocated (TensorFlow's limit, 2^29 bytes), not by running out of memory.
TEST(Decode, HugeClaimedSizeIsRefusedBeforeDecoding) {
  auto jpeg = testing::encode(testing::gradient(16, 24, 3), ".jpg");
  for (size_t i = 0; i + 8 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0) {  // SOF0: length, precision, height, width
      jpeg[i + 5] = jpeg[i + 7] = 0xFF;  // 65500, libjpeg-turbo's largest
      jpeg[i + 6] = jpeg[i + 8] = 0xDC;
      break;
    }
  }
  expect_bad_sample(jpeg, "/data/huge.jpg", "65500x65500 is too large");

  auto png = testing::encode(testing::gradient(16, 24, 3), ".png");
  png[16] = png[20] = 0x01;  // IHDR width and height: 2^24 + 24 and 2^24 + 16
  const uint32_t crc = crc32(crc32(0, nullptr, 0), png.data() + 12, 17);
  for (int b = 0; b < 4; ++b) png[29 + b] = static_cast<uint8_t>(crc >> (24 - 8 * b));
  expect_bad_sample(png, "/data/huge.png", "too large");
}

TEST(Decode, TruncatedPngIsAnError) {
  auto bytes = testing::encode(testing::gradient(64, 64, 3), ".png");
  bytes.resize(bytes.size() / 2);
  expect_bad_sample(bytes, "/data/cut.png", "/data/cut.png");
}

}  // namespace
}  // namespace trainer::data
