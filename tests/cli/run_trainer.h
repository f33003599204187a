// Runs the trainer executable like a user would, capturing exit status, stdout and stderr.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace trainer::testing {

struct RunResult {
  int status = -1;
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fresh scratch directory per call.
inline std::filesystem::path scratch_dir(const std::string& tag) {
  std::string templ = (std::filesystem::temp_directory_path() / ("trainer-" + tag + "-XXXXXX")).string();
  const char* made = mkdtemp(templ.data());
  if (!made) std::abort();
  return made;
}

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs `command` (a shell command line) in the source directory, output captured.
inline RunResult run_command(std::string command, const std::filesystem::path& scratch) {
  std::string cmd = "cd " + quote(std::getenv("TRAINER_SOURCE_DIR") ? std::getenv("TRAINER_SOURCE_DIR") : ".") +
                    " && " + command;
  const auto out = scratch / "stdout.txt", err = scratch / "stderr.txt";
  cmd = "{ " + cmd + "; }";
  cmd += " > " + quote(out.string()) + " 2> " + quote(err.string());
  const int raw = std::system(cmd.c_str());
  RunResult r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// The trainer's command line: the executable and its shell-quoted args.
inline std::string trainer_command(const std::vector<std::string>& args) {
  std::string cmd = quote(TRAINER_EXECUTABLE);
  for (const std::string& a : args) cmd += " " + quote(a);
  return cmd;
}

// args are shell-quoted; runs in the source directory (configs/ paths resolve there).
inline RunResult run_trainer(const std::vector<std::string>& args, const std::filesystem::path& scratch) {
  return run_command(trainer_command(args), scratch);
}

// mpirun as the tests launch it: two ranks on however many cores, root allowed (CI runs as root).
inline std::string mpirun(int ranks) {
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 mpirun -np " +
         std::to_string(ranks) + " ";
}

}  // namespace trainer::testing
