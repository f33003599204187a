// Shared helpers for the training-layer tests: fixture paths and a scratch folder.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace trainer::train::testing {

inline std::string fixture(const std::string& name) {
  const char* dir = std::getenv("TRAINER_SOURCE_DIR");
  return std::string(dir ? dir : ".") + "/tests/train/data/" + name;
}

// A fresh folder under the system temp dir, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "trainer-train-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace trainer::train::testing
