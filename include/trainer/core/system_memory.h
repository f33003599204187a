// How much memory this process may still take, and how much it holds: what start-up checks a
// run's estimate against, so that a batch that cannot fit fails with numbers instead of meeting
// the OOM killer mid-run.
#pragma once

#include <cstdint>
#include <string>

namespace trainer {

struct MemoryLimit {
  uint64_t bytes = 0;
  std::string source;  // what set it: "MemAvailable", "cgroup memory.max", ...
};

// The smallest of: the kernel's MemAvailable, and the room left under this process's cgroup
// limit (v2 memory.max, v1 memory.limit_in_bytes), when there is one.
MemoryLimit available_memory();

// This process's resident set (VmRSS).
uint64_t resident_memory();
// Its high-water mark (VmHWM), and a reset of it to the current resident set (false where the
// kernel does not allow it).
uint64_t resident_peak();
bool reset_resident_peak();

}  // namespace trainer
