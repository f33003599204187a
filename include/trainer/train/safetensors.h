// The safetensors file format (named, shaped, typed tensors; readable by the Python
// ecosystem): an 8-byte little-endian header length, a JSON header mapping each name to
// {dtype, shape, data_offsets} plus an optional "__metadata__" string map, then the bytes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "trainer/core/tensor.h"

namespace trainer::train {

struct NamedTensor {
  std::string name;
  Tensor tensor;  // CPU, contiguous
};

// Writes atomically: a temporary file beside `path`, fsynced, then renamed over it (and the
// directory fsynced), so a crash leaves either the old file or the new one, never half. A file
// system without room for it is refused before writing; a failed write (EFBIG, ENOSPC, EIO)
// removes the temporary file. __metadata__ gets "crc32c", the checksum of the data section.
void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata);

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;  // CPU tensors owning copies of the data
  std::map<std::string, std::string> metadata;
};

// Reads and validates the whole file; any inconsistency (and data that does not match the
// "crc32c" in its metadata, which is then left out of `metadata`) is an Error naming the file.
SafetensorsFile read_safetensors(const std::string& path);

}  // namespace trainer::train
