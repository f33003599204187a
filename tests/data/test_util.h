// Shared helpers for the data tests: fixture paths, scratch folders, in-memory images.
#pragma once

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <string>
#include <vector>

#include "../scratch_dir.h"
#include "trainer/data/image.h"
#include "trainer/data/image_folder.h"

namespace trainer::data::testing {

inline std::string source_dir() {
  const char* dir = std::getenv("TRAINER_SOURCE_DIR");
  return dir ? dir : ".";
}
inline std::string fixture(const std::string& name) { return source_dir() + "/tests/data/fixtures/" + name; }
inline std::string coco_jpeg() { return fixture("000000289393.jpg"); }

// A fresh folder under the system temp dir (tests/scratch_dir.h), removed with everything in it.
struct ScratchDir : test_support::ScratchDir {
  ScratchDir() : test_support::ScratchDir("data") {}
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Encodes RGB or gray pixels with OpenCV (".png", ".jpg", ".bmp").
inline std::vector<uint8_t> encode(const Image& image, const std::string& ext) {
  cv::Mat pixels(image.height, image.width, image.channels == 3 ? CV_8UC3 : CV_8UC1,
                 const_cast<uint8_t*>(image.pixels.data()));
  cv::Mat bgr;  // a new buffer: converting in place would change the caller's image
  if (image.channels == 3)
    cv::cvtColor(pixels, bgr, cv::COLOR_RGB2BGR);
  else
    bgr = pixels;
  std::vector<uint8_t> out;
  cv::imencode(ext, bgr, out);
  return out;
}

// A w x h image whose pixel (y, x, c) is (seed + 7y + 3x + 50c) mod 256: every pixel is known.
inline Image gradient(int height, int width, int channels, int seed = 0) {
  Image image(height, width, channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) image.row(y)[x * channels + c] = static_cast<uint8_t>((seed + 7 * y + 3 * x + 50 * c) & 255);
  return image;
}

// The message of the Error f throws, or "" when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace trainer::data::testing
