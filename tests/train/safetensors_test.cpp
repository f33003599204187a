// read_safetensors on hostile headers (the cases tests/train/fuzz/ started from): each is an
// Error naming the file and what is wrong, refused before anything is allocated for it.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "test_util.h"
#include "trainer/core/error.h"
#include "trainer/nn/parameters.h"
#include "trainer/train/checkpoint.h"
#include "trainer/train/safetensors.h"

namespace trainer::train {
namespace {

// A safetensors file of `header` (its length as given, or its real one) and `data_bytes` zeros.
std::string write_file(const testing::ScratchDir& dir, const std::string& header, size_t data_bytes,
                       uint64_t header_length = UINT64_MAX) {
  const std::string path = dir.path() + "/t.safetensors";
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = header_length == UINT64_MAX ? header.size() : header_length;
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>(n >> (8 * i)));
  out << header << std::string(data_bytes, '\0');
  return path;
}

std::string error_reading(const std::string& path) {
  try {
    read_safetensors(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

void expect_refused(const std::string& header, size_t data_bytes, const std::string& what,
                    uint64_t header_length = UINT64_MAX) {
  testing::ScratchDir dir;
  const std::string path = write_file(dir, header, data_bytes, header_length);
  const std::string message = error_reading(path);
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find(what), std::string::npos) << header << "\n" << message;
}

TEST(Safetensors, HostileHeadersAreErrorsNamingTheProblem) {
  const std::string t = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  expect_refused(t, 8, "exceeds the file size", uint64_t{1} << 62);
  expect_refused(t, 8, "exceeds the file size", UINT64_MAX - 7);  // "negative"
  expect_refused(R"({"t":[1,2)", 8, "not valid JSON");
  expect_refused(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", 8, "out of range");
  expect_refused(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8, "out of range");
  expect_refused(R"({"t":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", 8, "unsupported dtype \"F64\"");
  expect_refused(R"({"t":{"dtype":"I64","shape":[2],"data_offsets":[0,8]}})", 8, "8 bytes for shape [2] of I64");
  // Sizes that wrap around 2^64 to the range's length, or strides that overflow behind a zero.
  expect_refused(R"({"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}})", 0, "too large");
  expect_refused(R"({"t":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}})",
                 0, "too large");
  expect_refused(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                 12, "tensors a (data bytes 0..8) and b (data bytes 4..12) overlap");
  expect_refused(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                 16, "tensor a appears twice");
  expect_refused(R"({"__metadata__":{"k":"1"},"__metadata__":{}})", 0, "__metadata__ appears twice");
  expect_refused(R"({"__metadata__":{"k":"1","k":"2"}})", 0, "metadata k appears twice");
}

TEST(Safetensors, EmptyTensorsMayShareAnOffset) {
  testing::ScratchDir dir;
  const std::string path = write_file(
      dir, R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
      8);
  const SafetensorsFile file = read_safetensors(path);
  EXPECT_EQ(file.tensors.size(), 2u);
}

TEST(Checkpoint, LossScaleThatIsNotANumberIsAnError) {
  testing::ScratchDir dir;
  nn::ParameterStore store;
  store.add("w", {2}, nn::ParamRole::Weight, nn::Init::ones());
  store.finalize(1);
  for (const std::string scale : {"abc", "nan", "-1", ""}) {
    const std::string path = write_file(
        dir,
        R"({"__metadata__":{"format":"trainer-checkpoint-1","step":"1","loader_epoch":"0","loader_batch":"0",)"
        R"("loss_scale_good_steps":"0","loss_scale":")" + scale + R"("},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
        8);
    try {
      load_checkpoint(path, store);
      FAIL() << "loss_scale \"" << scale << "\" was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("loss_scale = \"" + scale + "\" is not a finite number > 0"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace trainer::train
