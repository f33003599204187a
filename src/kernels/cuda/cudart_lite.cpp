// cudart-lite: the CUDA runtime functions our host wrappers call, defined for the emulated
// build (linked into trainer_kernels_cuda_emu only; that build links no libcudart). The real
// CUDA headers declare these functions, so wrappers compile unchanged against either.
//
// "Device memory" is host memory here, but the stand-ins keep the real runtime's rules where a
// wrapper could get them wrong: copies check their direction against what each pointer really
// is, freeing a pointer that cudaMalloc did not return fails, streams must be live, failures are
// recorded as the thread's last error, and device memory has a capacity (for out-of-memory
// paths). Everything is synchronous: an emulated stream has finished its work when the call
// returns.
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "cuda_compat.h"

namespace trainer::cudaemu {
namespace {

enum class MemoryKind { Device, PinnedHost };

struct Allocation {
  size_t bytes;
  MemoryKind kind;
};

struct Registry {
  std::mutex mutex;
  std::map<uintptr_t, Allocation> allocations;  // by start address
  std::set<cudaStream_t> streams;
  size_t device_in_use = 0;
  size_t device_capacity = size_t{16} << 30;
};

Registry& registry() {
  static auto* r = new Registry;  // never destroyed: frees may run during static destruction
  return *r;
}

thread_local cudaError_t last_error = cudaSuccess;

cudaError_t record(cudaError_t err) {
  if (err != cudaSuccess) last_error = err;
  return err;
}

// The allocation of `kind` that holds [p, p + bytes), if any. Caller holds the mutex.
const Allocation* find(Registry& r, const void* p, size_t bytes, MemoryKind kind) {
  const auto address = reinterpret_cast<uintptr_t>(p);
  auto it = r.allocations.upper_bound(address);
  if (it == r.allocations.begin()) return nullptr;
  --it;
  const Allocation& a = it->second;
  if (a.kind != kind || address + bytes > it->first + a.bytes) return nullptr;
  return &a;
}

bool is_device(Registry& r, const void* p, size_t bytes) { return find(r, p, bytes, MemoryKind::Device); }

// Any pointer into device memory (for "this must be host memory" checks).
bool touches_device(Registry& r, const void* p) { return find(r, p, 1, MemoryKind::Device); }

bool stream_is_live(Registry& r, cudaStream_t s) {
  return s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread || r.streams.count(s) != 0;
}

cudaError_t allocate_memory(void** ptr, size_t bytes, MemoryKind kind) {
  if (!ptr) return record(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (bytes == 0) return cudaSuccess;
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (kind == MemoryKind::Device && bytes > r.device_capacity - r.device_in_use)
    return record(cudaErrorMemoryAllocation);
  void* p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);  // cudaMalloc aligns to 256 bytes
  if (!p) return record(cudaErrorMemoryAllocation);
  r.allocations[reinterpret_cast<uintptr_t>(p)] = {bytes, kind};
  // cudaMalloc's memory holds whatever was there: all-ones bytes (NaN as floats, -1 as
  // integers) make a kernel that reads what nobody wrote fail its test.
  std::memset(p, 0xff, bytes);
  if (kind == MemoryKind::Device) r.device_in_use += bytes;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t free_memory(void* p, MemoryKind kind) {
  if (!p) return cudaSuccess;
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.allocations.find(reinterpret_cast<uintptr_t>(p));
  if (it == r.allocations.end() || it->second.kind != kind) return record(cudaErrorInvalidValue);
  if (kind == MemoryKind::Device) r.device_in_use -= it->second.bytes;
  r.allocations.erase(it);
  std::free(p);
  return cudaSuccess;
}

cudaError_t copy_memory(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  if (bytes == 0) return cudaSuccess;
  if (!dst || !src) return record(cudaErrorInvalidValue);
  Registry& r = registry();
  {
    std::lock_guard lock(r.mutex);
    if (!stream_is_live(r, stream)) return record(cudaErrorInvalidResourceHandle);
    bool ok = true;
    switch (kind) {
      case cudaMemcpyHostToDevice: ok = !touches_device(r, src) && is_device(r, dst, bytes); break;
      case cudaMemcpyDeviceToHost: ok = is_device(r, src, bytes) && !touches_device(r, dst); break;
      case cudaMemcpyDeviceToDevice: ok = is_device(r, src, bytes) && is_device(r, dst, bytes); break;
      case cudaMemcpyHostToHost: ok = !touches_device(r, src) && !touches_device(r, dst); break;
      case cudaMemcpyDefault:  // unified addressing: whatever each side is, but device ranges must fit
        ok = (!touches_device(r, src) || is_device(r, src, bytes)) && (!touches_device(r, dst) || is_device(r, dst, bytes));
        break;
      default: ok = false;
    }
    if (!ok) return record(cudaErrorInvalidValue);
  }
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t fill_memory(void* dst, int value, size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return cudaSuccess;
  Registry& r = registry();
  {
    std::lock_guard lock(r.mutex);
    if (!stream_is_live(r, stream)) return record(cudaErrorInvalidResourceHandle);
    if (!is_device(r, dst, bytes)) return record(cudaErrorInvalidValue);
  }
  std::memset(dst, value, bytes);
  return cudaSuccess;
}

}  // namespace

cudaError_t validate_launch(dim3 grid, dim3 block, size_t smem, cudaStream_t stream) {
  const uint64_t threads = uint64_t{block.x} * block.y * block.z;
  if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535)
    return record(cudaErrorInvalidConfiguration);
  // More than 48 KiB of dynamic shared memory needs cudaFuncSetAttribute on a GPU; we do not
  // emulate that attribute, so such a launch would fail there and fails here too.
  if (smem > 48 * 1024) return record(cudaErrorInvalidValue);
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (!stream_is_live(r, stream)) return record(cudaErrorInvalidResourceHandle);
  return cudaSuccess;
}

void set_device_memory_capacity(size_t bytes) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.device_capacity = bytes;
}

}  // namespace trainer::cudaemu

