// Choices for our own CUDA GEMM kernels (conv2d_native.h, matmul_native.h), passed after the
// stream. Declared without the CUDA headers.
#pragma once

namespace trainer::cuda {

struct GemmOptions {
  // f32 operands may run on tensor cores as TF32 (Ampere and later): products of operands
  // rounded to a 10-bit mantissa, sums in f32, ~4x the f32 FMA rate on an H100 with WMMA. Off by
  // default, so a bare call computes what the CPU backend computes (f32 products and sums).
  // f16 and bf16 operands always use tensor cores (f32 accumulation).
  bool allow_tf32 = false;
};

}  // namespace trainer::cuda
