// Checkpoints under faults, as a user meets them: the trainer killed with SIGKILL while it writes
// a checkpoint (50 times, at random moments inside the write), a file-size limit and a full disk.
// Each time the newest checkpoint must load intact (its checksum verified) and training must
// resume from it; a write that cannot complete must say why, keep the previous checkpoint and
// leave no partial file.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <random>
#include <regex>
#include <thread>

#include "run_trainer.h"
#include "trainer/core/error.h"
#include "trainer/train/safetensors.h"

namespace trainer::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A ResNet-18 of width 32 on Fashion-MNIST, a checkpoint every step: steps take milliseconds and
// each checkpoint (weights, momentum, moving average: 32 MiB) a good part of a step's time.
std::vector<std::string> run_args(const fs::path& model_dir, int64_t steps) {
  return {"--config", "configs/demo/fashion_mnist_resnet.pbtxt",
          "--override", "model { classifier { resnet { width: 32 } } }",
          "--override", "train_config { batch_size: 4 num_steps: " + std::to_string(steps) +
                        " optimizer { use_moving_average: true } }",
          "--override", "runtime { model_dir: \"" + model_dir.string() +
                        "\" checkpoint_every_n_steps: 1 keep_checkpoint_max: 3 num_threads: 1 }",
          "--override", "eval_input_reader { num_epochs: 0 }"};
}

// The trainer started in the background: its pid, output going to files.
pid_t spawn_trainer(const std::vector<std::string>& args, const fs::path& err) {
  const std::string cmd = "cd " + quote(std::getenv("TRAINER_SOURCE_DIR")) + " && exec " + trainer_command(args) +
                          " > /dev/null 2> " + quote(err.string());
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

std::vector<fs::path> files_matching(const fs::path& dir, const std::regex& pattern) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (std::regex_match(entry.path().filename().string(), pattern)) out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

const std::regex kCheckpoint(R"(ckpt-\d+\.safetensors)");
const std::regex kPartial(R"(ckpt-\d+\.safetensors\.tmp)");

std::optional<fs::path> newest(const fs::path& dir) {
  auto all = files_matching(dir, kCheckpoint);
  if (all.empty()) return std::nullopt;
  return all.back();
}

int64_t step_of(const fs::path& checkpoint) { return std::stoll(checkpoint.filename().string().substr(5, 9)); }

// Tells when files appear in the model directory (inotify): a checkpoint write starts with the
// creation of its temporary file and ends with its rename into the checkpoint's name.
class DirectoryWatch {
 public:
  explicit DirectoryWatch(const fs::path& dir) : fd_(inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) {
    fs::create_directories(dir);
    inotify_add_watch(fd_, dir.c_str(), IN_CREATE | IN_MOVED_TO);
  }
  ~DirectoryWatch() { close(fd_); }
  // Forgets what happened so far (what a killed process did before it died).
  void drain() {
    char buffer[4096];
    while (read(fd_, buffer, sizeof buffer) > 0) {
    }
  }
  // Waits for a file whose name matches `pattern` to be created or renamed into place; false if
  // the process ends first or after timeout_s.
  bool wait_for(const std::regex& pattern, pid_t pid, double timeout_s) {
    const auto until = Clock::now() + std::chrono::duration<double>(timeout_s);
    alignas(inotify_event) char buffer[4096];
    while (Clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) > 0) {
        const ssize_t n = read(fd_, buffer, sizeof buffer);
        for (ssize_t at = 0; at < n;) {
          const auto* e = reinterpret_cast<const inotify_event*>(buffer + at);
          if (e->len > 0 && std::regex_match(std::string(e->name), pattern)) return true;
          at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
        }
      } else if (waitpid(pid, nullptr, WNOHANG) == pid) {
        return false;
      }
    }
    return false;
  }

 private:
  int fd_;
};

