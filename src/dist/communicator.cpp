#include "trainer/dist/communicator.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "trainer/core/error.h"

#if TRAINER_HAS_MPI
#include <mpi.h>
#endif

namespace trainer::dist {
namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

// The world size the launcher announced (1 when started alone).
int launched_world_size() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"}) {
    const int n = env_int(var, 0);
    if (n > 0) return n;
  }
  return 1;
}

int launched_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"})
    if (std::getenv(var)) return env_int(var, 0);
  return 0;
}

int launched_local_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"})
    if (std::getenv(var)) return env_int(var, 0);
  return 0;
}

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  int local_rank() const override { return 0; }
  std::string describe() const override { return "single process"; }
  void allreduce_mean(Tensor&) override {}
  void broadcast(Tensor&, int) override {}
  double allreduce_sum(double value) override { return value; }
  std::vector<std::string> allgather(const std::string& value) override { return {value}; }
  void set_timeout(double) override {}
  void set_step(int64_t) override {}
};

#if TRAINER_HAS_MPI
void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  fail("MPI ", what, " failed: ", std::string(text, static_cast<size_t>(length)));
}

using Clock = std::chrono::steady_clock;

// Watches the collectives of this rank from a thread of its own: one that has waited past the
// timeout means another rank died or hangs. MPI offers no portable way to cancel a blocked
// collective, so the process ends itself (std::_Exit, which mpirun turns into the end of the
// job) after saying what it waited for.
class Watchdog {
 public:
  explicit Watchdog(int rank) : rank_(rank), thread_([this] { watch(); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void set_timeout(double seconds) { timeout_ms_ = static_cast<int64_t>(seconds * 1000); }
  void set_step(int64_t step) { step_ = step; }
  // While one lives, the collective `what` is in flight.
  class Busy {
   public:
    Busy(Watchdog& w, const char* what) : w_(w) {
      w_.what_ = what;
      w_.since_ms_ = now_ms();
    }
    ~Busy() { w_.since_ms_ = 0; }

   private:
    Watchdog& w_;
  };

 private:
  static int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count() + 1;
  }
  void watch() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stopping_; })) {
      const int64_t since = since_ms_, timeout = timeout_ms_;
      if (since == 0 || timeout <= 0 || now_ms() - since < timeout) continue;
      std::fprintf(stderr,
                   "[rank %d] error: %s at step %lld waited %.0f s for the other ranks: one of them died or hangs "
                   "(runtime.collective_timeout_seconds); stopping the job\n",
                   rank_, what_.load(), static_cast<long long>(step_.load()), (now_ms() - since) / 1000.0);
      std::fflush(stderr);
      std::_Exit(1);
    }
  }

  const int rank_;
  std::atomic<int64_t> since_ms_{0}, timeout_ms_{0}, step_{0};
  std::atomic<const char*> what_{""};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// A host view of `t` to run a collective on, and the way back for device tensors.
struct HostBuffer {
  Tensor& target;
  Tensor host;
  explicit HostBuffer(Tensor& t) : target(t), host(t.device().is_cpu() ? t : t.to(Device::cpu())) {
    TRAINER_CHECK(t.is_contiguous(), "collective on a non-contiguous tensor ", t.describe());
  }
  void done() {
    if (!target.device().is_cpu()) target.copy_from(host);
  }
};

