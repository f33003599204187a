// The CUDA backend's DeviceRuntime (core/allocator.h): a caching device allocator and copies.
//
// One process drives one GPU (the current CUDA device; under mpirun each rank selects its own),
// so Device::cuda(i) tensors of any index live on it.
//
// Stream order: freed device memory goes back to the cache at once and may be handed out again
// while kernels queued earlier still use it. That is safe when all kernels that use cached memory
// run on one stream (they then execute in queue order); work on another stream must be
// synchronised with it before memory it touched is freed.
#pragma once

#include <cstddef>
#include <string>

#include "trainer/core/allocator.h"

namespace trainer::cuda {

DeviceRuntime& runtime();
// Makes GPU local_rank % (number of GPUs) this process's device (mpirun starts one process per
// GPU; ranks on one node get distinct GPUs) and returns "index: name, memory" for the log.
std::string select_device(int local_rank);
// Makes Device::cuda() tensors use runtime(): call once at start-up when the backend is used.
void register_runtime();

AllocatorStats device_allocator_stats();
void device_allocator_reset_peak();
// Returns cached blocks to the driver (cudaFree), e.g. before a phase that needs more memory.
void release_cached_device_memory();

// Scratch device memory from the caching allocator for the duration of a host wrapper: kernel
// partial results, cuDNN / cuBLASLt workspaces.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return data_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace trainer::cuda
