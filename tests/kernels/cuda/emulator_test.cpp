// The emulator itself: each CUDA feature our kernels rely on gives the GPU's answer, launch
// errors are reported like the CUDA runtime reports them, and the bugs that matter in reduction
// kernels are caught (a wrong result, or an abort that names the problem).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "device_test_util.h"
#include "emulator_kernels.h"

namespace trainer::cuda {
namespace {

using testing::DeviceArray;
namespace kernels = emulator_test;

TEST(CudaEmulator, SharedMemoryTreeReduction) {
  DeviceArray<float> x(std::vector<float>(256, 1.f)), out(1);
  ASSERT_EQ(kernels::block_tree_sum(x.get(), out.get()), cudaSuccess);
  EXPECT_EQ(out.download()[0], 256.f);
}

// The classic bug: a tree reduction without barriers between levels. Every thread runs to
// the end of its loop before the next one starts, so a level reads partners that have not
// written theirs yet, in either scheduling order.
TEST(CudaEmulator, MissingBarrierGivesAWrongSum) {
  DeviceArray<float> x(std::vector<float>(256, 1.f)), out(1);
  ASSERT_EQ(kernels::block_tree_sum_missing_sync(x.get(), out.get()), cudaSuccess);
  EXPECT_NE(out.download()[0], 256.f);
}

TEST(CudaEmulatorDeathTest, DivergentBarrierAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(kernels::divergent_barrier(), "divergent __syncthreads at .*emulator_kernels.cu");
}

TEST(CudaEmulatorDeathTest, PartialWarpShuffleWithAFullMaskDeadlocks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(kernels::partial_warp_shuffle(), "deadlock");
}

TEST(CudaEmulator, WarpShuffleSumsAcrossBlocksAndPartialWarps) {
  const std::vector<float> x = testing::random_values<float>(100000, 0.5f, 2.f, 42);
  DeviceArray<float> d_x(x), out(1);
  struct Launch {
    int64_t n;
    unsigned grid, block;
  };
  for (const Launch l : {Launch{100000, 1, 256}, Launch{100000, 64, 256}, Launch{1000, 3, 96}, Launch{5, 1, 32}}) {
    SCOPED_TRACE(std::to_string(l.grid) + " x " + std::to_string(l.block) + " threads, n=" + std::to_string(l.n));
    out.upload({0.f});
    ASSERT_EQ(kernels::warp_shuffle_sum(d_x.get(), l.n, out.get(), l.grid, l.block), cudaSuccess);
    double expected = 0, magnitude = 0;
    for (int64_t i = 0; i < l.n; ++i) {
      expected += x[i];
      magnitude += std::fabs(x[i]);
    }
    // Float partial sums, added atomically in whatever order the blocks finish.
    EXPECT_NEAR(out.download()[0], expected, 1e-6 * magnitude);
  }
}

TEST(CudaEmulator, BallotCountsVotes) {
  const std::vector<float> x = testing::random_values<float>(5003, 0.f, 1.f, 5);
  DeviceArray<float> d_x(x);
  DeviceArray<unsigned> count(std::vector<unsigned>{0});
  ASSERT_EQ(kernels::count_above(d_x.get(), 5000, 0.5f, count.get()), cudaSuccess);
  unsigned expected = 0;
  for (int i = 0; i < 5000; ++i) expected += x[i] > 0.5f;
  EXPECT_EQ(count.download()[0], expected);
}

TEST(CudaEmulator, VotesShufflesScansAndAtomics) {
  DeviceArray<int> out(std::vector<int>(11, 0));
  DeviceArray<__half> half_sum(std::vector<__half>{__float2half(0.f)});
  ASSERT_EQ(kernels::misc_intrinsics(out.get(), half_sum.get()), cudaSuccess);
  const std::vector<int> r = out.download();
  EXPECT_EQ(r[1], 22) << "__syncthreads_count";
  EXPECT_EQ(r[2], 1) << "__syncthreads_or";
  EXPECT_EQ(r[3], 1) << "__syncthreads_and";
  EXPECT_EQ(r[4], 350) << "__shfl_sync with width 16";
  EXPECT_EQ(r[5], 6) << "__shfl_up_sync scan";
  EXPECT_EQ(r[6], 1) << "__any_sync";
  EXPECT_EQ(r[7], 0) << "__all_sync";
  EXPECT_EQ(r[8], 1) << "__activemask";
  EXPECT_EQ(r[9], 5) << "__shfl_xor_sync with a 16-lane mask";
  EXPECT_EQ(r[10], 49) << "atomicMax(int*)";
  EXPECT_EQ(__half2float(half_sum.download()[0]), 64.f) << "atomicAdd(__half*)";
}

// Blocks run concurrently on OpenMP threads, so the atomics must be real CPU atomics.
TEST(CudaEmulator, AtomicsAcrossBlocks) {
  DeviceArray<int> out(std::vector<int>{1000, 1000, 0, -1, -1, 0, 0});
  DeviceArray<float> float_sum(std::vector<float>{0.f});
  ASSERT_EQ(kernels::atomics(out.get(), float_sum.get()), cudaSuccess);
  const std::vector<int> r = out.download();
  EXPECT_EQ(r[0], 488) << "atomicSub";
  EXPECT_EQ(r[1], 245) << "atomicMin";
  EXPECT_EQ(r[2], 0x7fffffff) << "atomicOr";
  EXPECT_EQ(r[3], ~0xffff) << "atomicAnd";
  EXPECT_GE(r[4], 0) << "atomicExch";
  EXPECT_EQ(r[5], 1) << "atomicExch returns each old value once";
  EXPECT_EQ(r[6], 255 * 256 / 2) << "atomicCAS loop";
  EXPECT_EQ(float_sum.download()[0], 128.f) << "atomicAdd(float*)";
}

TEST(CudaEmulator, BitAndMathIntrinsics) {
  DeviceArray<unsigned> out(9);
  DeviceArray<float> fout(4);
  ASSERT_EQ(kernels::bit_intrinsics(out.get(), fout.get()), cudaSuccess);
  EXPECT_EQ(out.download(), (std::vector<unsigned>{8, 33, 5, 31, 0x80000000u, 0x3f800000u, 2, 1, 10}));
  EXPECT_EQ(fout.download(), (std::vector<float>{0.5f, 1.f, 2.f, 8.125f}));
}

// A kernel that reads dynamic shared memory before writing it sees NaN, not zeros left by luck.
TEST(CudaEmulator, DynamicSharedMemoryIsPoisoned) {
  DeviceArray<float> out(100);
  ASSERT_EQ(kernels::read_uninitialised_dynamic_smem(out.get(), 100), cudaSuccess);
  for (float v : out.download()) EXPECT_TRUE(std::isnan(v));
}

// Launch errors come back as the CUDA runtime returns them, and as the thread's last error.
TEST(CudaEmulator, InvalidLaunchesAreRuntimeErrors) {
  EXPECT_EQ(kernels::launch_empty(dim3(1), dim3(2048), 0, nullptr), cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration) << "peeking must not clear the error";
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(kernels::launch_empty(dim3(0), dim3(32), 0, nullptr), cudaErrorInvalidConfiguration);
  EXPECT_EQ(kernels::launch_empty(dim3(1, 70000), dim3(32), 0, nullptr), cudaErrorInvalidConfiguration);
  EXPECT_EQ(kernels::launch_empty(dim3(1), dim3(32), 64 * 1024, nullptr), cudaErrorInvalidValue);
  cudaStream_t stream;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  EXPECT_EQ(kernels::launch_empty(dim3(4), dim3(32, 4, 2), 1024, stream), cudaSuccess);
  ASSERT_EQ(cudaStreamDestroy(stream), cudaSuccess);
  EXPECT_EQ(kernels::launch_empty(dim3(4), dim3(32), 0, stream), cudaErrorInvalidResourceHandle);
  cudaGetLastError();
}

// src/README.md, decision 6: one functor, an OpenMP loop on the CPU and a grid-stride kernel on
// the GPU. 600001 elements need three passes of the 1024 x 256 grid; each index must be visited
// once.
TEST(CudaEmulator, ForEachIndexRunsTheCpuFunctorOnceForEveryIndex) {
  const int64_t n = 600001;
  const std::vector<float> x = testing::random_values<float>(n, 0.f, 1.f, 8);
  std::vector<float> y = testing::random_values<float>(n + 1, 0.f, 1.f, 9);
  DeviceArray<float> d_x(x), d_y(y);
  kernels::axpy_cuda(0.75f, d_x.get(), d_y.get(), n);
  kernels::axpy_cpu(0.75f, x.data(), y.data(), n);
  EXPECT_EQ(d_y.download(), y);  // bit-identical; the guard element past n is untouched
}

}  // namespace
}  // namespace trainer::cuda
