// The CPU side of the elementwise scheme (src/README.md, decision 6): one per-element body,
// run by an OpenMP loop here and by a grid-stride kernel on the GPU. Small loops stay on the
// calling thread, where waking the pool would cost more than the work.
#pragma once

#include <cstdint>

namespace trainer::cpu {

constexpr int64_t kPointwiseGrain = 1 << 15;

// f(i) for i in [0, n). For the loop to vectorise, f captures its pointers by value ([=]) and
// reads and writes 16-bit elements with load_f32 / store_f32 (core/half.h): GCC reloads
// by-reference captures on every element and does not vectorise copies of the 16-bit structs.
template <class F>
void pointwise_for(int64_t n, const F& f) {
  if (n < kPointwiseGrain) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) f(i);
}

}  // namespace trainer::cpu
