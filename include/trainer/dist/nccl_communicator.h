// Data parallelism between GPUs (src/dist/README.md): NCCL moves the CUDA tensors, on a stream
// of its own ordered after the compute stream by events; everything else (host values, strings,
// CPU tensors) goes through the MPI communicator NCCL was started from. Built where the CUDA
// kernels are: against libnccl in a CUDA build, against a stand-in over MPI where the kernels
// are emulated (nccl_over_mpi.cpp), so the tests run this file's stream and bucket code.
#pragma once

#include <memory>

#include "trainer/dist/communicator.h"

namespace trainer::dist {

// Starts NCCL on this process's current CUDA device (select it first): rank 0 makes the NCCL
// unique id and `host` broadcasts it. Collective: every rank calls it.
std::shared_ptr<Communicator> nccl_communicator(std::shared_ptr<Communicator> host);

}  // namespace trainer::dist
