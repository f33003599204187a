#include "trainer/dist/nccl_communicator.h"

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "trainer/kernels/cuda/check.h"

namespace trainer::dist {
namespace {

void check_nccl(ncclResult_t result, const char* call) {
  if (result != ncclSuccess) fail("NCCL ", call, " failed: ", ncclGetErrorString(result));
}

class Nccl final : public Communicator {
 public:
  explicit Nccl(std::shared_ptr<Communicator> host) : host_(std::move(host)) {
    ncclUniqueId id;
    std::memset(&id, 0, sizeof id);
    if (host_->is_root()) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    Tensor bytes = Tensor::empty({static_cast<int64_t>(sizeof id)}, DType::U8);
    std::memcpy(bytes.raw(), &id, sizeof id);
    host_->broadcast(bytes, 0);
    std::memcpy(&id, bytes.raw(), sizeof id);
    check_nccl(ncclCommInitRank(&comm_, host_->world_size(), id, host_->rank()), "ncclCommInitRank");
    int version = 0;
    ncclGetVersion(&version);
    version_ = str(version / 10000, ".", version / 100 % 100, ".", version % 100);
#if TRAINER_NCCL_OVER_MPI
    version_ += " (its stand-in over MPI: the CUDA kernels are emulated)";
#endif
    // Its own stream, so reductions run beside the backward kernels; non-blocking, so the legacy
    // default stream the ops use does not serialise with it.
    TRAINER_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    TRAINER_CUDA_CHECK(cudaEventCreateWithFlags(&computed_, cudaEventDisableTiming));
    TRAINER_CUDA_CHECK(cudaEventCreateWithFlags(&reduced_, cudaEventDisableTiming));
  }
  ~Nccl() override {
    cudaStreamSynchronize(stream_);
    ncclCommDestroy(comm_);
    cudaEventDestroy(computed_);
    cudaEventDestroy(reduced_);
    cudaStreamDestroy(stream_);
  }

  int rank() const override { return host_->rank(); }
  int world_size() const override { return host_->world_size(); }
  int local_rank() const override { return host_->local_rank(); }
  std::string describe() const override { return str("NCCL ", version_, " for CUDA tensors, ", host_->describe()); }

  void allreduce_mean(Tensor& t) override {
    start_allreduce_mean(t);
    wait_reductions();
  }
  void start_allreduce_mean(Tensor& t) override {
    if (t.device().is_cpu()) return host_->allreduce_mean(t);
    TRAINER_CHECK(t.dtype() == DType::F32 && t.is_contiguous(), "allreduce_mean: ", t.describe(),
                  " is not contiguous f32");
    after_compute();
    check_nccl(ncclAllReduce(t.raw(), t.raw(), static_cast<size_t>(t.numel()), ncclFloat32, ncclAvg, comm_, stream_),
               "ncclAllReduce");
    in_flight_ = true;
  }
  void wait_reductions() override {
    if (!in_flight_) return;
    in_flight_ = false;
    before_compute("allreduce of the gradients");
  }
  void broadcast(Tensor& t, int root) override {
    if (t.device().is_cpu()) return host_->broadcast(t, root);
    TRAINER_CHECK(t.is_contiguous(), "broadcast of a non-contiguous tensor ", t.describe());
    after_compute();
    check_nccl(ncclBroadcast(t.raw(), t.raw(), static_cast<size_t>(t.numel()) * dtype_size(t.dtype()), ncclUint8,
                             root, comm_, stream_),
               "ncclBroadcast");
    before_compute("broadcast");
  }
  double allreduce_sum(double value) override { return host_->allreduce_sum(value); }
  std::vector<std::string> allgather(const std::string& value) override { return host_->allgather(value); }
  void set_timeout(double seconds) override {
    timeout_seconds_ = seconds;
    host_->set_timeout(seconds);
  }
  void set_step(int64_t step) override {
    step_ = step;
    host_->set_step(step);
  }

 private:
  // The collective may read what the compute stream has queued so far, and nothing later.
  void after_compute() {
    TRAINER_CUDA_CHECK(cudaEventRecord(computed_, nullptr));
    TRAINER_CUDA_CHECK(cudaStreamWaitEvent(stream_, computed_, 0));
  }
  // What the compute stream queues next runs after the collectives queued so far (it reads their
  // results), once they have completed on every rank.
  void before_compute(const char* what) {
    TRAINER_CUDA_CHECK(cudaEventRecord(reduced_, stream_));
    wait_for_peers(what);
    TRAINER_CUDA_CHECK(cudaStreamWaitEvent(nullptr, reduced_, 0));
  }
  // A peer that died or hangs leaves NCCL's kernels spinning on the GPU, where no host-side
  // watchdog sees them: poll the event, and past the timeout abort the communicator (NCCL's way
  // out of a stuck collective) and end the process as the MPI watchdog does.
  void wait_for_peers(const char* what) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      const cudaError_t state = cudaEventQuery(reduced_);
      if (state == cudaSuccess) return;
      if (state != cudaErrorNotReady) TRAINER_CUDA_CHECK(state);
      ncclResult_t async = ncclSuccess;
      check_nccl(ncclCommGetAsyncError(comm_, &async), "ncclCommGetAsyncError");
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (async != ncclSuccess || (timeout_seconds_ > 0 && waited > timeout_seconds_)) {
        std::fprintf(stderr,
                     "[rank %d] error: %s (NCCL) at step %lld %s after %.0f s: one of the ranks died or hangs "
                     "(runtime.collective_timeout_seconds); stopping the job\n",
                     rank(), what, static_cast<long long>(step_),
                     async != ncclSuccess ? ncclGetErrorString(async) : "still waiting", waited);
        std::fflush(stderr);
        ncclCommAbort(comm_);
        std::_Exit(1);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  std::shared_ptr<Communicator> host_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t computed_ = nullptr, reduced_ = nullptr;
  std::string version_;
  bool in_flight_ = false;
  double timeout_seconds_ = 0;
  int64_t step_ = 0;
};

}  // namespace

std::shared_ptr<Communicator> nccl_communicator(std::shared_ptr<Communicator> host) {
  return std::make_shared<Nccl>(std::move(host));
}

}  // namespace trainer::dist
