// The NCCL functions nccl_communicator.cpp calls, over MPI, for builds whose CUDA kernels run on
// the emulator (src/dist/README.md): "device" memory is host memory there and every stream runs
// its work when it is queued, so each call is the MPI collective, done at once. It lets the
// tests run the NCCL communicator's own code (unique id, stream and event ordering, buckets)
// under mpirun without a GPU. Only what trainer uses: f32 sum/avg allreduce, byte broadcasts.
#include <mpi.h>
#include <nccl.h>

#include <cstring>

struct ncclComm {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0, size = 1;
};

namespace {

constexpr char kMagic[] = "trainer nccl over mpi";

size_t element_bytes(ncclDataType_t type) {
  switch (type) {
    case ncclInt8: case ncclUint8: return 1;
    case ncclFloat16: case ncclBfloat16: return 2;
    case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
    case ncclInt64: case ncclUint64: case ncclFloat64: return 8;
    default: return 0;
  }
}

}  // namespace

extern "C" {

ncclResult_t ncclGetVersion(int* version) {
  if (!version) return ncclInvalidArgument;
  *version = NCCL_VERSION_CODE;
  return ncclSuccess;
}

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  if (!id) return ncclInvalidArgument;
  std::memset(id, 0, sizeof *id);
  std::memcpy(id->internal, kMagic, sizeof kMagic);
  return ncclSuccess;
}

// The ranks of MPI_COMM_WORLD: the id must have come from rank 0's ncclGetUniqueId (broadcast),
// and nranks / rank must be this process's MPI ones, as they are in trainer. One process
// started without mpirun (MPI not initialised) is a communicator of one, as with NCCL.
ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank) {
  if (!comm || std::memcmp(id.internal, kMagic, sizeof kMagic) != 0) return ncclInvalidArgument;
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    if (nranks != 1 || rank != 0) return ncclInvalidArgument;
    *comm = new ncclComm;
    return ncclSuccess;
  }
  auto* c = new ncclComm;
  MPI_Comm_dup(MPI_COMM_WORLD, &c->comm);
  MPI_Comm_rank(c->comm, &c->rank);
  MPI_Comm_size(c->comm, &c->size);
  if (c->rank != rank || c->size != nranks) {
    MPI_Comm_free(&c->comm);
    delete c;
    return ncclInvalidArgument;
  }
  *comm = c;
  return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (!comm) return ncclInvalidArgument;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm->comm != MPI_COMM_NULL) MPI_Comm_free(&comm->comm);
  delete comm;
  return ncclSuccess;
}

ncclResult_t ncclCommAbort(ncclComm_t comm) { return ncclCommDestroy(comm); }

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* error) {
  if (!comm || !error) return ncclInvalidArgument;
  *error = ncclSuccess;
  return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t) {
  if (!comm || type != ncclFloat32 || (op != ncclSum && op != ncclAvg)) return ncclInvalidArgument;
  if (comm->comm == MPI_COMM_NULL) {
    if (send != recv) std::memcpy(recv, send, count * sizeof(float));
    return ncclSuccess;
  }
  const void* from = send == recv ? MPI_IN_PLACE : send;
  if (MPI_Allreduce(from, recv, static_cast<int>(count), MPI_FLOAT, MPI_SUM, comm->comm) != MPI_SUCCESS)
    return ncclSystemError;
  if (op == ncclAvg) {
    float* values = static_cast<float*>(recv);
    const float inverse = 1.f / static_cast<float>(comm->size);
    for (size_t i = 0; i < count; ++i) values[i] *= inverse;
  }
  return ncclSuccess;
}

ncclResult_t ncclBroadcast(const void* send, void* recv, size_t count, ncclDataType_t type, int root, ncclComm_t comm,
                           cudaStream_t) {
  const size_t bytes = count * element_bytes(type);
  if (!comm || bytes == 0) return count == 0 ? ncclSuccess : ncclInvalidArgument;
  if (comm->rank == root && send != recv) std::memcpy(recv, send, bytes);
  if (comm->comm == MPI_COMM_NULL) return ncclSuccess;
  return MPI_Bcast(recv, static_cast<int>(bytes), MPI_BYTE, root, comm->comm) == MPI_SUCCESS ? ncclSuccess
                                                                                             : ncclSystemError;
}

const char* ncclGetErrorString(ncclResult_t result) {
  switch (result) {
    case ncclSuccess: return "no error";
    case ncclInvalidArgument: return "invalid argument (the stand-in over MPI supports f32 sum/avg and broadcasts)";
    case ncclSystemError: return "MPI call failed";
    default: return "unhandled error";
  }
}

}  // extern "C"
