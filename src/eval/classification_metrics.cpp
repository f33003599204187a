#include "trainer/eval/classification_metrics.h"

#include "trainer/core/error.h"

namespace trainer::eval {

void TopKAccuracy::add(const Tensor& logits_in, const Tensor& labels_in) {
  TRAINER_CHECK(logits_in.rank() == 2 && labels_in.rank() == 1 && logits_in.dim(0) == labels_in.dim(0),
                "top-k accuracy: logits ", logits_in.describe(), " and labels ", labels_in.describe());
  // Widened to f32 whatever the network computed in.
  const std::vector<float> widened = logits_in.to_floats();
  const Tensor labels = labels_in.contiguous();
  const float* z = widened.data();
  const int32_t* y = labels.data<int32_t>();
  const int64_t n = logits_in.dim(0), k = logits_in.dim(1);
  for (int64_t i = 0; i < n; ++i) {
    TRAINER_CHECK(y[i] >= 0 && y[i] < k, "top-k accuracy: label ", y[i], " outside [0, ", k, ")");
    const float target = z[i * k + y[i]];
    int64_t higher = 0;
    for (int64_t j = 0; j < k; ++j) higher += z[i * k + j] > target;
    top1_ += higher < 1;
    top5_ += higher < 5;
  }
  count_ += n;
}

}  // namespace trainer::eval
