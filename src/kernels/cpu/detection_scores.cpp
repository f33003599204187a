#include "trainer/kernels/cpu/detection_scores.h"

#include <cmath>

#include "trainer/core/half.h"
#include "trainer/core/parallel.h"

namespace trainer::cpu {

template <class T>
void detection_scores(const T* logits, const DetectionScoresShape& s, float* scores) {
  const int64_t k = s.classes();
  // One (image, anchor) row of logits per item: read contiguously, written with a stride of
  // `anchors` (each class's column).
  parallel_for(s.images * s.anchors, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t image = row / s.anchors, anchor = row - image * s.anchors;
      const T* z = logits + row * s.slots + s.background;
      float* column = scores + image * k * s.anchors + anchor;
      for (int64_t j = 0; j < k; ++j)
        column[j * s.anchors] = 1.f / (1.f + std::exp(-(static_cast<float>(z[j]) / s.logit_scale)));
    }
  });
}

template void detection_scores<float>(const float*, const DetectionScoresShape&, float*);
template void detection_scores<bfloat16>(const bfloat16*, const DetectionScoresShape&, float*);

}  // namespace trainer::cpu
