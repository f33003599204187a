// Top-k accuracy over a stream of logits, the classification metrics of eval mode.
#pragma once

#include <cstdint>

#include "trainer/core/tensor.h"

namespace trainer::eval {

class TopKAccuracy {
 public:
  // logits: [N, K] F32; labels: [N] I32. A label counts as correct at k when fewer than k
  // classes score strictly higher (ties resolve in the label's favour, as tf.nn.in_top_k does).
  void add(const Tensor& logits, const Tensor& labels);

  // What it counted, and counts from elsewhere (other ranks' shards) added in.
  struct Counts {
    int64_t images = 0, top1 = 0, top5 = 0;
  };
  Counts counts() const { return {count_, top1_, top5_}; }
  void add(const Counts& c) { count_ += c.images, top1_ += c.top1, top5_ += c.top5; }

  int64_t count() const { return count_; }
  double top1() const { return count_ ? static_cast<double>(top1_) / count_ : 0.0; }
  double top5() const { return count_ ? static_cast<double>(top5_) / count_ : 0.0; }

 private:
  int64_t count_ = 0, top1_ = 0, top5_ = 0;
};

}  // namespace trainer::eval
