// Helpers for the fuzz targets (tests/*/fuzz/*.cpp) whose parsers read files: the input is
// written to one temporary file per process and per target, rewritten for every input.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace trainer::fuzz {

// $TMPDIR (or /tmp)/trainer-fuzz-<pid>-<tag>; the file is removed when the process exits.
inline std::string temp_path(const std::string& tag) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/trainer-fuzz-" + std::to_string(::getpid()) + "-" + tag;
}

inline void write_file(const std::string& path, const uint8_t* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();  // the harness's failure, not the parser's
  }
}

// A temporary file that is removed at exit; path() stays the same for the process.
class TempFile {
 public:
  explicit TempFile(const std::string& tag) : path_(temp_path(tag)) {}
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }
  void write(const uint8_t* data, size_t size) const { write_file(path_, data, size); }

 private:
  std::string path_;
};

}  // namespace trainer::fuzz
