#include "trainer/core/device_upload.h"

#include "trainer/core/allocator.h"
#include "trainer/core/error.h"

namespace trainer {

Tensor PendingUpload::ready() && {
  if (ticket_ != 0) cuda_runtime().wait_upload(ticket_);
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
