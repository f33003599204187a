// Data parallelism's gradient averaging, overlapped with the backward pass (src/train/README.md):
// the flat gradient buffer is cut into buckets of about `bucket_bytes`, in reverse registration
// order (the last layers' gradients are final first), and each bucket's mean over the ranks is
// started the moment the tape says its last gradient is final, while backward goes on. Buckets
// start in their fixed order on every rank, whatever order their gradients finish in, so every
// rank issues the same collectives in the same order.
#pragma once

#include <vector>

#include "trainer/dist/communicator.h"
#include "trainer/nn/parameters.h"
#include "trainer/ops/tape.h"

namespace trainer::train {

class GradientReducer {
 public:
  struct Bucket {
    int64_t begin = 0, end = 0;  // elements of the flat gradient buffer
    int parameters = 0;
  };

  // bucket_bytes <= 0: one bucket for the whole buffer.
  GradientReducer(nn::ParameterStore& store, dist::Communicator& communicator, int64_t bucket_bytes);

  // Before backward (after store.track(tape)): start each bucket as its gradients become final.
  void attach(Tape& tape);
  // After backward: start what is left and wait until every bucket holds the mean.
  void finish();

  const std::vector<Bucket>& buckets() const { return buckets_; }
  // Of the last step's buckets, how many were started while the tape still had closures to run.
  int started_during_backward() const { return started_during_backward_; }

 private:
  void on_final(int64_t grad_id);
  void start_ready();

  nn::ParameterStore& store_;
  dist::Communicator& communicator_;
  std::vector<Bucket> buckets_;
  std::vector<int> bucket_of_parameter_;
  std::vector<int> bucket_of_grad_id_;  // -1: a leaf that is no parameter of the store
  std::vector<int> pending_;            // per bucket: parameters whose gradient is not final yet
  size_t next_ = 0;                     // the next bucket to start
  int started_during_backward_ = 0;
  const Tape* tape_ = nullptr;
};

}  // namespace trainer::train
