#include "trainer/data/idx_dataset.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace trainer::data {
namespace {

// gzread reads gzip'd and plain files alike, so both shipped forms open the same way.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path), file_(gzopen(path.c_str(), "rb")) {
    if (!file_) fail("cannot open IDX file ", path);
  }
  ~GzFile() { gzclose(file_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  void read(void* dst, size_t bytes, const char* what) {
    auto* out = static_cast<uint8_t*>(dst);
    while (bytes > 0) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(bytes, 1u << 30));
      const int got = gzread(file_, out, chunk);
      if (got <= 0) {
        int code = 0;
        const char* message = gzerror(file_, &code);
        fail(path_, ": ", got == 0 ? "file ends early" : message, " while reading ", what);
      }
      out += got;
      bytes -= static_cast<size_t>(got);
    }
  }
  // Reads `bytes` into `out`, growing it (doubling) as the data arrives: a header that claims
  // more than the file holds fails at the file's end, having allocated at most about twice what
  // the file holds, instead of allocating the claim first.
  void read_all(std::vector<uint8_t>& out, uint64_t bytes, const char* what) {
    out.clear();
    while (out.size() < bytes) {
      const size_t at = out.size();
      const size_t n = static_cast<size_t>(std::min<uint64_t>(std::max<size_t>(at, 1 << 16), bytes - at));
      out.resize(at + n);
      read(out.data() + at, n, what);
    }
  }
  uint32_t read_be32(const char* what) {
    uint8_t b[4];
    read(b, 4, what);
    return static_cast<uint32_t>(b[0]) << 24 | b[1] << 16 | b[2] << 8 | b[3];
  }

 private:
  std::string path_;
  gzFile file_;
};

// IDX magic: two zero bytes, the element type (0x08 = uint8), the number of dimensions.
void check_magic(GzFile& file, const std::string& path, int dims) {
  const uint32_t magic = file.read_be32("the magic number");
  if (magic != (0x0800u | static_cast<uint32_t>(dims)))
    fail(path, ": not a uint8 IDX file with ", dims, " dimension(s) (magic 0x", std::hex, magic, ", expected 0x",
         0x0800 | dims, ")");
}

}  // namespace

IdxDataset::IdxDataset(std::string images_path, std::string labels_path) : images_path_(std::move(images_path)) {
  GzFile images(images_path_);
  check_magic(images, images_path_, 3);
  const uint32_t count = images.read_be32("the image count");
  height_ = static_cast<int>(images.read_be32("the height"));
  width_ = static_cast<int>(images.read_be32("the width"));
  TRAINER_CHECK(height_ > 0 && width_ > 0 && height_ <= 65536 && width_ <= 65536, images_path_,
                ": implausible image size ", height_, "x", width_);

  GzFile labels(labels_path);
  check_magic(labels, labels_path, 1);
  const uint32_t label_count = labels.read_be32("the label count");
  TRAINER_CHECK(count == label_count, images_path_, " holds ", count, " images but ", labels_path, " holds ",
                label_count, " labels");

  // count * height * width < 2^32 * 2^16 * 2^16: no overflow.
  images.read_all(pixels_, static_cast<uint64_t>(count) * height_ * width_, "the pixels");
  labels.read_all(labels_, count, "the labels");
  num_classes_ = labels_.empty() ? 0 : *std::max_element(labels_.begin(), labels_.end()) + 1;
}

IdxDataset IdxDataset::fashion_mnist(bool train, const std::string& dir) {
  const std::string split = train ? "train" : "t10k";
  return IdxDataset(dir + "/" + split + "-images-idx3-ubyte.gz", dir + "/" + split + "-labels-idx1-ubyte.gz");
}

std::string IdxDataset::describe() const {
  return str("IDX ", images_path_, " (", size(), " images of ", height_, "x", width_, ", ", num_classes_, " classes)");
}

Sample IdxDataset::read(int64_t index) const {
  TRAINER_CHECK(index >= 0 && index < size(), "IDX dataset: index ", index, " out of range [0, ", size(), ")");
  Sample sample;
  sample.name = str(images_path_, "#", index);
  sample.image = Image(height_, width_, 1);
  const size_t bytes = static_cast<size_t>(height_) * width_;
  std::copy_n(pixels_.data() + index * bytes, bytes, sample.image.pixels.data());
  sample.label = labels_[index];
  return sample;
}

}  // namespace trainer::data
