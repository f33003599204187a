// Datasets: numbered samples a loader can read in any order from any thread.
// Classification samples carry one label; detection samples (COCO) carry their objects and the
// image's identity in `annotations` instead, and the same loader machinery (order, sharding,
// workers) carries both.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trainer/core/error.h"
#include "trainer/data/annotations.h"
#include "trainer/data/image.h"

namespace trainer::data {

// One sample that cannot be used (corrupt or truncated image, bad record CRC, label out of
// range). The loader counts it, substitutes another sample and goes on; any other Error stops
// the run. The message names the sample (path, or file and record offset).
class BadSampleError : public Error {
 public:
  explicit BadSampleError(const std::string& message) : Error(message) {}
};

template <class... Args>
[[noreturn]] void fail_sample(Args&&... args) {
  throw BadSampleError(str(std::forward<Args>(args)...));
}

struct Sample {
  std::string name;              // where it came from, for messages: a path, "file@offset", ...
  std::vector<uint8_t> encoded;  // compressed image bytes (JPEG, PNG, ...), or empty when
  Image image;                   // the source already holds pixels (IDX, synthetic)
  int64_t label = -1;            // classification: class id in [0, num_classes); detection: -1
  // Detection: image id, stored size and objects (boxes normalised to the stored image).
  // Classification sources leave it empty.
  ImageAnnotations annotations;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Classification: labels lie in [0, num_classes). Detection: object class ids lie in
  // [1, num_classes] (0 is the background).
  virtual int64_t num_classes() const = 0;
  // One line for logs: kind, location, counts.
  virtual std::string describe() const = 0;
  // Safe to call from many threads at once. Throws BadSampleError for an unusable sample.
  virtual Sample read(int64_t index) const = 0;
};

}  // namespace trainer::data
