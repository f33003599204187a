#include "trainer/core/log.h"

#include <mutex>

namespace trainer {
namespace {
int g_rank = 0, g_world = 1;
std::mutex g_mutex;
}  // namespace

void set_log_rank(int rank, int world_size) {
  g_rank = rank;
  g_world = world_size;
}

void log_line(bool warning, const std::string& message) {
  if (!warning && g_rank != 0) return;
  // One write per line: under mpirun the ranks share the terminal, and a line written in pieces
  // interleaves with another rank's.
  std::string line = g_world > 1 ? "[rank " + std::to_string(g_rank) + "] " : std::string();
  line += (warning ? "warning: " : "") + message + "\n";
  std::lock_guard lock(g_mutex);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace trainer
