#include "trainer/core/allocator.h"

#include <atomic>
#include <cstdlib>

#include "trainer/core/caching_allocator.h"
#include "trainer/core/error.h"

namespace trainer {
namespace {

constexpr size_t kAlignment = 64;  // a cache line, and the widest vector load (AVX-512)

// 64-byte multiples up to 4 KiB, then four classes per power of two (at most ~19% slack).
class PooledCpuAllocator final : public CachingAllocator {
 public:
  PooledCpuAllocator() : CachingAllocator(4096, kAlignment, 2) {}

 private:
  void* raw_allocate(size_t bytes) override { return std::aligned_alloc(kAlignment, bytes); }
  void raw_free(void* ptr) override { std::free(ptr); }
  std::string out_of_memory(size_t bytes, const AllocatorStats& stats) override {
    return str("out of memory: could not allocate ", bytes, " bytes on the CPU (", stats.in_use, " bytes in use)");
  }
};

PooledCpuAllocator& cpu_allocator() {
  static auto* instance = new PooledCpuAllocator;  // never destroyed: tensors may outlive main's statics
  return *instance;
}

DeviceRuntime* registered_cuda_runtime = nullptr;

}  // namespace

void register_cuda_runtime(DeviceRuntime* runtime) { registered_cuda_runtime = runtime; }

namespace {
std::atomic<int64_t> h2d{0}, d2h{0}, d2d{0}, copied_bytes{0};
}  // namespace

DeviceCopyStats device_copy_stats() { return {h2d.load(), d2h.load(), d2d.load(), copied_bytes.load()}; }

void reset_device_copy_stats() { h2d = d2h = d2d = copied_bytes = 0; }

void count_device_copy(Device dst, Device src, size_t bytes) {
  (src.is_cpu() ? h2d : dst.is_cpu() ? d2h : d2d) += 1;
  copied_bytes += static_cast<int64_t>(bytes);
}

DeviceRuntime& cuda_runtime() {
  TRAINER_CHECK(registered_cuda_runtime != nullptr,
                "a CUDA device was requested, but this trainer was built without the CUDA backend "
                "(rebuild with -DTRAINER_CUDA=ON on a machine with the CUDA toolkit)");
  return *registered_cuda_runtime;
}

Allocator& allocator_for(Device device) {
  return device.is_cpu() ? cpu_allocator() : cuda_runtime().allocator();
}

AllocatorStats cpu_allocator_stats() { return cpu_allocator().stats(); }
void cpu_allocator_reset_peak() { cpu_allocator().reset_peak(); }

}  // namespace trainer
