// Unscale + finite check (+ squared norm) in one pass. Design and costs:
// include/trainer/kernels/cuda/loss_scale.h.
#include "trainer/kernels/cuda/loss_scale.h"

#include "flat_reduce.cuh"
#include "trainer/core/error.h"
#include "vector_access.cuh"

namespace trainer::cuda {
namespace {

struct UnscaleAcc {
  double squares;
  int nonfinite;
  __device__ static UnscaleAcc identity() { return {0.0, 0}; }
  __device__ static UnscaleAcc merge(UnscaleAcc a, UnscaleAcc b) {
    return {a.squares + b.squares, a.nonfinite | b.nonfinite};
  }
  __device__ static UnscaleAcc shfl_xor(UnscaleAcc v, int lane_mask) {
    return {__shfl_xor_sync(0xffffffffu, v.squares, lane_mask), __shfl_xor_sync(0xffffffffu, v.nonfinite, lane_mask)};
  }
};

template <int V>
struct UnscaleOp {
  using Acc = UnscaleAcc;
  float* grads;
  int64_t n;
  float inv_scale;
  bool write, norm;
  int32_t* all_finite;
  double* squared_norm;

  __device__ void one(float& v, Acc& acc) const {
    if (write) v *= inv_scale;
    acc.nonfinite |= (__float_as_int(v) & 0x7f800000) == 0x7f800000;
    if (norm) {
      const double d = v;
      acc.squares += d * d;
    }
  }
  __device__ void add(int64_t item, Acc& acc) const {
    const int64_t first = item * V;
    if (first + V <= n) {
      Vec<float, V> x = load_vec<float, V>(grads + first);
#pragma unroll
      for (int k = 0; k < V; ++k) one(x.v[k], acc);
      if (write) store_vec<float, V>(grads + first, x);
    } else {
      for (int64_t i = first; i < n; ++i) {
        float v = grads[i];
        one(v, acc);
        if (write) grads[i] = v;
      }
    }
  }
  __device__ void finish(Acc total) const {
    *all_finite = total.nonfinite ? 0 : 1;
    if (squared_norm) *squared_norm = total.squares;
  }
};

}  // namespace

void unscale_and_check_finite(float* grads, int64_t n, float inv_scale, int32_t* all_finite, double* squared_norm,
                              Stream stream) {
  TRAINER_CHECK(n >= 0 && all_finite, "unscale_and_check_finite: bad arguments (", n, " elements)");
  with_vector_width<float>(is_aligned(grads, kVectorBytes), [&](auto width) {
    constexpr int V = decltype(width)::value;
    flat_reduce(UnscaleOp<V>{grads, n, inv_scale, inv_scale != 1.f, squared_norm != nullptr, all_finite, squared_norm},
                (n + V - 1) / V, stream);
  });
}

}  // namespace trainer::cuda
