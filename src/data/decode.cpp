#include "trainer/data/decode.h"

#include <turbojpeg.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "trainer/data/dataset.h"

namespace trainer::data {
namespace {

// One decompressor per thread: TurboJPEG handles are not thread-safe, and creating one per
// image would cost an allocation storm in the hot loop.
tjhandle decompressor() {
  struct Handle {
    tjhandle handle = tjInitDecompress();
    ~Handle() {
      if (handle) tjDestroy(handle);
    }
  };
  thread_local Handle local;
  TRAINER_CHECK(local.handle, "TurboJPEG: cannot create a decompressor: ", tjGetErrorStr2(nullptr));
  return local.handle;
}

std::string first_bytes(std::span<const uint8_t> bytes) {
  std::string out;
  char hex[4];
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
    std::snprintf(hex, sizeof hex, "%02x ", bytes[i]);
    out += hex;
  }
  if (!out.empty()) out.pop_back();
  return out;
}

// The most bytes an image may decode to, as TensorFlow's decoders allow (jpeg_mem.cc: "Image
// too large", 2^29 bytes): a header can claim up to 65535x65535 (JPEG) or 2^31x2^31 (PNG) in a
// few bytes, and must be refused before the pixels are allocated, not by running out of memory.
constexpr uint64_t kMaxDecodedBytes = uint64_t{1} << 29;

void check_decoded_size(uint64_t height, uint64_t width, int channels, std::string_view name, const char* format) {
  if (height * width * channels >= kMaxDecodedBytes)  // no overflow: both < 2^32
    fail_sample(name, ": ", format, " of ", width, "x", height, " is too large to decode (", height * width,
                " pixels; at most ", kMaxDecodedBytes, " bytes of pixels, as TensorFlow's decoders)");
}

// A PNG's size from its IHDR chunk, which must come first; nullopt when the bytes are not a PNG
// with one (OpenCV then reports them).
std::optional<ImageSize> png_size(std::span<const uint8_t> bytes) {
  static constexpr uint8_t kSignature[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() < 24 || std::memcmp(bytes.data(), kSignature, 8) != 0 || std::memcmp(bytes.data() + 12, "IHDR", 4) != 0)
    return std::nullopt;
  auto be32 = [&](size_t at) {
    return static_cast<uint32_t>(bytes[at]) << 24 | bytes[at + 1] << 16 | bytes[at + 2] << 8 | bytes[at + 3];
  };
  const uint32_t width = be32(16), height = be32(20);
  // The PNG limit is 2^31 - 1; larger ones OpenCV rejects.
  if (width > INT32_MAX || height > INT32_MAX) return std::nullopt;
  return ImageSize{static_cast<int>(height), static_cast<int>(width)};
}

struct JpegHeader {
  int width = 0, height = 0, colorspace = 0;
};

JpegHeader read_header(std::span<const uint8_t> bytes, std::string_view name) {
  JpegHeader header;
  int subsampling = 0;
  if (tjDecompressHeader3(decompressor(), bytes.data(), bytes.size(), &header.width, &header.height, &subsampling,
                          &header.colorspace) != 0)
    fail_sample(name, ": corrupt JPEG header (", tjGetErrorStr2(decompressor()), ")");
  return header;
}

// The smallest DCT scaling factor that keeps both dimensions >= min_size, among 1/2, 1/4 and
// 1/8: libjpeg-turbo has SIMD inverse DCTs only for those. The other k/8 factors run generic C
// code and measured slower than a full-size decode (640x480 COCO photos: 5/8 took 3.7 ms
// against 3.3 ms at full size, 1/2 2.8 ms, 1/8 2.0 ms; Huffman decoding, which no scaling
// avoids, is most of the rest).
tjscalingfactor choose_scale(const JpegHeader& header, std::optional<ImageSize> min_size) {
  tjscalingfactor best{1, 1};
  if (!min_size) return best;
  int count = 0;
  const tjscalingfactor* factors = tjGetScalingFactors(&count);
  for (int i = 0; i < count; ++i) {
    const tjscalingfactor f = factors[i];
    if (f.num != 1 || f.denom < best.denom) continue;  // not a fast factor, or not smaller
    if (TJSCALED(header.width, f) >= min_size->width && TJSCALED(header.height, f) >= min_size->height) best = f;
  }
  return best;
}

Image decode_with_opencv(std::span<const uint8_t> bytes, std::string_view name, ColorMode color) {
  if (const std::optional<ImageSize> size = png_size(bytes))
    check_decoded_size(size->height, size->width, channels_of(color), name, "PNG");
  const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8U, const_cast<uint8_t*>(bytes.data()));
  // Orientation is ignored, as TurboJPEG ignores it: every format decodes the stored pixels.
  const int flags = (color == ColorMode::kRgb ? cv::IMREAD_COLOR : cv::IMREAD_GRAYSCALE) | cv::IMREAD_IGNORE_ORIENTATION;
  cv::Mat decoded;
  try {
    decoded = cv::imdecode(encoded, flags);
  } catch (const cv::Exception& e) {
    fail_sample(name, ": cannot decode image (", e.what(), ")");
  }
  if (decoded.empty())
    fail_sample(name, ": cannot decode image: not a JPEG, and no OpenCV decoder accepts it (corrupt, truncated or an "
                "unsupported format; ", bytes.size(), " bytes starting ", first_bytes(bytes), ")");
  Image image(decoded.rows, decoded.cols, channels_of(color));
  cv::Mat out(image.height, image.width, color == ColorMode::kRgb ? CV_8UC3 : CV_8UC1, image.pixels.data());
  if (color == ColorMode::kRgb)
    cv::cvtColor(decoded, out, cv::COLOR_BGR2RGB);
  else
    decoded.copyTo(out);
  return image;
}