TEST(Checkpoints, SurviveFiftySigkillsDuringTheirWriting) {
  const fs::path scratch = scratch_dir("kill-checkpoints"), model = scratch / "model", err = scratch / "stderr.txt";
  // A first checkpoint to resume from, and how long a write takes (from its temporary file
  // appearing to its rename; twice the median of five) so that the kills fall anywhere inside a
  // write and sometimes just after it.
  DirectoryWatch watch(model);
  pid_t pid = spawn_trainer(run_args(model, 1000000), err);
  std::vector<double> writes;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(watch.wait_for(kPartial, pid, 120)) << slurp(err);
    const auto started = Clock::now();
    ASSERT_TRUE(watch.wait_for(kCheckpoint, pid, 120)) << slurp(err);
    writes.push_back(std::chrono::duration<double>(Clock::now() - started).count());
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  std::sort(writes.begin(), writes.end());
  const double write_s = 2 * writes[2];

  std::mt19937 rng(20261207);
  std::uniform_real_distribution<double> moment(0.0, write_s);
  int mid_write = 0;
  int64_t last_step = 0;
  for (int kill_no = 0; kill_no < 50; ++kill_no) {
    const std::optional<fs::path> before = newest(model);
    ASSERT_TRUE(before);
    watch.drain();
    pid = spawn_trainer(run_args(model, 1000000), err);
    ASSERT_TRUE(watch.wait_for(kPartial, pid, 120)) << "kill " << kill_no << ": " << slurp(err);
    std::this_thread::sleep_for(std::chrono::duration<double>(moment(rng)));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "kill " << kill_no << ": the trainer ended by itself: " << slurp(err);
    // The run resumed from the newest checkpoint before it was started.
    EXPECT_NE(slurp(err).find("resumed from " + before->string()), std::string::npos)
        << "kill " << kill_no << ": " << slurp(err);
    if (!files_matching(model, kPartial).empty()) ++mid_write;  // killed before its rename
    // The newest checkpoint is complete: it reads with its checksum verified, and it is no older
    // than the one the run started from.
    const std::optional<fs::path> after = newest(model);
    ASSERT_TRUE(after);
    EXPECT_NO_THROW(train::read_safetensors(after->string())) << "kill " << kill_no << ": " << after->string();
    EXPECT_GE(step_of(*after), last_step);
    last_step = step_of(*after);
  }
  // Many kills landed inside a write (its temporary file was still there), not after it.
  EXPECT_GE(mid_write, 10) << "a write takes " << writes[2] << " s";
  std::printf("%d of 50 kills landed before the checkpoint's rename; a write takes %.3f s; step %lld reached\n",
              mid_write, writes[2], static_cast<long long>(last_step));

  // And training goes on to the end from there, the partial file of the last kill cleaned away.
  const fs::path last = *newest(model);
  RunResult done = run_trainer(run_args(model, last_step + 2), scratch);
  ASSERT_EQ(done.status, 0) << done.err;
  EXPECT_NE(done.err.find("resumed from " + last.string()), std::string::npos) << done.err;
  EXPECT_TRUE(files_matching(model, kPartial).empty());
  EXPECT_EQ(step_of(*newest(model)), last_step + 2);
  fs::remove_all(scratch);
}

// The error a checkpoint write that cannot complete must give (`model`: the directory as the
// trainer saw it), and what it must leave (`kept`: the same directory, as the test sees it).
void expect_clear_failure(const RunResult& r, const fs::path& model, const fs::path& kept, const std::string& reason) {
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("checkpoint of step 3 not written: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(reason), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the newest checkpoint, " + (model / "ckpt-000000002.safetensors").string() + ", is kept"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(files_matching(kept, kCheckpoint),
            (std::vector<fs::path>{kept / "ckpt-000000001.safetensors", kept / "ckpt-000000002.safetensors"}));
  EXPECT_TRUE(files_matching(kept, kPartial).empty());
  EXPECT_NO_THROW(train::read_safetensors((kept / "ckpt-000000002.safetensors").string()));
}

TEST(Checkpoints, AFileSizeLimitFailsTheWriteClearlyAndKeepsThePreviousOne) {
  const fs::path scratch = scratch_dir("fsize-checkpoints"), model = scratch / "model";
  ASSERT_EQ(run_trainer(run_args(model, 2), scratch).status, 0) << slurp(scratch / "stderr.txt");
  // Under `ulimit -f` of 8 MiB (in 1 KiB blocks) the next checkpoint's write fails part-way (EFBIG).
  RunResult r = run_command("ulimit -f 8192 && " + trainer_command(run_args(model, 4)), scratch);
  expect_clear_failure(r, model, model, "File too large");
  fs::remove_all(scratch);
}

TEST(Checkpoints, AFullDiskFailsTheWriteClearlyAndKeepsThePreviousOne) {
  // An 80 MiB tmpfs of its own, in a private mount namespace (root, as CI runs): the first two
  // checkpoints (32 MiB each) fit, the third does not. The disk's content is copied out before
  // the namespace, and the tmpfs with it, goes away.
  if (geteuid() != 0 || std::system("command -v unshare > /dev/null") != 0) GTEST_SKIP() << "needs root and unshare";
  const fs::path scratch = scratch_dir("full-disk"), disk = scratch / "disk", model = disk / "model";
  fs::create_directories(disk);
  const std::string script =
      "mount -t tmpfs -o size=80m tmpfs " + quote(disk.string()) + " || exit 77\n" +
      trainer_command(run_args(model, 2)) + " 2> " + quote((scratch / "first.txt").string()) + " || exit 78\n" +
      trainer_command(run_args(model, 4)) + "\nstatus=$?\ncp -a " + quote(model.string()) + " " +
      quote((scratch / "kept").string()) + "\nexit $status\n";
  RunResult r = run_command("unshare -m sh -c " + quote(script), scratch);
  if (r.status == 77) GTEST_SKIP() << "cannot mount a tmpfs here: " << r.err;
  ASSERT_NE(r.status, 78) << slurp(scratch / "first.txt");
  expect_clear_failure(r, model, scratch / "kept", "MiB free");
  EXPECT_NE(r.err.find("no space for " + (model / "ckpt-000000003.safetensors").string() + ": it needs "),
            std::string::npos)
      << r.err;
  fs::remove_all(scratch);
}

}  // namespace
}  // namespace trainer::testing
