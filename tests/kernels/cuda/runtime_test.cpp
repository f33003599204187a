// The CUDA DeviceRuntime (caching allocator, copies) and the runtime stand-ins it runs on in
// the emulated build: tensors go to the "GPU" and back, freed blocks are reused, out-of-memory
// is recovered from or reported, and misuse of the runtime API fails the way cudart fails.
#include "trainer/kernels/cuda/runtime.h"

#include <cuda_runtime_api.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "cuda_compat.h"
#include "device_test_util.h"
#include "trainer/core/device_upload.h"
#include "trainer/core/tensor.h"
#include "trainer/kernels/cuda/activation.h"

namespace trainer::cuda {
namespace {

class CudaRuntime : public ::testing::Test {
 protected:
  void SetUp() override { register_runtime(); }
  void TearDown() override {
    cudaemu::set_device_memory_capacity(size_t{16} << 30);
    cudaGetLastError();
  }
};

TEST_F(CudaRuntime, TensorRoundTripsThroughTheDevice) {
  const Tensor host = Tensor::from_floats({3, 5, 7}, testing::to_floats(testing::random_values<float>(105, 0, 1, 1)));
  const Tensor device = host.to(Device::cuda());
  EXPECT_TRUE(device.device().is_cuda());
  EXPECT_NE(device.raw(), host.raw());
  EXPECT_EQ(device.describe(), "f32[3,5,7]@cuda:0");
  const Tensor back = device.to(Device::cpu());
  EXPECT_EQ(back.to_floats(), host.to_floats());

  // A strided view is made contiguous before it crosses, in bf16 too.
  const Tensor slice = host.to(Device::cpu()).slice(1, 1, 4);
  EXPECT_EQ(slice.to(Device::cuda()).to(Device::cpu()).to_floats(), slice.to_floats());
  const Tensor half = Tensor::from_floats({4}, {1.f, -2.f, 0.5f, 3.f}, DType::BF16);
  EXPECT_EQ(half.to(Device::cuda()).to_floats(), half.to_floats());
}

TEST_F(CudaRuntime, DeviceZerosAndCopiesBetweenDeviceTensors) {
  Tensor z = Tensor::zeros({1000}, DType::F32, Device::cuda());
  EXPECT_EQ(z.to_floats(), std::vector<float>(1000, 0.f));
  const Tensor src = Tensor::full({1000}, 2.5, DType::F32, Device::cuda());
  z.copy_from(src);
  EXPECT_EQ(z.to_floats(), std::vector<float>(1000, 2.5f));
}

// Batch uploads through the pinned ring on the copy stream: each arrives intact although its
// host source is overwritten at once, more uploads than ring slots (and growing sizes) reuse the
// slots, each counts as one host-to-device copy, and a CPU "upload" is the tensor itself.
TEST_F(CudaRuntime, UploadsStageThroughPinnedBuffersOnTheCopyStream) {
  reset_device_copy_stats();
  std::vector<PendingUpload> pending;
  std::vector<std::vector<float>> expected;
  for (int i = 0; i < 40; ++i) {
    const int64_t n = 1 + 97 * i;
    Tensor host = Tensor::from_floats({n}, testing::to_floats(testing::random_values<float>(n, -1, 1, 10 + i)));
    expected.push_back(host.to_floats());
    pending.push_back(upload(host, Device::cuda()));
    host.fill_(-7.0);  // the source is reusable as soon as upload() returns
  }
  EXPECT_EQ(device_copy_stats().host_to_device, 40);
  for (int i = 0; i < 40; ++i) {
    const Tensor d = std::move(pending[static_cast<size_t>(i)]).ready();
    ASSERT_TRUE(d.device().is_cuda());
    EXPECT_EQ(d.to_floats(), expected[static_cast<size_t>(i)]) << "upload " << i;
  }
  // A strided host view is made contiguous first; an empty tensor copies nothing.
  const Tensor grid = Tensor::from_floats({3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  EXPECT_EQ(upload(grid.slice(1, 1, 3), Device::cuda()).ready().to_floats(),
            (std::vector<float>{1, 2, 5, 6, 9, 10}));
  EXPECT_EQ(upload(Tensor::empty({0, 3}, DType::F32), Device::cuda()).ready().numel(), 0);
  const Tensor on_host = Tensor::from_floats({2}, {1.f, 2.f});
  EXPECT_EQ(upload(on_host, Device::cpu()).ready().raw(), on_host.raw());
}

// The runtime, counting the uploads the compute stream was told to wait for.
class WaitCountingRuntime final : public DeviceRuntime {
 public:
  Allocator& allocator() override { return runtime().allocator(); }
  void copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) override {
    runtime().copy(dst, dst_device, src, src_device, bytes);
  }
  void fill_zero(void* ptr, size_t bytes) override { runtime().fill_zero(ptr, bytes); }
  uint64_t upload_async(void* dst, const void* host_src, size_t bytes) override {
    return runtime().upload_async(dst, host_src, bytes);
  }
  void wait_upload(uint64_t ticket) override {
    waited.push_back(ticket);
    runtime().wait_upload(ticket);
  }
  std::vector<uint64_t> waited;
};

// An upload dropped unread (the training loop's prefetched batch when a run stops) still makes
// the kernels wait for its copy before its device memory goes back to the allocator, which hands
// it to the next kernels; an upload waits once, whoever ends up holding it.
TEST_F(CudaRuntime, AnUploadDroppedUnreadStillOrdersTheKernelsAfterItsCopy) {
  WaitCountingRuntime counting;
  register_cuda_runtime(&counting);
  struct PutBack {
    ~PutBack() { register_runtime(); }
  } put_back;  // the real runtime again, however the test ends
  const Tensor host = Tensor::from_floats({3}, {1.f, 2.f, 3.f});
  { const PendingUpload dropped = upload(host, Device::cuda()); }
  EXPECT_EQ(counting.waited.size(), 1u) << "dropped unread";
  {
    PendingUpload first = upload(host, Device::cuda());
    PendingUpload moved = std::move(first);
    EXPECT_EQ(std::move(moved).ready().to_floats(), host.to_floats());
  }
  EXPECT_EQ(counting.waited.size(), 2u) << "read once, after a move";
  {
    PendingUpload a = upload(host, Device::cuda()), b = upload(host, Device::cuda());
    a = std::move(b);  // a's own upload is dropped here
    EXPECT_EQ(counting.waited.size(), 3u);
  }
  EXPECT_EQ(counting.waited.size(), 4u) << "and b's, held by a, when a goes";
  { const PendingUpload on_host = upload(host, Device::cpu()); }
  EXPECT_EQ(counting.waited.size(), 4u) << "a CPU upload has nothing to wait for";
}

// The device memory of a tensor runs the kernels: CPU -> CUDA tensor -> kernel -> CPU.
TEST_F(CudaRuntime, KernelsRunOnTensorStorage) {
  const Tensor x = Tensor::from_floats({4}, {-1.f, 2.f, -3.f, 7.f}).to(Device::cuda());
  Tensor y = Tensor::empty({4}, DType::F32, Device::cuda());
  activation_forward<float>(Activation::Relu6, x.data<float>(), y.data<float>(), 4, nullptr);
  EXPECT_EQ(y.to_floats(), (std::vector<float>{0.f, 2.f, 0.f, 6.f}));
}

TEST_F(CudaRuntime, FreedBlocksAreReusedBySizeClass) {
  release_cached_device_memory();
  void* first;
  {
    const Tensor t = Tensor::empty({1000, 1000}, DType::F32, Device::cuda());
    first = t.raw();
    EXPECT_GE(device_allocator_stats().in_use, size_t{4000000});
  }
  EXPECT_GE(device_allocator_stats().cached, size_t{4000000});
  const Tensor again = Tensor::empty({999, 1001}, DType::F32, Device::cuda());  // same size class
  EXPECT_EQ(again.raw(), first);
  EXPECT_EQ(device_allocator_stats().cached, size_t{0});
}

TEST_F(CudaRuntime, OutOfMemoryReleasesTheCacheThenReportsClearly) {
  release_cached_device_memory();
  const size_t in_use = device_allocator_stats().in_use;
  cudaemu::set_device_memory_capacity(in_use + (size_t{3} << 20));
  { const Tensor cached = Tensor::empty({int64_t{2} << 20}, DType::U8, Device::cuda()); }
  ASSERT_GE(device_allocator_stats().cached, size_t{2} << 20);
  // 2 MiB cached + 2.5 MiB new > 3 MiB: only fits after the cache is returned.
  const Tensor fits = Tensor::empty({(int64_t{5} << 20) / 2}, DType::U8, Device::cuda());
  EXPECT_EQ(device_allocator_stats().cached, size_t{0});
  try {
    Tensor::empty({int64_t{4} << 20}, DType::U8, Device::cuda());
    FAIL() << "a 4 MiB allocation fit into 3 MiB";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("out of GPU memory: cannot allocate 4 MiB"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("reduce the batch size"));
  }
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "the failed cudaMalloc must not linger as the last error";
}

TEST_F(CudaRuntime, CheckMacroNamesTheCallTheErrorAndTheLine) {
  float host[4] = {};
  void* device = nullptr;
  ASSERT_EQ(cudaMalloc(&device, sizeof(host)), cudaSuccess);
  try {
    // Wrong direction: the destination is host memory.
    TRAINER_CUDA_CHECK(cudaMemcpy(host, device, sizeof(host), cudaMemcpyHostToDevice));
    FAIL() << "a host-to-device copy into host memory succeeded";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("cudaErrorInvalidValue"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("cudaMemcpy(host, device"));
    EXPECT_THAT(e.what(), ::testing::MatchesRegex(".*runtime_test.cpp:[0-9]+.*"));
  }
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(cudaFree(device), cudaSuccess);
}

TEST_F(CudaRuntime, StandInsEnforceTheRuntimeRules) {
  char* device = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&device), 1000), cudaSuccess);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(device) % 256, 0u);
  std::vector<char> host(1000, 7);
  EXPECT_EQ(cudaMemcpy(device + 500, host.data(), 500, cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(device + 501, host.data(), 500, cudaMemcpyHostToDevice), cudaErrorInvalidValue)
      << "a copy past the end of the allocation";
  EXPECT_EQ(cudaMemcpy(host.data(), device, 1000, cudaMemcpyDeviceToDevice), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemset(host.data(), 0, 10), cudaErrorInvalidValue);
  EXPECT_EQ(cudaFree(device + 8), cudaErrorInvalidValue) << "freeing an interior pointer";
  EXPECT_EQ(cudaFreeHost(device), cudaErrorInvalidValue) << "device memory freed as pinned memory";
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);

  cudaStream_t stream;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  EXPECT_EQ(cudaMemsetAsync(device, 1, 1000, stream), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(stream), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(stream), cudaErrorInvalidResourceHandle);
  EXPECT_EQ(cudaMemcpyAsync(device, host.data(), 10, cudaMemcpyHostToDevice, stream), cudaErrorInvalidResourceHandle);
  // A wrapper launching on a dead stream throws instead of running.
  EXPECT_THROW(activation_forward<float>(Activation::Relu, reinterpret_cast<float*>(device),
                                         reinterpret_cast<float*>(device), 250, stream),
               Error);

  void* pinned = nullptr;
  ASSERT_EQ(cudaMallocHost(&pinned, 1000), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(pinned, device, 1000, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(static_cast<char*>(pinned)[999], 1);
  EXPECT_EQ(cudaFreeHost(pinned), cudaSuccess);
  EXPECT_EQ(cudaFree(device), cudaSuccess);
  EXPECT_EQ(cudaFree(device), cudaErrorInvalidValue) << "double free";
}

}  // namespace
}  // namespace trainer::cuda
