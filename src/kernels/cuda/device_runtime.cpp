// The CUDA DeviceRuntime: plain host code over the CUDA runtime API, so it builds against
// libcudart in the CUDA build and against cudart_lite.cpp in the emulated one (and is tested
// there).
#include "trainer/kernels/cuda/runtime.h"

#include <cuda_runtime_api.h>

#include <cstring>
#include <mutex>

#include "trainer/core/caching_allocator.h"
#include "trainer/core/error.h"
#include "trainer/kernels/cuda/check.h"

namespace trainer::cuda {
namespace {

double mib(size_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

// cudaMalloc is slow and synchronises the device: cache freed blocks (512-byte multiples up to
// 1 MiB, then eight classes per power of two, at most 12.5% slack).
class CachingDeviceAllocator final : public CachingAllocator {
 public:
  CachingDeviceAllocator() : CachingAllocator(size_t{1} << 20, 512, 3) {}

 private:
  void* raw_allocate(size_t bytes) override {
    void* p = nullptr;
    const cudaError_t err = cudaMalloc(&p, bytes);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear the sticky error: the caller retries or reports
      return nullptr;
    }
    TRAINER_CUDA_CHECK(err);
    return p;
  }
  void raw_free(void* ptr) override { TRAINER_CUDA_CHECK(cudaFree(ptr)); }
  std::string out_of_memory(size_t bytes, const AllocatorStats& stats) override {
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    return str("out of GPU memory: cannot allocate ", mib(bytes), " MiB (", mib(stats.in_use),
               " MiB in use by tensors, ", mib(free_bytes), " of ", mib(total_bytes),
               " MiB free on the device); reduce the batch size");
  }
};

// Host-to-device uploads on a copy stream of their own, staged in a ring of page-locked buffers
// (cudaMemcpyAsync from pageable memory would copy synchronously). The compute stream is the
// legacy default stream, where every kernel runs (Context::stream is null); the copy stream is
// non-blocking, so only events order the two:
//   1. the copy waits for the kernels queued so far: `dst` may be recycled memory that they
//      still read (the caching allocator recycles in compute-stream order, runtime.h);
//   2. the kernels queued after wait_upload wait for the copy (PendingUpload::ready, or its
//      destructor when the upload is dropped unused, so that `dst` is not recycled under it).
// The kernels read only `dst`, never a slot. A slot's buffer is refilled only after the host has
// waited for the copy that last read it (cudaEventSynchronize), so a copy never reads a buffer
// being refilled, however many slots there are; their number only decides whether that wait
// stalls the host. In flight at once are a step's uploads and the next batch's, which the
// training loop starts once the step has queued its loss (Trainer::run): a classification step
// makes 2 (images, labels; 3 with mixup's weights), a detection step 2 (images, the packed
// ground truth; the targets are assigned on the device), so with 16 slots
// the one refilled was last used two or more steps before, and its copy has long finished.
class UploadStream {
 public:
  uint64_t upload(void* dst, const void* host_src, size_t bytes) {
    if (!copy_stream_) TRAINER_CUDA_CHECK(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
    Slot& slot = slots_[next_ticket_ % kSlots];
    if (slot.ticket != 0) TRAINER_CUDA_CHECK(cudaEventSynchronize(slot.copied));
    if (slot.capacity < bytes) {
      if (slot.pinned) TRAINER_CUDA_CHECK(cudaFreeHost(slot.pinned));
      slot.pinned = nullptr;
      slot.capacity = 0;
      TRAINER_CUDA_CHECK(cudaMallocHost(&slot.pinned, bytes));
      slot.capacity = bytes;
    }
    if (!slot.copied) {
      TRAINER_CUDA_CHECK(cudaEventCreateWithFlags(&slot.copied, cudaEventDisableTiming));
      TRAINER_CUDA_CHECK(cudaEventCreateWithFlags(&slot.queued_before, cudaEventDisableTiming));
    }
    std::memcpy(slot.pinned, host_src, bytes);
    TRAINER_CUDA_CHECK(cudaEventRecord(slot.queued_before, nullptr));
    TRAINER_CUDA_CHECK(cudaStreamWaitEvent(copy_stream_, slot.queued_before, 0));
    TRAINER_CUDA_CHECK(cudaMemcpyAsync(dst, slot.pinned, bytes, cudaMemcpyHostToDevice, copy_stream_));
    TRAINER_CUDA_CHECK(cudaEventRecord(slot.copied, copy_stream_));
    slot.ticket = next_ticket_++;
    return slot.ticket;
  }

  void wait(uint64_t ticket) {
    TRAINER_CHECK(ticket != 0 && ticket < next_ticket_, "wait_upload: no upload has ticket ", ticket);
    const Slot& slot = slots_[ticket % kSlots];
    // A slot reused since then: the host waited for this ticket's copy before reusing it.
    if (slot.ticket == ticket) TRAINER_CUDA_CHECK(cudaStreamWaitEvent(nullptr, slot.copied, 0));
  }

 private:
  static constexpr uint64_t kSlots = 16;
  struct Slot {
    void* pinned = nullptr;
    size_t capacity = 0;
    cudaEvent_t queued_before = nullptr, copied = nullptr;
    uint64_t ticket = 0;  // the upload that last used the slot (0: none)
  };
  Slot slots_[kSlots];
  cudaStream_t copy_stream_ = nullptr;
  uint64_t next_ticket_ = 1;
};

class CudaRuntime final : public DeviceRuntime {
 public:
  Allocator& allocator() override { return allocator_; }

