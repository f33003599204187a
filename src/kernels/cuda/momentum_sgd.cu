// Momentum SGD over segmented flat buffers in one launch. Design and costs:
// include/trainer/kernels/cuda/momentum_sgd.h.
#include "trainer/kernels/cuda/momentum_sgd.h"

#include <algorithm>

#include "trainer/core/error.h"
#include "vector_access.cuh"

namespace trainer::cuda {
namespace {

constexpr int kSgdThreads = 256;
constexpr int64_t kSgdChunk = kSgdThreads * 4 * 8;  // elements per block: 8 float4s per thread

// The CPU loop body of train::MomentumSgd::step, expression for expression.
__device__ inline void sgd_update(float& w, float g, float& a, float wd, float lr, float m, bool nesterov) {
  const float gi = g + wd * w;
  const float ai = m * a + gi;
  a = ai;
  w -= lr * (nesterov ? gi + m * ai : ai);
}

template <int V>
__global__ void __launch_bounds__(kSgdThreads)
    momentum_sgd_kernel(float* __restrict__ w, const float* __restrict__ grad, float* __restrict__ accum,
                        const SgdSegment* __restrict__ segments, int num_segments, int64_t count, float lr,
                        float momentum, bool nesterov) {
  const int64_t c0 = static_cast<int64_t>(blockIdx.x) * kSgdChunk;
  const int64_t c1 = min(c0 + kSgdChunk, count);
  // The first segment that ends after c0 (same search in every thread: broadcast loads).
  int lo = 0, hi = num_segments;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (segments[mid].offset + segments[mid].size <= c0) lo = mid + 1;
    else hi = mid;
  }
  for (int s = lo; s < num_segments; ++s) {
    const SgdSegment seg = segments[s];
    if (seg.offset >= c1) break;
    const int64_t b = max(seg.offset, c0), e = min(seg.offset + seg.size, c1);
    const float wd = seg.weight_decay;
    for (int64_t i0 = (b / V + threadIdx.x) * V; i0 < e; i0 += static_cast<int64_t>(blockDim.x) * V) {
      if (i0 >= b && i0 + V <= e) {
        Vec<float, V> wv = load_vec<float, V>(w + i0), av = load_vec<float, V>(accum + i0);
        const Vec<float, V> gv = load_vec<float, V>(grad + i0);
#pragma unroll
        for (int k = 0; k < V; ++k) sgd_update(wv.v[k], gv.v[k], av.v[k], wd, lr, momentum, nesterov);
        store_vec<float, V>(w + i0, wv);
        store_vec<float, V>(accum + i0, av);
      } else {  // a vector straddling the segment's ends
        for (int64_t i = max(i0, b); i < min(i0 + V, e); ++i)
          sgd_update(w[i], grad[i], accum[i], wd, lr, momentum, nesterov);
      }
    }
  }
}

}  // namespace

void momentum_sgd_step(float* w, const float* grad, float* accum, const SgdSegment* segments, int num_segments,
                       int64_t count, float lr, float momentum, bool nesterov, Stream stream) {
  TRAINER_CHECK(count >= 0 && num_segments >= 0, "momentum_sgd_step: bad arguments (", count, " elements, ",
                num_segments, " segments)");
  if (count == 0 || num_segments == 0) return;
  const int64_t blocks = (count + kSgdChunk - 1) / kSgdChunk;
  TRAINER_CHECK(blocks < (int64_t{1} << 31), "momentum_sgd_step: ", count, " parameters are too many");
  with_vector_width<float>(vectorizable<float>(4, {w, grad, accum}, {}), [&](auto width) {
    TRAINER_CUDA_CHECK(cudaemu::launch(momentum_sgd_kernel<decltype(width)::value>, dim3(static_cast<unsigned>(blocks)),
                                       dim3(kSgdThreads), 0, stream, w, grad, accum, segments, num_segments, count,
                                       lr, momentum, nesterov));
  });
}

}  // namespace trainer::cuda
