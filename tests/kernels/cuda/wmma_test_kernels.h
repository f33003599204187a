// Host entry points of wmma_test_kernels.cu: small kernels over the emulator's nvcuda::wmma
// (cuda_compat.h), one feature each, and deliberately wrong ones the emulator must catch.
// Matrices are device memory; `ld` is the leading dimension in elements.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

namespace trainer::cuda::wmma_test {

enum class Layout { Row, Col };

// One warp: d = a * b + c for one 16x16x16 tile. a: 16x16 (lda), b: 16x16 (ldb) in the fragment
// layouts la / lb; c, d: 16x16 f32 (ldc) loaded and stored with the memory layouts lc / ld.
// T: __half or __nv_bfloat16.
template <class T>
cudaError_t mma_16x16x16(const T* a, Layout la, unsigned lda, const T* b, Layout lb, unsigned ldb, const float* c,
                         Layout lc, float* d, Layout ld, unsigned ldc);

// One warp: d = a * b + c for one tf32 16x16x8 tile (a: 16x8, b: 8x16, c/d row-major 16x16).
// `convert`: apply __float_to_tf32 to every loaded element first (what kernels should do).
cudaError_t mma_tf32(const float* a, Layout la, const float* b, Layout lb, const float* c, float* d, bool convert);

// c[64][64] = a[64][48] * b[48][64] (row-major, f16) by `blocks` identical blocks of 4 warps,
// block i writing c + i * 64 * 64: each warp chains 3 k steps into 2 x 2 accumulators, with
// warp shuffles between the mma's (the exchange areas share a generation counter).
cudaError_t gemm_64x64x48(const __half* a, const __half* b, float* c, unsigned blocks);

// Scales every loaded element of a (f16, row-major 16x16) by 2 through x[i] before d = a * b:
// elementwise work on fragments is layout independent, so d = 2 * a * b.
cudaError_t scaled_mma(const __half* a, const __half* b, float* d);

// Writes the accumulator of a * b (f16 16x16, row-major) element by element, assuming the GPU's
// sm_80 accumulator layout (lane l holds rows l/4 and l/4 + 8, columns 2(l%4) + {0, 1, 8, 9}):
// a layout CUDA does not promise; the emulator's differs on purpose.
cudaError_t store_assuming_sm80_layout(const __half* a, const __half* b, float* d);

// Abort: load_matrix_sync from a pointer that is not 256-bit aligned.
void misaligned_load();
// Abort: mma_sync from a block of 16 threads (half a warp).
void partial_warp_mma();

}  // namespace trainer::cuda::wmma_test
