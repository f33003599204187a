#include "trainer/train/loss_history.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>

#include "trainer/core/error.h"
#include "trainer/core/log.h"

namespace trainer::train {
namespace {

namespace fs = std::filesystem;
constexpr std::string_view kColumns = "step,loss,lr";

// The header line without its newline: `step,loss,lr` and the term names.
std::string columns(const std::vector<std::string>& term_names) {
  std::string h(kColumns);
  for (const std::string& name : term_names) h += "," + name;
  return h;
}

std::string format_row(const LossHistory::Row& row) {
  // Shortest round-trip form: the plot (and anyone reading the file) sees the logged numbers.
  char buf[32];
  std::string out(buf, std::to_chars(buf, buf + sizeof buf, row.step).ptr);
  for (double v : {row.loss, row.lr}) out += ",", out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
  for (double v : row.terms) out += ",", out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
  return out + "\n";
}

}  // namespace

LossHistory::Table LossHistory::read(const std::string& path) {
  Table table;
  std::ifstream in(path);
  if (!in) return table;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (number == 1) {
      TRAINER_CHECK(line.starts_with(kColumns) && (line.size() == kColumns.size() || line[kColumns.size()] == ','),
                    path, ":1: expected a header starting '", kColumns, "', found '", line, "'");
      for (size_t at = kColumns.size(); at < line.size();) {
        const size_t next = std::min(line.find(',', at + 1), line.size());
        table.term_names.push_back(line.substr(at + 1, next - at - 1));
        at = next;
      }
      continue;
    }
    if (line.empty()) continue;
    Row row;
    const char* p = line.data();
    const char* end = line.data() + line.size();
    bool ok = true;
    auto field = [&](auto& value) {
      if (!ok) return;
      const auto [next, error] = std::from_chars(p, end, value);
      ok = error == std::errc() && (next == end || *next == ',');
      p = next == end ? end : next + 1;
    };
    field(row.step);
    field(row.loss);
    field(row.lr);
    row.terms.resize(table.term_names.size());
    for (double& term : row.terms) field(term);
    ok = ok && p == end && line.back() != ',';
    TRAINER_CHECK(ok, path, ":", number, ": expected '", columns(table.term_names), "' (",
                  3 + table.term_names.size(), " numbers), found '", line, "'");
    table.rows.push_back(std::move(row));
  }
  return table;
}

LossHistory::LossHistory(std::string path, int64_t step, std::vector<std::string> term_names)
    : path_(std::move(path)), term_names_(std::move(term_names)) {
  std::vector<Row> kept;
  try {
    Table old = read(path_);
    if (!old.rows.empty() && old.term_names != term_names_)
      fail(path_, " has the columns '", columns(old.term_names), "' but this run logs '", columns(term_names_), "'");
    for (Row& row : old.rows)
      if (row.step <= step) kept.push_back(std::move(row));
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
    out << columns(term_names_) << '\n';
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
  TRAINER_CHECK(row.terms.size() == term_names_.size(), path_, ": a row with ", row.terms.size(),
                " loss terms for the header's ", term_names_.size());
  const std::string text = format_row(row);
  // A full disk costs the curve a row, not the run; the checkpoint writer reports the disk.
  if ((std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0) &&
      !append_failed_) {
    append_failed_ = true;
    log_warn("cannot append to ", path_, " (disk full?); the loss curve misses step ", row.step, " and maybe later ones");
  }
}

}  // namespace trainer::train
