#include "trainer/data/tfrecord.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "trainer/core/crc32c.h"
#include "trainer/core/log.h"
#include "trainer/data/dataset.h"

namespace trainer::data {
namespace {

constexpr uint64_t kHeaderBytes = 12, kFooterBytes = 4;

uint64_t load_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint32_t load_u32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24; }
void store_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void store_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// An fd closed on scope exit: records are read with pread on a short-lived descriptor, so a
// dataset of thousands of shards never holds thousands of descriptors open.
struct Fd {
  int fd;
  explicit Fd(const std::string& path) : fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads exactly n bytes at offset; false on a short read or an error (errno set for the latter).
bool read_at(int fd, void* dst, size_t n, uint64_t offset) {
  auto* out = static_cast<uint8_t*>(dst);
  while (n > 0) {
    const ssize_t got = ::pread(fd, out, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    out += got;
    n -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return true;
}

}  // namespace

uint64_t TFRecordReader::file_size() const {
  struct stat info{};
  if (::stat(path_.c_str(), &info) != 0) fail("cannot open TFRecord file ", path_, ": ", std::strerror(errno));
  return static_cast<uint64_t>(info.st_size);
}

// Whether a whole, intact record starts at `offset`: its length's CRC and its data's CRC match.
// The data CRC makes a chance match of a header inside other bytes all but impossible (2^-64).
bool record_starts_at(int fd, uint64_t offset, uint64_t size, uint64_t* length) {
  uint8_t header[kHeaderBytes];
  if (size - offset < kHeaderBytes + kFooterBytes || !read_at(fd, header, kHeaderBytes, offset)) return false;
  if (load_u32(header + 8) != mask_crc32c(crc32c(header, 8))) return false;
  *length = load_u64(header);
  if (*length > size - offset - kHeaderBytes - kFooterBytes) return false;
  std::vector<uint8_t> data(*length + kFooterBytes);
  if (!read_at(fd, data.data(), data.size(), offset + kHeaderBytes)) return false;
  return load_u32(data.data() + *length) == mask_crc32c(crc32c(data.data(), *length));
}

// The offset of the first intact record at or after `from` (`size` if none): headers are tested
// in memory a chunk at a time, a header whose CRC matches then in full.
uint64_t next_record(int fd, uint64_t from, uint64_t size) {
  constexpr uint64_t kChunk = 1 << 20;
  std::vector<uint8_t> chunk(kChunk + kHeaderBytes);
  for (uint64_t start = from; start + kHeaderBytes <= size; start += kChunk) {
    const uint64_t n = std::min<uint64_t>(chunk.size(), size - start);
    if (!read_at(fd, chunk.data(), n, start)) return size;
    for (uint64_t i = 0; i + kHeaderBytes <= n && i < kChunk; ++i) {
      uint64_t length = 0;
      if (load_u32(chunk.data() + i + 8) == mask_crc32c(crc32c(chunk.data() + i, 8)) &&
          record_starts_at(fd, start + i, size, &length))
        return start + i;
    }
  }
  return size;
}

TFRecordReader::TFRecordReader(std::string path) : path_(std::move(path)) {
  const uint64_t size = file_size();
  Fd file(path_);
  if (file.fd < 0) fail("cannot open TFRecord file ", path_, ": ", std::strerror(errno));
  uint64_t offset = 0;
  uint8_t header[kHeaderBytes];
  while (offset < size) {
    std::string damage;
    if (size - offset < kHeaderBytes) {
      damage = str("truncated record header (", size - offset, " bytes left, need 12)");
    } else {
      if (!read_at(file.fd, header, kHeaderBytes, offset))
        fail(path_, ": read error at offset ", offset, ": ", std::strerror(errno));
      const uint64_t length = load_u64(header);
      if (load_u32(header + 8) != mask_crc32c(crc32c(header, 8)))
        damage = "record length CRC mismatch";
      else if (length > size - offset - kHeaderBytes || size - offset - kHeaderBytes - length < kFooterBytes)
        damage = str("a record claims ", length, " bytes but the file ends after ", size - offset - kHeaderBytes,
                     " (truncated)");
      if (damage.empty()) {
        offsets_.push_back(offset);
        lengths_.push_back(length);
        offset += kHeaderBytes + length + kFooterBytes;
        continue;
      }
    }
    // Damaged framing (a bad copy, a disk error, a truncated file): the records after it are
    // still good, found again by scanning for the next intact record. TF stops the whole
    // dataset here; the loss is the damaged bytes, each such stretch named once.
    const uint64_t next = next_record(file.fd, offset + 1, size);
    log_warn("data: ", path_, ": ", damage, " at offset ", offset, "; ", next - offset, " bytes skipped",
             next < size ? str(", records continue at offset ", next) : std::string(" (to the end of the file)"));
    damaged_bytes_ += next - offset;
    offset = next;
  }
  TRAINER_CHECK(!offsets_.empty() || size == 0, path_, ": not a TFRecord file (no intact record in its ", size,
                " bytes)");
}

TFRecordReader::TFRecordReader(std::string path, const std::string& index_path) : path_(std::move(path)) {
  const uint64_t size = file_size();
  std::FILE* index = std::fopen(index_path.c_str(), "r");
  if (!index) fail("cannot open TFRecord index ", index_path, " (for ", path_, "): ", std::strerror(errno));
  unsigned long long offset = 0, length = 0;
  uint64_t expected = 0;
  int line = 0, fields;
  while ((fields = std::fscanf(index, "%llu %llu", &offset, &length)) == 2) {
    ++line;
    if (offset != expected || length < kHeaderBytes + kFooterBytes || length > size - offset) {
      std::fclose(index);
      fail(index_path, ":", line, ": record at offset ", offset, " of length ", length, " does not continue ", path_,
           " (expected offset ", expected, ", file size ", size, "); rebuild the index");
    }
    offsets_.push_back(offset);
    lengths_.push_back(length - kHeaderBytes - kFooterBytes);
    expected = offset + length;
  }
  std::fclose(index);
  if (fields != EOF) fail(index_path, ":", line + 1, ": expected two numbers \"offset length\"");
  if (expected != size)
    fail(index_path, ": indexes ", expected, " bytes of ", path_, " but the file has ", size, "; rebuild the index");
}

void write_tfrecord_index(const TFRecordReader& reader, const std::string& index_path) {
  std::FILE* index = std::fopen(index_path.c_str(), "w");
  if (!index) fail("cannot create TFRecord index ", index_path, ": ", std::strerror(errno));
  bool ok = true;
  for (int64_t i = 0; i < reader.size() && ok; ++i)
    ok = std::fprintf(index, "%llu %llu\n", static_cast<unsigned long long>(reader.offset(i)),
                      static_cast<unsigned long long>(reader.data_size(i) + kHeaderBytes + kFooterBytes)) > 0;
  ok = std::fclose(index) == 0 && ok;
  if (!ok) fail("cannot write TFRecord index ", index_path, ": ", std::strerror(errno));
}

std::vector<uint8_t> TFRecordReader::read(int64_t record) const {
  const uint64_t offset = offsets_.at(record), length = lengths_.at(record);
  // The header is read again so a record located through an index file is checked too.
  std::vector<uint8_t> data(kHeaderBytes + length + kFooterBytes);
  errno = 0;
  Fd file(path_);
  if (file.fd < 0 || !read_at(file.fd, data.data(), data.size(), offset))
    fail_sample(path_, ": cannot read record ", record, " at offset ", offset, ": ",
                errno ? std::strerror(errno) : "file shrank since it was indexed");
  const uint32_t stored_length_crc = load_u32(data.data() + 8);
  if (load_u64(data.data()) != length || stored_length_crc != mask_crc32c(crc32c(data.data(), 8)))
    fail_sample(path_, ": record ", record, " at offset ", offset, ": length field damaged or not where the index says");
  const uint8_t* payload = data.data() + kHeaderBytes;
  const uint32_t stored = load_u32(payload + length), computed = mask_crc32c(crc32c(payload, length));
  if (stored != computed)
    fail_sample(path_, ": record ", record, " at offset ", offset, ": data CRC mismatch (stored 0x", std::hex, stored,
                ", computed 0x", computed, std::dec, ")");
  data.erase(data.begin(), data.begin() + kHeaderBytes);
  data.resize(length);
  return data;
}

TFRecordWriter::TFRecordWriter(std::string path) : path_(std::move(path)) {
  file_ = std::fopen(path_.c_str(), "wb");
  if (!file_) fail("cannot create TFRecord file ", path_, ": ", std::strerror(errno));
}

TFRecordWriter::~TFRecordWriter() {
  if (file_) std::fclose(file_);
}

void TFRecordWriter::write(std::span<const uint8_t> data) {
  TRAINER_CHECK(file_, "TFRecord writer for ", path_, " is already closed");
  uint8_t header[kHeaderBytes], footer[kFooterBytes];
  store_u64(header, data.size());
  store_u32(header + 8, mask_crc32c(crc32c(header, 8)));
  store_u32(footer, mask_crc32c(crc32c(data.data(), data.size())));
  if (std::fwrite(header, 1, kHeaderBytes, file_) != kHeaderBytes ||
      (!data.empty() && std::fwrite(data.data(), 1, data.size(), file_) != data.size()) ||
      std::fwrite(footer, 1, kFooterBytes, file_) != kFooterBytes)
    fail("cannot write to TFRecord file ", path_, ": ", std::strerror(errno));
}

void TFRecordWriter::flush() {
  TRAINER_CHECK(file_, "TFRecord writer for ", path_, " is already closed");
  if (std::fflush(file_) != 0) fail("cannot write to TFRecord file ", path_, ": ", std::strerror(errno));
}

void TFRecordWriter::close() {
  if (!file_) return;
  const bool ok = std::fflush(file_) == 0;
  const int flush_errno = errno;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!ok || !closed) fail("cannot finish TFRecord file ", path_, ": ", std::strerror(ok ? errno : flush_errno));
}

}  // namespace trainer::data
