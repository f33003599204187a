// WMMA kernels written in ordinary CUDA style, built with the emulator (compiled as C++ by the
// test target): one wmma feature or one deliberate bug each. See wmma_test_kernels.h.
#include "wmma_test_kernels.h"

#include <type_traits>

#include "cuda_compat.h"
#include "trainer/kernels/cuda/check.h"

namespace trainer::cuda::wmma_test {
namespace {

namespace wmma = nvcuda::wmma;

template <Layout L>
using FragLayout = std::conditional_t<L == Layout::Row, wmma::row_major, wmma::col_major>;
inline wmma::layout_t mem_layout(Layout l) { return l == Layout::Row ? wmma::mem_row_major : wmma::mem_col_major; }

template <class T, Layout LA, Layout LB>
__global__ void mma_kernel(const T* a, unsigned lda, const T* b, unsigned ldb, const float* c, Layout lc, float* d,
                           Layout ld, unsigned ldc) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, T, FragLayout<LA>> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, T, FragLayout<LB>> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::load_matrix_sync(fa, a, lda);
  wmma::load_matrix_sync(fb, b, ldb);
  wmma::load_matrix_sync(acc, c, ldc, mem_layout(lc));
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(d, acc, ldc, mem_layout(ld));
}

template <Layout LA, Layout LB>
__global__ void tf32_kernel(const float* a, const float* b, const float* c, float* d, bool convert) {
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, FragLayout<LA>> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, FragLayout<LB>> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc;
  wmma::load_matrix_sync(fa, a, LA == Layout::Row ? 8 : 16);
  wmma::load_matrix_sync(fb, b, LB == Layout::Row ? 16 : 8);
  if (convert) {
    for (int i = 0; i < fa.num_elements; ++i) fa.x[i] = wmma::__float_to_tf32(fa.x[i]);
    for (int i = 0; i < fb.num_elements; ++i) fb.x[i] = wmma::__float_to_tf32(fb.x[i]);
  }
  wmma::load_matrix_sync(acc, c, 16, wmma::mem_row_major);
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(d, acc, 16, wmma::mem_row_major);
}

__global__ void gemm_kernel(const __half* a, const __half* b, float* c) {
  const int warp = threadIdx.x / 32, wm = warp / 2, wn = warp % 2;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.f);
  for (int k = 0; k < 48; k += 16) {
    for (int i = 0; i < 2; ++i) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
      wmma::load_matrix_sync(fa, a + (wm * 32 + i * 16) * 48 + k, 48);
      for (int j = 0; j < 2; ++j) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb;
        wmma::load_matrix_sync(fb, b + k * 64 + wn * 32 + j * 16, 64);
        wmma::mma_sync(acc[i][j], fa, fb, acc[i][j]);
        // A shuffle between mma's: it advances the warp's exchange generation, so the next mma
        // uses the stage the previous one did; a wrong double-buffering would mix operands.
        const int v = __shfl_xor_sync(0xffffffffu, static_cast<int>(threadIdx.x), 1);
        if (v != static_cast<int>(threadIdx.x ^ 1)) c[0] = -1e30f;
      }
    }
  }
  float* out = c + blockIdx.x * 64 * 64;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(out + (wm * 32 + i * 16) * 64 + wn * 32 + j * 16, acc[i][j], 64, wmma::mem_row_major);
}

__global__ void scaled_kernel(const __half* a, const __half* b, float* d) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::load_matrix_sync(fa, a, 16);
  wmma::load_matrix_sync(fb, b, 16);
  for (int i = 0; i < fa.num_elements; ++i) fa.x[i] = __float2half(2.f * __half2float(fa.x[i]));
  wmma::fill_fragment(acc, 0.f);
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(d, acc, 16, wmma::mem_row_major);
}

__global__ void assume_layout_kernel(const __half* a, const __half* b, float* d) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::load_matrix_sync(fa, a, 16);
  wmma::load_matrix_sync(fb, b, 16);
  wmma::fill_fragment(acc, 0.f);
  wmma::mma_sync(acc, fa, fb, acc);
  // BUG: relies on an element-to-lane layout that CUDA leaves unspecified.
  const int lane = threadIdx.x % 32, row = lane / 4, col = 2 * (lane % 4);
  for (int i = 0; i < acc.num_elements; ++i) {
    const int r = row + (i / 2 % 2) * 8, c = col + i % 2 + (i / 4) * 8;
    d[r * 16 + c] = acc.x[i];
  }
}

