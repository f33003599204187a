// Backend and element-type dispatch for op front-ends (private to the ops layer): the one place
// where an op picks the CPU or the CUDA kernel for its operands' device (src/ops/README.md).
// Kernels of both backends take the same arguments (shapes from kernels/shapes.h); the CUDA one
// adds the stream last.
#pragma once

#include <type_traits>

#include "trainer/core/tensor.h"
#include "trainer/kernels/cuda/stream.h"

namespace trainer::ops_detail {

struct CpuBackend {
  static constexpr bool is_cuda = false;
};
struct CudaBackend {
  static constexpr bool is_cuda = true;
  cuda::Stream stream = nullptr;
};

// Calls f(T{}, backend) for the tensor's element type and device: f32 and bf16 on the CPU,
// f32, bf16 and f16 on CUDA. A CUDA tensor in a build without CUDA kernels, or another dtype, is
// an Error naming the op.
template <class F>
decltype(auto) dispatch(const char* op, const Tensor& t, cuda::Stream stream, F&& f) {
  if (t.device().is_cpu()) {
    switch (t.dtype()) {
      case DType::F32: return f(float{}, CpuBackend{});
      case DType::BF16: return f(bfloat16{}, CpuBackend{});
      default: fail(op, ": ", t.describe(), " has an unsupported dtype on the CPU (expected f32 or bf16)");
    }
  }
#if TRAINER_HAS_CUDA_KERNELS
  switch (t.dtype()) {
    case DType::F32: return f(float{}, CudaBackend{stream});
    case DType::BF16: return f(bfloat16{}, CudaBackend{stream});
    case DType::F16: return f(float16{}, CudaBackend{stream});
    default: fail(op, ": ", t.describe(), " has an unsupported dtype (expected f32, bf16 or f16)");
  }
#else
  (void)stream;
  fail(op, ": ", t.describe(), " is on ", t.device().name(),
       " but this build has no CUDA kernels (build with nvcc, or with the CUDA toolkit's headers for the emulator)");
#endif
}

// Calls f(backend) for the tensor's device, whatever its element type (kernels that take a
// DType or fixed types: casts, the optimizer's f32 buffers).
template <class F>
decltype(auto) dispatch_device([[maybe_unused]] const char* op, const Tensor& t, cuda::Stream stream, F&& f) {
  if (t.device().is_cpu()) return f(CpuBackend{});
#if TRAINER_HAS_CUDA_KERNELS
  return f(CudaBackend{stream});
#else
  (void)stream;
  fail(op, ": ", t.describe(), " is on ", t.device().name(),
       " but this build has no CUDA kernels (build with nvcc, or with the CUDA toolkit's headers for the emulator)");
#endif
}

inline void check_same(const char* op, const Tensor& a, const Tensor& b) {
  TRAINER_CHECK(a.dtype() == b.dtype() && a.device() == b.device(), op, ": operands ", a.describe(), " and ",
                b.describe(), " differ in dtype or device");
}

inline void check_rank(const char* op, const Tensor& t, int rank, const char* layout) {
  TRAINER_CHECK(t.rank() == rank, op, ": expected a rank-", rank, " ", layout, " tensor, got ", t.describe());
}

}  // namespace trainer::ops_detail

// Runs kernel `name` (declared alike in trainer::cpu and trainer::cuda, e.g.
// activation_forward<T>) on `backend`: the CPU kernel with the arguments, or the CUDA kernel with
// the arguments and the backend's stream.
#define TRAINER_RUN_KERNEL(backend, name, ...)                                    \
  do {                                                                            \
    if constexpr (std::decay_t<decltype(backend)>::is_cuda)                       \
      ::trainer::cuda::name(__VA_ARGS__, (backend).stream);                       \
    else                                                                          \
      ::trainer::cpu::name(__VA_ARGS__);                                          \
  } while (false)
