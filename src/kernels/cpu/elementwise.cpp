#include "trainer/kernels/cpu/elementwise.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "trainer/core/error.h"
#include "trainer/core/parallel.h"
#include "trainer/kernels/cpu/pointwise.h"

namespace trainer::cpu {

template <class T>
void binary_forward(BinaryOp op, const Broadcast& bc, const T* a, const T* b, T* y) {
  const int64_t rows = bc.outer * bc.mid, inner = bc.inner;
  // Element loops capture by value and go through load_f32/store_f32 (core/half.h): both are
  // what lets GCC vectorise them (kernels/cpu/pointwise.h).
  auto run = [&](auto f) {
    if (bc.mid == 1) {  // same shape: one flat loop
      pointwise_for(bc.size(), [=](int64_t i) { store_f32(y, i, f(load_f32(a, i), load_f32(b, i))); });
      return;
    }
#pragma omp parallel for schedule(static) if (bc.size() >= kPointwiseGrain)
    for (int64_t r = 0; r < rows; ++r) {
      const T* ar = a + r * inner;
      const T* br = b + (r / bc.mid) * inner;
      T* yr = y + r * inner;
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) store_f32(yr, i, f(load_f32(ar, i), load_f32(br, i)));
    }
  };
  switch (op) {
    case BinaryOp::Add: run([](float u, float v) { return u + v; }); return;
    case BinaryOp::Sub: run([](float u, float v) { return u - v; }); return;
    case BinaryOp::Mul: run([](float u, float v) { return u * v; }); return;
    case BinaryOp::AddRelu: run([](float u, float v) { return std::max(u + v, 0.f); }); return;
  }
  TRAINER_ASSERT(false);
}

template <class T>
void broadcast_reduce(const Broadcast& bc, const T* dy, const T* a, T* db) {
  // Rows of `inner` contiguous values are accumulated into double vectors (a vectorised pass over
  // each row), over fixed chunks of the mid axis that the threads share; the chunks' partial sums
  // are then added in chunk order, so the result does not depend on the thread count. (A column
  // at a time would stride through memory and leave the per-channel case, outer = 1, on one thread.)
  constexpr int64_t kRowsPerChunk = 512;
  const int64_t inner = bc.inner, mid = bc.mid, outer = bc.outer;
  const int64_t chunks = (mid + kRowsPerChunk - 1) / kRowsPerChunk;
  std::vector<double> partial(static_cast<size_t>(outer * chunks * inner), 0.0);
  double* sums = partial.data();
#pragma omp parallel for schedule(static) if (bc.size() >= kPointwiseGrain)
  for (int64_t t = 0; t < outer * chunks; ++t) {
    const int64_t o = t / chunks, begin = (t % chunks) * kRowsPerChunk, end = std::min(mid, begin + kRowsPerChunk);
    double* acc = sums + t * inner;
    for (int64_t m = begin; m < end; ++m) {
      const int64_t row = (o * mid + m) * inner;
      const T* d = dy + row;
      if (a) {
        const T* v = a + row;
#pragma omp simd
        for (int64_t i = 0; i < inner; ++i) acc[i] += double(load_f32(d, i)) * double(load_f32(v, i));
      } else {
#pragma omp simd
        for (int64_t i = 0; i < inner; ++i) acc[i] += double(load_f32(d, i));
      }
    }
  }
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      double total = 0;
      for (int64_t c = 0; c < chunks; ++c) total += sums[(o * chunks + c) * inner + i];
      store_f32(db, o * inner + i, static_cast<float>(total));
    }
}

template <class T>
void scale(const T* x, float alpha, T* y, int64_t n, bool accumulate) {
  if (accumulate) pointwise_for(n, [=](int64_t i) { store_f32(y, i, load_f32(y, i) + alpha * load_f32(x, i)); });
  else pointwise_for(n, [=](int64_t i) { store_f32(y, i, alpha * load_f32(x, i)); });
}

void cast(const void* x, DType from, void* y, DType to, int64_t n) {
  auto float_source = [&](auto tag, auto store) {
    using S = decltype(tag);
    const S* xs = static_cast<const S*>(x);
    store([=](int64_t i) { return load_f32(xs, i); });
  };
  auto with_source = [&](auto store) {
    switch (from) {
      case DType::F32: float_source(float{}, store); return;
      case DType::BF16: float_source(bfloat16{}, store); return;
      case DType::F16: float_source(float16{}, store); return;
      default: fail("cast from ", dtype_name(from), " is not supported");
    }
  };
  auto store_as = [&](auto tag) {
    using D = decltype(tag);
    D* yd = static_cast<D*>(y);
    with_source([=](auto load) { pointwise_for(n, [=](int64_t i) { store_f32(yd, i, load(i)); }); });
  };
  switch (to) {
    case DType::F32: store_as(float{}); return;
    case DType::BF16: store_as(bfloat16{}); return;
    case DType::F16: store_as(float16{}); return;
    default: fail("cast to ", dtype_name(to), " is not supported");
  }
}

template <class T>
double sum(const T* x, int64_t n) {
  return deterministic_sum(n, kPointwiseGrain, [x](int64_t i) { return double(float(x[i])); });
}

bool all_finite(const float* x, int64_t n) {
  int bad = 0;
#pragma omp parallel for reduction(| : bad) schedule(static) if (n >= kPointwiseGrain)
  for (int64_t i = 0; i < n; ++i) bad |= !std::isfinite(x[i]);
  return !bad;
}

#define TRAINER_INSTANTIATE(T)                                                              \
  template void binary_forward<T>(BinaryOp, const Broadcast&, const T*, const T*, T*);      \
  template void broadcast_reduce<T>(const Broadcast&, const T*, const T*, T*);              \
  template void scale<T>(const T*, float, T*, int64_t, bool);                               \
  template double sum<T>(const T*, int64_t);
TRAINER_INSTANTIATE(float)
TRAINER_INSTANTIATE(bfloat16)
#undef TRAINER_INSTANTIATE

}  // namespace trainer::cpu
