// Shared helpers for the training-layer tests: fixture paths and a scratch folder.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include "../scratch_dir.h"

namespace trainer::train::testing {

inline std::string fixture(const std::string& name) {
  const char* dir = std::getenv("TRAINER_SOURCE_DIR");
  return std::string(dir ? dir : ".") + "/tests/train/data/" + name;
}

// A fresh folder under the system temp dir (tests/scratch_dir.h), removed with everything in it.
struct ScratchDir : test_support::ScratchDir {
  ScratchDir() : test_support::ScratchDir("train") {}
};

}  // namespace trainer::train::testing
