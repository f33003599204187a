#include "trainer/train/loss_history.h"

#include <charconv>
#include <filesystem>
#include <fstream>

#include "trainer/core/error.h"
#include "trainer/core/log.h"

namespace trainer::train {
namespace {

namespace fs = std::filesystem;
constexpr const char* kHeader = "step,loss,lr";

std::string format_row(const LossHistory::Row& row) {
  // Shortest round-trip form: the plot (and anyone reading the file) sees the logged numbers.
  char buf[96];
  char* p = std::to_chars(buf, buf + 24, row.step).ptr;
  *p++ = ',';
  p = std::to_chars(p, p + 32, row.loss).ptr;
  *p++ = ',';
  p = std::to_chars(p, p + 32, row.lr).ptr;
  *p++ = '\n';
  return std::string(buf, p);
}

}  // namespace

std::vector<LossHistory::Row> LossHistory::read(const std::string& path) {
  std::vector<Row> rows;
  std::ifstream in(path);
  if (!in) return rows;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (number == 1) {
      TRAINER_CHECK(line == kHeader, path, ":1: expected the header '", kHeader, "', found '", line, "'");
      continue;
    }
    if (line.empty()) continue;
    Row row;
    const char* p = line.data();
    const char* end = line.data() + line.size();
    bool ok = true;
    auto field = [&](auto& value, bool last) {
      const auto [next, error] = std::from_chars(p, end, value);
      ok = ok && error == std::errc() && (last ? next == end : next != end && *next == ',');
      p = ok && !last ? next + 1 : next;
    };
    field(row.step, false);
    if (ok) field(row.loss, false);
    if (ok) field(row.lr, true);
    TRAINER_CHECK(ok, path, ":", number, ": expected 'step,loss,lr' (three numbers), found '", line, "'");
    rows.push_back(row);
  }
  return rows;
}

LossHistory::LossHistory(std::string path, int64_t step) : path_(std::move(path)) {
  std::vector<Row> kept;
  try {
    for (const Row& row : read(path_))
      if (row.step <= step) kept.push_back(row);
  } catch (const Error& e) {
    log_warn("the loss history cannot be continued: ", e.what(), "; starting a new one");
    kept.clear();
  }
  // Rewritten whole, then renamed over the old one: a crash here loses nothing.
  const fs::path file(path_);
  if (file.has_parent_path()) fs::create_directories(file.parent_path());
  const std::string temporary = path_ + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << kHeader << '\n';
    for (const Row& row : kept) out << format_row(row);
    TRAINER_CHECK(out.flush(), "cannot write ", temporary);
  }
  std::error_code error;
  fs::rename(temporary, path_, error);
  TRAINER_CHECK(!error, "cannot rename ", temporary, " to ", path_, ": ", error.message());
  file_ = std::fopen(path_.c_str(), "a");
  TRAINER_CHECK(file_, "cannot open ", path_, " to append the loss history");
}

LossHistory::~LossHistory() {
  if (file_) std::fclose(file_);
}

void LossHistory::append(const Row& row) {
  const std::string text = format_row(row);
  // A full disk costs the curve a row, not the run; the checkpoint writer reports the disk.
  if ((std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0) &&
      !append_failed_) {
    append_failed_ = true;
    log_warn("cannot append to ", path_, " (disk full?); the loss curve misses step ", row.step, " and maybe later ones");
  }
}

}  // namespace trainer::train
