// Who this process is among the processes of a data-parallel run, and the collectives the
// training loop needs (src/dist/README.md). A run started alone is one process whose
// collectives do nothing; under mpirun (or srun) it is one rank of an MPI job.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "trainer/core/tensor.h"

namespace trainer::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // The rank among the processes on this machine (which GPU to take).
  virtual int local_rank() const = 0;
  // "MPI (OpenMPI 4.1.4), rank 0 of 2" or "single process", for logs.
  virtual std::string describe() const = 0;

  // In place, on every rank: the element-wise mean over ranks of a contiguous f32 tensor (on
  // any device: a CUDA tensor travels through an explicit host copy).
  virtual void allreduce_mean(Tensor& t) = 0;
  // Starts allreduce_mean(t) and returns; the reductions started complete in the order started,
  // all of them by wait_reductions(), which rethrows the first failure. Every rank starts the
  // same reductions in the same order, and nothing touches `t` until wait_reductions() returns;
  // no other collective may be called in between. Under MPI the reductions run on a thread of
  // their own, so they overlap whatever this thread does meanwhile (the backward pass).
  virtual void start_allreduce_mean(Tensor& t) { allreduce_mean(t); }
  virtual void wait_reductions() {}
  // In place, on every rank: rank `root`'s values.
  virtual void broadcast(Tensor& t, int root) = 0;
  // The sum over ranks of one value (a loss, a count), on every rank.
  virtual double allreduce_sum(double value) = 0;
  // Each rank's value of a string, in rank order (start-up checks that all ranks agree).
  virtual std::vector<std::string> allgather(const std::string& value) = 0;

  // The watchdog: a collective that waits longer than `seconds` for the other ranks (one died or
  // hangs) stops this process with a message naming its rank, the collective and the step;
  // the launcher then ends the job. 0: wait forever. One process: nothing to wait for.
  virtual void set_timeout(double seconds) = 0;
  // The training step now running, for that message.
  virtual void set_step(int64_t step) = 0;

  bool is_root() const { return rank() == 0; }
};

// The communicator of this process: MPI when the launcher says there is more than one rank
// (OpenMPI's OMPI_COMM_WORLD_SIZE, MPICH's PMI_SIZE, SLURM's SLURM_NTASKS with SLURM_PROCID),
// else a single process. An Error when several ranks are announced but this build has no MPI.
std::shared_ptr<Communicator> make_communicator();

// This process's rank as the launcher announced it (0 when started alone), readable before MPI
// starts: the JSON log is opened by rank 0 only.
int launcher_rank();

// The single-process communicator (tests, tools).
std::shared_ptr<Communicator> single_process();

}  // namespace trainer::dist