  // Unified addressing lets the driver tell host from device pointers; the copy is complete
  // (or its source reusable, for pageable host sources) when cudaMemcpy returns.
  void copy(void* dst, Device /*dst_device*/, const void* src, Device /*src_device*/, size_t bytes) override {
    TRAINER_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
  }

  void fill_zero(void* ptr, size_t bytes) override { TRAINER_CUDA_CHECK(cudaMemset(ptr, 0, bytes)); }
  uint64_t upload_async(void* dst, const void* host_src, size_t bytes) override {
    std::lock_guard lock(upload_mutex_);
    return uploads_.upload(dst, host_src, bytes);
  }
  void wait_upload(uint64_t ticket) override {
    std::lock_guard lock(upload_mutex_);
    uploads_.wait(ticket);
  }

  CachingDeviceAllocator& caching_allocator() { return allocator_; }

 private:
  CachingDeviceAllocator allocator_;
  std::mutex upload_mutex_;
  UploadStream uploads_;
};

CudaRuntime& cuda_runtime_instance() {
  static auto* instance = new CudaRuntime;  // never destroyed: tensors may outlive main's statics
  return *instance;
}

}  // namespace

DeviceRuntime& runtime() { return cuda_runtime_instance(); }

std::string select_device(int local_rank) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  TRAINER_CHECK(err == cudaSuccess && count > 0, "runtime.device CUDA: no CUDA device is visible (",
                err == cudaSuccess ? "none found" : cudaGetErrorString(err),
                "); check the driver and CUDA_VISIBLE_DEVICES, or use device CPU");
  const int index = local_rank % count;
  TRAINER_CUDA_CHECK(cudaSetDevice(index));
  cudaDeviceProp prop{};
  TRAINER_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  return str("GPU ", index, " of ", count, ": ", prop.name, ", ", mib(prop.totalGlobalMem) / 1024, " GiB, sm_",
             prop.major, prop.minor);
}

void register_runtime() { register_cuda_runtime(&cuda_runtime_instance()); }

AllocatorStats device_allocator_stats() { return cuda_runtime_instance().caching_allocator().stats(); }
void device_allocator_reset_peak() { cuda_runtime_instance().caching_allocator().reset_peak(); }
void release_cached_device_memory() { cuda_runtime_instance().caching_allocator().release_cache(); }

DeviceBuffer::DeviceBuffer(size_t bytes) : data_(runtime().allocator().allocate(bytes)), bytes_(bytes) {}
DeviceBuffer::~DeviceBuffer() { runtime().allocator().deallocate(data_, bytes_); }

}  // namespace trainer::cuda
