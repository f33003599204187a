#include "trainer/train/safetensors.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "trainer/core/crc32c.h"
#include "trainer/core/json_text.h"

namespace trainer::train {
namespace {

const char* st_dtype(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
    case DType::Bool: return "BOOL";
  }
  return "?";
}

DType parse_dtype(std::string_view s, const std::string& where) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::I64, DType::U8, DType::Bool})
    if (s == st_dtype(t)) return t;
  fail(where, ": unsupported dtype \"", s, "\"");
}

constexpr const char* kChecksumKey = "crc32c";  // of the data section, in __metadata__

void write_all(int fd, const void* data, size_t bytes, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    TRAINER_CHECK(n > 0, "writing ", path, ": ", std::strerror(n == 0 ? ENOSPC : errno));
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

std::string mib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

// A file system that cannot hold the file is refused before a byte is written.
void check_free_space(const std::string& dir, uint64_t bytes, const std::string& path) {
  struct statvfs fs {};
  if (::statvfs(dir.c_str(), &fs) != 0) return;  // unknown: the writes themselves will tell
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  TRAINER_CHECK(bytes <= free_bytes, "no space for ", path, ": it needs ", mib(bytes), ", the file system of ", dir,
                " has ", mib(free_bytes), " free");
}

std::string hex32(uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof text, "%08x", v);
  return text;
}

}  // namespace

