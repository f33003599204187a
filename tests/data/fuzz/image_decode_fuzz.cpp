// libFuzzer target for image decoding through the data layer (decode_image, jpeg_size): JPEG
// through TurboJPEG and PNG through OpenCV. Inputs that are neither (no JPEG or PNG signature)
// are skipped: the other formats OpenCV reads are its own code, not ours. The input's length
// picks the colour mode and whether the JPEG is reduced in the DCT domain, so every path is
// reached from any input. Rejections must be trainer::Error (BadSampleError); a crash, a
// sanitizer report, another exception or an allocation the header's claim alone drives is a bug.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "trainer/core/error.h"
#include "trainer/data/decode.h"

using namespace trainer::data;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  static constexpr uint8_t kPng[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  const bool png = size >= 8 && std::memcmp(data, kPng, 8) == 0;
  if (!is_jpeg(bytes) && !png) return 0;
  const ColorMode color = size % 2 ? ColorMode::kGray : ColorMode::kRgb;
  std::optional<ImageSize> min_size;
  if (size % 4 >= 2) min_size = ImageSize{static_cast<int>(size % 7) + 1, static_cast<int>(size % 5) + 1};
  try {
    const Image image = decode_image(bytes, "fuzz", color, min_size);
    if (image.height <= 0 || image.width <= 0 || image.channels != channels_of(color) ||
        image.pixels.size() != static_cast<size_t>(image.height) * image.width * image.channels)
      __builtin_trap();  // a decoded image must be what it says
  } catch (const trainer::Error&) {
  }
  if (is_jpeg(bytes)) {
    try {
      (void)jpeg_size(bytes, "fuzz");
    } catch (const trainer::Error&) {
    }
  }
  return 0;
}
