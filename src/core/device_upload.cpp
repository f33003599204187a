#include "trainer/core/device_upload.h"

#include <utility>

#include "trainer/core/allocator.h"
#include "trainer/core/error.h"
#include "trainer/core/log.h"

namespace trainer {

PendingUpload::PendingUpload(PendingUpload&& other) noexcept
    : tensor_(std::move(other.tensor_)), ticket_(std::exchange(other.ticket_, 0)) {}

PendingUpload& PendingUpload::operator=(PendingUpload&& other) noexcept {
  if (this != &other) {
    PendingUpload dropped(std::move(*this));  // waits for this one's copy, if any
    tensor_ = std::move(other.tensor_);
    ticket_ = std::exchange(other.ticket_, 0);
  }
  return *this;
}

// The caching allocator hands freed device memory to the next kernels in compute-stream order
// (kernels/cuda/runtime.h); a copy still writing it must be ahead of them on that stream.
// A destructor cannot throw: a device error here is reported, and the next CUDA call meets it.
PendingUpload::~PendingUpload() {
  if (ticket_ == 0) return;
  try {
    cuda_runtime().wait_upload(ticket_);
  } catch (const Error& e) {
    log_warn("an unused batch upload could not be waited for: ", e.what());
  }
}

Tensor PendingUpload::ready() && {
  if (ticket_ != 0) cuda_runtime().wait_upload(std::exchange(ticket_, 0));
  return std::move(tensor_);
}

PendingUpload upload(const Tensor& host, Device device) {
  if (device == host.device()) return {host, 0};
  TRAINER_CHECK(host.device().is_cpu() && !device.is_cpu(), "upload: ", host.describe(), " to ", device.name(),
                " is not a host-to-device copy");
  const Tensor src = host.contiguous();
  Tensor dst = Tensor::empty(src.shape(), src.dtype(), device);
  if (src.nbytes() == 0) return {dst, 0};
  count_device_copy(device, src.device(), src.nbytes());
  const uint64_t ticket = cuda_runtime().upload_async(dst.raw(), src.raw(), src.nbytes());
  return {std::move(dst), ticket};
}

}  // namespace trainer