__global__ void misaligned_kernel(const __half* a) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  wmma::load_matrix_sync(fa, a + 4, 16);  // 8 bytes past a 256-byte boundary
}

__global__ void partial_warp_kernel(const __half* a, float* d) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::load_matrix_sync(fa, a, 16);
  wmma::load_matrix_sync(fb, a, 16);
  wmma::fill_fragment(acc, 0.f);
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(d, acc, 16, wmma::mem_row_major);
}

template <class T, Layout LA, Layout LB>
cudaError_t launch_mma(const T* a, unsigned lda, const T* b, unsigned ldb, const float* c, Layout lc, float* d,
                       Layout ld, unsigned ldc) {
  return cudaemu::launch(mma_kernel<T, LA, LB>, dim3(1), dim3(32), 0, nullptr, a, lda, b, ldb, c, lc, d, ld, ldc);
}

}  // namespace

template <class T>
cudaError_t mma_16x16x16(const T* a, Layout la, unsigned lda, const T* b, Layout lb, unsigned ldb, const float* c,
                         Layout lc, float* d, Layout ld, unsigned ldc) {
  if (la == Layout::Row && lb == Layout::Row)
    return launch_mma<T, Layout::Row, Layout::Row>(a, lda, b, ldb, c, lc, d, ld, ldc);
  if (la == Layout::Row) return launch_mma<T, Layout::Row, Layout::Col>(a, lda, b, ldb, c, lc, d, ld, ldc);
  if (lb == Layout::Row) return launch_mma<T, Layout::Col, Layout::Row>(a, lda, b, ldb, c, lc, d, ld, ldc);
  return launch_mma<T, Layout::Col, Layout::Col>(a, lda, b, ldb, c, lc, d, ld, ldc);
}
template cudaError_t mma_16x16x16<__half>(const __half*, Layout, unsigned, const __half*, Layout, unsigned,
                                          const float*, Layout, float*, Layout, unsigned);
template cudaError_t mma_16x16x16<__nv_bfloat16>(const __nv_bfloat16*, Layout, unsigned, const __nv_bfloat16*, Layout,
                                                 unsigned, const float*, Layout, float*, Layout, unsigned);

cudaError_t mma_tf32(const float* a, Layout la, const float* b, Layout lb, const float* c, float* d, bool convert) {
  auto run = [&](auto kernel) { return cudaemu::launch(kernel, dim3(1), dim3(32), 0, nullptr, a, b, c, d, convert); };
  if (la == Layout::Row && lb == Layout::Row) return run(tf32_kernel<Layout::Row, Layout::Row>);
  if (la == Layout::Row) return run(tf32_kernel<Layout::Row, Layout::Col>);
  if (lb == Layout::Row) return run(tf32_kernel<Layout::Col, Layout::Row>);
  return run(tf32_kernel<Layout::Col, Layout::Col>);
}

cudaError_t gemm_64x64x48(const __half* a, const __half* b, float* c, unsigned blocks) {
  return cudaemu::launch(gemm_kernel, dim3(blocks), dim3(128), 0, nullptr, a, b, c);
}

cudaError_t scaled_mma(const __half* a, const __half* b, float* d) {
  return cudaemu::launch(scaled_kernel, dim3(1), dim3(32), 0, nullptr, a, b, d);
}

cudaError_t store_assuming_sm80_layout(const __half* a, const __half* b, float* d) {
  return cudaemu::launch(assume_layout_kernel, dim3(1), dim3(32), 0, nullptr, a, b, d);
}

void misaligned_load() {
  __half* a = nullptr;
  TRAINER_CUDA_CHECK(cudaMalloc(&a, 1024));
  TRAINER_CUDA_CHECK(cudaemu::launch(misaligned_kernel, dim3(1), dim3(32), 0, nullptr, a));
}

void partial_warp_mma() {
  __half* a = nullptr;
  float* d = nullptr;
  TRAINER_CUDA_CHECK(cudaMalloc(&a, 1024));
  TRAINER_CUDA_CHECK(cudaMalloc(&d, 1024));
  TRAINER_CUDA_CHECK(cudaemu::launch(partial_warp_kernel, dim3(1), dim3(16), 0, nullptr, a, d));
}

}  // namespace trainer::cuda::wmma_test
