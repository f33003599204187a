// Where a convolution or matmul runs (private to the ops layer): the CPU kernel (oneDNN), our
// CUDA kernels, or, in a real CUDA build with Context::libraries set, cuDNN / cuBLASLt.
#pragma once

#include "dispatch.h"
#include "trainer/kernels/cuda/gemm_options.h"
#include "trainer/ops/context.h"

namespace trainer::ops_detail {

// Captured by value in backward closures: the choices of the step that recorded them.
struct GemmRunner {
  cuda::Stream stream;
  cuda::GemmOptions gemm;
  cuda::StreamContext* libraries;

  explicit GemmRunner(const Context& ctx) : stream(ctx.stream), gemm{ctx.precision.allow_tf32()}, libraries(ctx.libraries) {}

  template <class Cpu, class Native, class Library>
  void run(const char* op, const Tensor& like, Cpu&& cpu_call, Native&& native_call, [[maybe_unused]] Library&& library_call) const {
    ops_detail::dispatch_device(op, like, stream, [&](auto backend) {
      if constexpr (!decltype(backend)::is_cuda) {
        cpu_call();
      } else {
#if TRAINER_HAS_CUDA_KERNELS && !TRAINER_CUDA_EMULATED
        if (libraries) return library_call(*libraries);
#endif
        native_call();
      }
    });
  }
};


}  // namespace trainer::ops_detail
