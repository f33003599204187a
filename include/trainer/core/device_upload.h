// Input batches onto the device without stalling it: upload() stages the host bytes in a
// page-locked buffer and copies them on the device runtime's copy stream (events order it after
// the kernels already queued), so the copy overlaps compute and the host goes on at once (e.g.
// to assign detection targets while the forward pass runs). ready() then makes the compute
// stream wait for the copy, not the host. On the CPU, upload() is the host tensor itself.
//
//   PendingUpload targets = upload(host_targets, ctx.device);   // copy starts
//   ... queue other work ...
//   Tensor t = std::move(targets).ready();                      // kernels after this see it
//
// An upload dropped before ready() (the training loop's prefetched batch at the end of a run)
// still makes the compute stream wait for its copy, so its device memory is recycled only
// after the copy has written it. Each upload counts as one host-to-device copy
// (device_copy_stats).
#pragma once

#include <cstdint>

#include "trainer/core/tensor.h"

namespace trainer {

class PendingUpload {
 public:
  PendingUpload(Tensor tensor, uint64_t ticket) : tensor_(std::move(tensor)), ticket_(ticket) {}
  PendingUpload(PendingUpload&& other) noexcept;
  PendingUpload& operator=(PendingUpload&& other) noexcept;
  ~PendingUpload();
  // The device tensor, safe for any work queued from now on.
  Tensor ready() &&;

 private:
  Tensor tensor_;
  uint64_t ticket_;  // 0: nothing to wait for (already on `device`)
};

PendingUpload upload(const Tensor& host, Device device);

}  // namespace trainer
