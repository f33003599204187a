#include "trainer/core/system_memory.h"

#include <unistd.h>

#include <fstream>
#include <limits>
#include <sstream>

namespace trainer {
namespace {

// A number from a one-line file ("max" and unreadable files: none).
bool read_number(const std::string& path, uint64_t* value) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return false;
  try {
    *value = std::stoull(text);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// "Key:   12345 kB" of /proc/meminfo or /proc/self/status, in bytes.
bool read_kb_field(const std::string& path, const std::string& key, uint64_t* bytes) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size() + 1, key + ":") != 0) continue;
    std::istringstream fields(line.substr(key.size() + 1));
    uint64_t kb = 0;
    if (!(fields >> kb)) return false;
    *bytes = kb * 1024;
    return true;
  }
  return false;
}

// This process's cgroup (v2: "0::/path"; v1: the memory controller's line).
std::string cgroup_path(bool v2) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    if (v2 ? line.compare(0, first, "0") == 0 && controllers.empty()
           : controllers.find("memory") != std::string::npos)
      return line.substr(second + 1);
  }
  return "";
}

}  // namespace

MemoryLimit available_memory() {
  MemoryLimit limit{std::numeric_limits<uint64_t>::max(), "no limit found"};
  uint64_t bytes = 0;
  if (read_kb_field("/proc/meminfo", "MemAvailable", &bytes)) limit = {bytes, "MemAvailable"};
  auto consider = [&](const std::string& max_file, const std::string& current_file, const char* what) {
    uint64_t max = 0, current = 0;
    if (!read_number(max_file, &max) || !read_number(current_file, &current)) return;
    const uint64_t room = max > current ? max - current : 0;
    if (room < limit.bytes) limit = {room, what};
  };
  const std::string v2 = "/sys/fs/cgroup" + cgroup_path(true);
  consider(v2 + "/memory.max", v2 + "/memory.current", "cgroup memory.max");
  const std::string v1 = "/sys/fs/cgroup/memory" + cgroup_path(false);
  consider(v1 + "/memory.limit_in_bytes", v1 + "/memory.usage_in_bytes", "cgroup memory.limit_in_bytes");
  return limit;
}

uint64_t resident_peak() {
  uint64_t bytes = 0;
  read_kb_field("/proc/self/status", "VmHWM", &bytes);
  return bytes;
}

bool reset_resident_peak() {
  std::ofstream clear("/proc/self/clear_refs");
  return static_cast<bool>(clear << "5" << std::flush);
}

uint64_t resident_memory() {
  uint64_t bytes = 0;
  read_kb_field("/proc/self/status", "VmRSS", &bytes);
  return bytes;
}

}  // namespace trainer
