// Device memory allocators. The CPU one pools 64-byte-aligned blocks by size class, so a
// training step that frees and re-allocates the same activation sizes never calls malloc.
#pragma once

#include <cstddef>
#include <cstdint>

#include "trainer/core/device.h"

namespace trainer {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr, size_t bytes) = 0;
};

struct AllocatorStats {
  size_t in_use = 0;     // bytes handed out and not yet returned
  size_t peak = 0;       // high-water mark of in_use
  size_t cached = 0;     // bytes held in the pool's free lists
};

// What the core needs from a non-CPU device: memory and byte copies. The CUDA backend registers
// one when it is built in; asking for a CUDA device otherwise is an Error that says so.
class DeviceRuntime {
 public:
  virtual ~DeviceRuntime() = default;
  virtual Allocator& allocator() = 0;
  // Copies bytes between any two of {CPU, this device}; returns when the copy is done.
  virtual void copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) = 0;
  virtual void fill_zero(void* ptr, size_t bytes) = 0;

  // Batch uploads that do not hold the host or the kernels up (core/device_upload.h): copies
  // `bytes` of host memory to `dst` through a page-locked staging buffer on the runtime's own
  // copy stream, after the work queued so far (which may still use `dst`'s recycled memory), and
  // returns at once with a ticket. The host source may be reused as soon as this returns.
  virtual uint64_t upload_async(void* dst, const void* host_src, size_t bytes) = 0;
  // Work queued on the compute stream from now on waits for that upload; returns at once.
  virtual void wait_upload(uint64_t ticket) = 0;
};

void register_cuda_runtime(DeviceRuntime* runtime);

// Copies through the device runtime, by direction: every host<->device transfer is an explicit
// Tensor::to / copy_from, and these counters let tests hold a training step to its budget.
struct DeviceCopyStats {
  int64_t host_to_device = 0, device_to_host = 0, device_to_device = 0;
  int64_t bytes = 0;
};
DeviceCopyStats device_copy_stats();
void reset_device_copy_stats();
// Called by Tensor::copy_from for every copy that involves a device.
void count_device_copy(Device dst, Device src, size_t bytes);
DeviceRuntime& cuda_runtime();  // throws if the CUDA backend is not built in

Allocator& allocator_for(Device device);

AllocatorStats cpu_allocator_stats();
void cpu_allocator_reset_peak();

}  // namespace trainer
