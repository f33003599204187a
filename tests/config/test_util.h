// Shared by the config tests: repository paths and scratch files.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

namespace trainer::config::testing {

// A path inside the repository; CTest runs tests with TRAINER_SOURCE_DIR set.
inline std::string repo_path(const std::string& relative) {
  const char* root = std::getenv("TRAINER_SOURCE_DIR");
  return (std::filesystem::path(root ? root : ".") / relative).string();
}

inline const char* const kTfodConfigs[] = {
    "configs/tfod/ssd320_full_8gpus.config",
    "configs/tfod/ssd_resnet50_v1_fpn_640x640_coco17_tpu-8.config",
    "configs/tfod/ssd_efficientdet_d0_512x512_coco17_tpu-8.config",
    "configs/tfod/ssd320_full_1gpus.config",
    "configs/tfod/ssd320_full_4gpus.config",
    "configs/tfod/ssd320_bench.config",
};

// Writes `text` to a fresh file named after the running test and returns its path.
inline std::string write_temp_config(const std::string& text) {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("trainer_config_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path path =
      dir / (std::string(test->test_suite_name()) + "." + test->name() + ".pbtxt");
  std::ofstream(path) << text;
  return path.string();
}

// The message of the trainer::Error that `f` throws, or "" when it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// Validation problems, one a line, for failure messages.
inline std::string joined(const std::vector<std::string>& problems) {
  std::string text;
  for (const std::string& p : problems) text += p + "\n";
  return text;
}

}  // namespace trainer::config::testing