class Mpi final : public Communicator {
 public:
  Mpi() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &thread_level_), "initialisation");
      std::atexit([] {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized) MPI_Finalize();
      });
    } else {
      MPI_Query_thread(&thread_level_);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    local_rank_ = launched_local_rank();
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    library_ = std::string(version, static_cast<size_t>(length));
    library_ = library_.substr(0, library_.find_first_of(",\n"));
    watchdog_ = std::make_unique<Watchdog>(rank_);
    // One thread at a time calls MPI (SERIALIZED): the reduction thread while reductions are in
    // flight, this one otherwise. An MPI without that level reduces on this thread, in order.
    if (thread_level_ >= MPI_THREAD_SERIALIZED) reducer_ = std::thread([this] { reduce_queued(); });
  }
  ~Mpi() override {
    if (!reducer_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(queue_mutex_);
      stopping_ = true;
    }
    queued_.notify_all();
    reducer_.join();
  }
  void set_timeout(double seconds) override { watchdog_->set_timeout(seconds); }
  void set_step(int64_t step) override { watchdog_->set_step(step); }
  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  std::string describe() const override {
    return str("MPI (", library_, "), rank ", rank_, " of ", size_, ", local rank ", local_rank_);
  }
  void start_allreduce_mean(Tensor& t) override {
    // A device tensor goes through a host copy, which stays on the calling thread.
    if (!reducer_.joinable() || !t.device().is_cpu()) return allreduce_mean(t);
    {
      std::lock_guard<std::mutex> lock(queue_mutex_);
      queue_.push_back(t);
      ++in_flight_;
    }
    queued_.notify_one();
  }
  void wait_reductions() override {
    std::unique_lock<std::mutex> lock(queue_mutex_);
    drained_.wait(lock, [this] { return in_flight_ == 0; });
    if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
  }
  void allreduce_mean(Tensor& t) override {
    TRAINER_CHECK(t.dtype() == DType::F32, "allreduce_mean: ", t.describe(), " is not f32");
    HostBuffer b(t);
    const Watchdog::Busy busy(*watchdog_, "allreduce of the gradients");
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, b.host.raw(), static_cast<int>(t.numel()), MPI_FLOAT, MPI_SUM,
                            MPI_COMM_WORLD),
              "allreduce");
    float* p = b.host.data<float>();
    const float inv = 1.f / static_cast<float>(size_);
    for (int64_t i = 0; i < t.numel(); ++i) p[i] *= inv;
    b.done();
  }
  void broadcast(Tensor& t, int root) override {
    HostBuffer b(t);
    const Watchdog::Busy busy(*watchdog_, "broadcast");
    check_mpi(MPI_Bcast(b.host.raw(), static_cast<int>(t.numel() * static_cast<int64_t>(dtype_size(t.dtype()))),
                        MPI_BYTE, root, MPI_COMM_WORLD),
              "broadcast");
    b.done();
  }
  double allreduce_sum(double value) override {
    double total = 0;
    const Watchdog::Busy busy(*watchdog_, "allreduce of the loss");
    check_mpi(MPI_Allreduce(&value, &total, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "allreduce");
    return total;
  }
  std::vector<std::string> allgather(const std::string& value) override {
    const Watchdog::Busy busy(*watchdog_, "allgather");
    const int length = static_cast<int>(value.size());
    std::vector<int> lengths(static_cast<size_t>(size_)), offsets(static_cast<size_t>(size_));
    check_mpi(MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD), "allgather");
    int total = 0;
    for (int r = 0; r < size_; ++r) offsets[static_cast<size_t>(r)] = total, total += lengths[static_cast<size_t>(r)];
    std::string all(static_cast<size_t>(total), '\0');
    check_mpi(MPI_Allgatherv(value.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR,
                             MPI_COMM_WORLD),
              "allgather");
    std::vector<std::string> out;
    for (int r = 0; r < size_; ++r)
      out.push_back(all.substr(static_cast<size_t>(offsets[static_cast<size_t>(r)]),
                               static_cast<size_t>(lengths[static_cast<size_t>(r)])));
    return out;
  }

 private:
  // The reduction thread: takes the queued tensors in order and reduces each in place.
  void reduce_queued() {
    std::unique_lock<std::mutex> lock(queue_mutex_);
    for (;;) {
      queued_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      Tensor t = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      try {
        if (!failure_) allreduce_mean(t);
      } catch (...) {
        failure_ = std::current_exception();
      }
      lock.lock();
      if (--in_flight_ == 0) drained_.notify_all();
    }
  }

  int rank_ = 0, size_ = 1, local_rank_ = 0;
  int thread_level_ = MPI_THREAD_SINGLE;
  std::string library_;
  std::unique_ptr<Watchdog> watchdog_;
  std::mutex queue_mutex_;
  std::condition_variable queued_, drained_;
  std::deque<Tensor> queue_;
  int in_flight_ = 0;
  bool stopping_ = false;
  std::exception_ptr failure_;  // written by the reduction thread before in_flight_ drops
  std::thread reducer_;  // last: started after everything it reads
};
#endif

}  // namespace

int launcher_rank() { return launched_world_size() > 1 ? launched_rank() : 0; }

std::shared_ptr<Communicator> single_process() { return std::make_shared<SingleProcess>(); }

std::shared_ptr<Communicator> make_communicator() {
  const int size = launched_world_size();
  if (size <= 1) return single_process();
#if TRAINER_HAS_MPI
  return std::make_shared<Mpi>();
#else
  fail("the launcher started ", size, " processes, but this build has no MPI (install libopenmpi-dev and rebuild)");
#endif
}

}  // namespace trainer::dist