Image decode_jpeg(std::span<const uint8_t> bytes, std::string_view name, ColorMode color,
                  std::optional<ImageSize> min_size) {
  const JpegHeader header = read_header(bytes, name);
  // Checked at full size and for every stored component, whatever the output: DCT scaling
  // shrinks the output but not the decoder's own buffers (a progressive JPEG's coefficients are
  // held for the whole image), and a gray output still decodes the colour components.
  check_decoded_size(header.height, header.width,
                     header.colorspace == TJCS_CMYK || header.colorspace == TJCS_YCCK ? 4
                     : header.colorspace == TJCS_GRAY                                ? 1
                                                                                     : 3,
                     name, "JPEG");
  // TurboJPEG cannot convert CMYK/YCCK (a few ImageNet files are CMYK) to RGB; OpenCV can.
  if (header.colorspace == TJCS_CMYK || header.colorspace == TJCS_YCCK) return decode_with_opencv(bytes, name, color);

  const tjscalingfactor scale = choose_scale(header, min_size);
  Image image(TJSCALED(header.height, scale), TJSCALED(header.width, scale), channels_of(color));
  const int format = color == ColorMode::kRgb ? TJPF_RGB : TJPF_GRAY;
  tjhandle handle = decompressor();
  if (tjDecompress2(handle, bytes.data(), bytes.size(), image.pixels.data(), image.width,
                    static_cast<int>(image.row_bytes()), image.height, format, 0) != 0) {
    const std::string message = tjGetErrorStr2(handle);
    // Warnings leave a complete image. Most are harmless ("extraneous bytes before marker" is
    // common in real photo collections) and are accepted, as TensorFlow's decoder does; a
    // premature end means the file is truncated and the bottom of the image is made up.
    const bool truncated = message.find("Premature end") != std::string::npos;
    if (tjGetErrorCode(handle) != TJERR_WARNING || truncated)
      fail_sample(name, ": ", truncated ? "truncated" : "corrupt", " JPEG (", message, "; ", bytes.size(), " bytes)");
  }
  return image;
}

}  // namespace

bool is_jpeg(std::span<const uint8_t> bytes) {
  return bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
}

ImageSize jpeg_size(std::span<const uint8_t> bytes, std::string_view name) {
  if (!is_jpeg(bytes)) fail_sample(name, ": not a JPEG (", bytes.size(), " bytes starting ", first_bytes(bytes), ")");
  const JpegHeader header = read_header(bytes, name);
  return {header.height, header.width};
}

Image decode_image(std::span<const uint8_t> bytes, std::string_view name, ColorMode color,
                   std::optional<ImageSize> min_size) {
  if (bytes.empty()) fail_sample(name, ": empty file (0 bytes), expected an image");
  if (is_jpeg(bytes)) return decode_jpeg(bytes, name, color, min_size);
  return decode_with_opencv(bytes, name, color);
}

}  // namespace trainer::data