void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // The checksum of the data lets a reader tell a damaged file from a good one (a disk error, a
  // truncated copy); the atomic rename below is what protects against crashes.
  uint32_t crc = 0;
  for (const NamedTensor& nt : tensors) {
    TRAINER_CHECK(nt.tensor.device().is_cpu() && nt.tensor.is_contiguous(), "checkpoint tensor ", nt.name, " (",
                  nt.tensor.describe(), ") must be a contiguous CPU tensor");
    crc = crc32c(nt.tensor.raw(), nt.tensor.nbytes(), crc);
  }
  std::map<std::string, std::string> meta = metadata;
  meta[kChecksumKey] = hex32(crc);
  std::ostringstream header;
  header << "{\"__metadata__\":{";
  for (auto it = meta.begin(); it != meta.end(); ++it)
    header << (it == meta.begin() ? "" : ",") << json_quoted(it->first) << ':' << json_quoted(it->second);
  header << '}';
  uint64_t offset = 0;
  for (const NamedTensor& nt : tensors) {
    const Tensor& t = nt.tensor;
    header << ',' << json_quoted(nt.name) << ":{\"dtype\":\"" << st_dtype(t.dtype()) << "\",\"shape\":[";
    for (int d = 0; d < t.rank(); ++d) header << (d ? "," : "") << t.dim(d);
    header << "],\"data_offsets\":[" << offset << ',' << offset + t.nbytes() << "]}";
    offset += t.nbytes();
  }
  header << '}';
  std::string h = header.str();
  h.append((8 - h.size() % 8) % 8, ' ');  // keep the data 8-byte aligned, as the format suggests

  const std::string dir = std::filesystem::path(path).parent_path().string();
  check_free_space(dir.empty() ? "." : dir, 8 + h.size() + offset, path);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  TRAINER_CHECK(fd >= 0, "cannot create ", tmp, ": ", std::strerror(errno));
  try {
    const uint64_t n = h.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    write_all(fd, len, 8, tmp);
    write_all(fd, h.data(), h.size(), tmp);
    for (const NamedTensor& nt : tensors) write_all(fd, nt.tensor.raw(), nt.tensor.nbytes(), tmp);
    TRAINER_CHECK(::fsync(fd) == 0, "fsync ", tmp, ": ", std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  TRAINER_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "renaming ", tmp, " to ", path, ": ",
                std::strerror(errno));
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // make the rename itself durable
    ::close(dfd);
  }
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TRAINER_CHECK(in, "cannot open checkpoint ", path);
  in.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  TRAINER_CHECK(file_size >= 8, path, ": not a safetensors file (", file_size, " bytes)");
  unsigned char len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<uint64_t>(len[i]) << (8 * i);
  TRAINER_CHECK(header_size <= file_size - 8, path, ": header length ", header_size, " exceeds the file size ",
                file_size, " (truncated or not a safetensors file)");
  std::string header(header_size, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_size));
  const uint64_t data_size = file_size - 8 - header_size;

  SafetensorsFile out;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto err = parser.parse(header).get(root);
  TRAINER_CHECK(!err, path, ": header is not valid JSON (", simdjson::error_message(err), ")");
  simdjson::dom::object obj;
  TRAINER_CHECK(!root.get(obj), path, ": header is not a JSON object");
  // Every tensor is checked, ranges against each other included, before any is allocated or read.
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  std::set<std::string> names;
  bool has_metadata = false;
  for (auto field : obj) {
    const std::string name(field.key);
    if (name == "__metadata__") {
      TRAINER_CHECK(!has_metadata, path, ": __metadata__ appears twice in the header");
      has_metadata = true;
      simdjson::dom::object meta;
      TRAINER_CHECK(!field.value.get(meta), path, ": __metadata__ is not an object");
      for (auto kv : meta) {
        std::string_view v;
        TRAINER_CHECK(!kv.value.get(v), path, ": metadata ", kv.key, " is not a string");
        TRAINER_CHECK(out.metadata.emplace(std::string(kv.key), std::string(v)).second, path, ": metadata ", kv.key,
                      " appears twice");
      }
      continue;
    }
    const std::string where = path + ": tensor " + name;
    TRAINER_CHECK(names.insert(name).second, where, " appears twice in the header");
    std::string_view dtype;
    simdjson::dom::array shape_a, offsets;
    TRAINER_CHECK(!field.value["dtype"].get(dtype) && !field.value["shape"].get(shape_a) &&
                      !field.value["data_offsets"].get(offsets),
                  where, ": needs dtype, shape and data_offsets");
    Shape shape;
    for (auto d : shape_a) {
      int64_t v;
      TRAINER_CHECK(!d.get(v) && v >= 0, where, ": bad shape");
      shape.push_back(v);
    }
    std::vector<uint64_t> off;
    for (auto d : offsets) {
      uint64_t v;
      TRAINER_CHECK(!d.get(v), where, ": bad data_offsets");
      off.push_back(v);
    }
    const DType t = parse_dtype(dtype, where);
    TRAINER_CHECK(off.size() == 2 && off[0] <= off[1] && off[1] <= data_size, where, ": data_offsets out of range (",
                  data_size, " data bytes)");
    // The shape's size in bytes, refusing a shape whose sizes or strides overflow before it is
    // compared (a huge shape must not wrap around to the range's length; with a zero dimension
    // the size is 0 but the strides would still overflow).
    uint64_t bytes = dtype_size(t);
    int64_t extent = 1;
    for (int64_t d : shape)
      TRAINER_CHECK(!__builtin_mul_overflow(extent, std::max<int64_t>(d, 1), &extent) &&
                        !__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes),
                    where, ": shape ", shape_str(shape), " of ", dtype, " is too large");
    TRAINER_CHECK(off[1] - off[0] == bytes, where, ": ", off[1] - off[0], " bytes for shape ", shape_str(shape),
                  " of ", dtype);
    entries.push_back({name, t, std::move(shape), off[0], off[1]});
  }
  // Tensors may not share bytes: a safetensors writer puts each tensor's data after the previous
  // one's, so overlapping ranges mean a damaged or forged header (and N tensors on one range
  // would cost N copies of it).
  std::vector<const Entry*> by_offset;
  for (const Entry& e : entries)
    if (e.begin != e.end) by_offset.push_back(&e);  // empty tensors take no bytes
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const Entry &a = *by_offset[i - 1], &b = *by_offset[i];
    TRAINER_CHECK(b.begin >= a.end, path, ": tensors ", a.name, " (data bytes ", a.begin, "..", a.end, ") and ", b.name,
                  " (data bytes ", b.begin, "..", b.end, ") overlap");
  }
  for (Entry& e : entries) {
    Tensor tensor = Tensor::empty(e.shape, e.dtype);
    in.seekg(static_cast<std::streamoff>(8 + header_size + e.begin));
    in.read(static_cast<char*>(tensor.raw()), static_cast<std::streamsize>(e.end - e.begin));
    TRAINER_CHECK(in, path, ": tensor ", e.name, ": file ends early (truncated checkpoint)");
    out.tensors.emplace(std::move(e.name), std::move(tensor));
  }
  if (auto it = out.metadata.find(kChecksumKey); it != out.metadata.end()) {  // absent in others' files
    in.clear();
    in.seekg(static_cast<std::streamoff>(8 + header_size));
    std::vector<char> chunk(std::min<uint64_t>(data_size, 8 << 20));
    uint32_t crc = 0;
    for (uint64_t left = data_size; left > 0;) {
      const uint64_t n = std::min<uint64_t>(left, chunk.size());
      in.read(chunk.data(), static_cast<std::streamsize>(n));
      TRAINER_CHECK(in, path, ": file ends early (truncated checkpoint)");
      crc = crc32c(chunk.data(), n, crc);
      left -= n;
    }
    TRAINER_CHECK(hex32(crc) == it->second, path, ": the data does not match its checksum (crc32c ", hex32(crc),
                  ", the header says ", it->second, "): the file is damaged");
    out.metadata.erase(it);
  }
  return out;
}

}  // namespace trainer::train