using trainer::cudaemu::MemoryKind;
using trainer::cudaemu::record;
using trainer::cudaemu::registry;

extern "C" {

cudaError_t cudaMalloc(void** ptr, size_t bytes) { return trainer::cudaemu::allocate_memory(ptr, bytes, MemoryKind::Device); }
cudaError_t cudaFree(void* ptr) { return trainer::cudaemu::free_memory(ptr, MemoryKind::Device); }
cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  return trainer::cudaemu::allocate_memory(ptr, bytes, MemoryKind::PinnedHost);
}
cudaError_t cudaFreeHost(void* ptr) { return trainer::cudaemu::free_memory(ptr, MemoryKind::PinnedHost); }

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  if (!free_bytes || !total_bytes) return record(cudaErrorInvalidValue);
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  *total_bytes = r.device_capacity;
  *free_bytes = r.device_capacity - r.device_in_use;
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  return trainer::cudaemu::copy_memory(dst, src, bytes, kind, nullptr);
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  return trainer::cudaemu::copy_memory(dst, src, bytes, kind, stream);
}
cudaError_t cudaMemset(void* dst, int value, size_t bytes) { return trainer::cudaemu::fill_memory(dst, value, bytes, nullptr); }
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream) {
  return trainer::cudaemu::fill_memory(dst, value, bytes, stream);
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  if (!stream) return record(cudaErrorInvalidValue);
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  *stream = reinterpret_cast<cudaStream_t>(new char);  // a unique, never-dereferenced handle
  r.streams.insert(*stream);
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  if (!r.streams.erase(stream)) return record(cudaErrorInvalidResourceHandle);
  delete reinterpret_cast<char*>(stream);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  return trainer::cudaemu::stream_is_live(r, stream) ? cudaSuccess : record(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

// One emulated device, index 0.
cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return record(cudaErrorInvalidValue);
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : record(cudaErrorInvalidDevice); }
cudaError_t cudaGetDevice(int* device) {
  if (!device) return record(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (!prop) return record(cudaErrorInvalidValue);
  if (device != 0) return record(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "CUDA emulator on the CPU");
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  prop->totalGlobalMem = r.device_capacity;
  prop->major = 9, prop->minor = 0;  // kernels take their sm_90 paths (WMMA is emulated)
  prop->multiProcessorCount = 1;
  prop->warpSize = 32;
  return cudaSuccess;
}

// Kernels run when launched, so every event is complete as soon as it is recorded.
cudaError_t cudaEventCreate(cudaEvent_t* event) {
  if (!event) return record(cudaErrorInvalidValue);
  *event = reinterpret_cast<cudaEvent_t>(new char);  // a unique, never-dereferenced handle
  return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int) { return cudaEventCreate(event); }
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete reinterpret_cast<char*>(event);
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (!event) return record(cudaErrorInvalidResourceHandle);
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  return trainer::cudaemu::stream_is_live(r, stream) ? cudaSuccess : record(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) { return event ? cudaSuccess : record(cudaErrorInvalidResourceHandle); }
cudaError_t cudaEventQuery(cudaEvent_t event) { return event ? cudaSuccess : record(cudaErrorInvalidResourceHandle); }
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int) {
  if (!event) return record(cudaErrorInvalidResourceHandle);
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  return trainer::cudaemu::stream_is_live(r, stream) ? cudaSuccess : record(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int) { return cudaStreamCreate(stream); }

cudaError_t cudaGetLastError() {
  const cudaError_t err = trainer::cudaemu::last_error;
  trainer::cudaemu::last_error = cudaSuccess;
  return err;
}
cudaError_t cudaPeekAtLastError() { return trainer::cudaemu::last_error; }

const char* cudaGetErrorName(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    default: return "cudaErrorUnknown";
  }
}
const char* cudaGetErrorString(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    default: return "unrecognized error code";
  }
}

}  // extern "C"
