// 16-byte vector access for bandwidth-bound kernels: a thread moves V = 16 / sizeof(element)
// consecutive elements with one load or store instruction (LDG.128 / STG.128 on a GPU), the
// width at which an H100 reaches its HBM bandwidth with the fewest memory instructions. Host
// wrappers pick V when the pointers are 16-byte aligned and the contiguous extent is a multiple
// of V, and fall back to V = 1 otherwise (with_vector_width).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "cuda_compat.h"
#include "elementwise.cuh"

namespace trainer::cuda {

constexpr int kVectorBytes = 16;

// V elements of D as one aligned unit.
template <class D, int V>
struct alignas(sizeof(D) * V) Vec {
  D v[V];
};

template <class D, int V>
__device__ inline Vec<D, V> load_vec(const D* p) {
  return *reinterpret_cast<const Vec<D, V>*>(p);
}
template <class D, int V>
__device__ inline void store_vec(D* p, const Vec<D, V>& x) {
  *reinterpret_cast<Vec<D, V>*>(p) = x;
}

// V elements widened to float, and back (rounding each once).
template <class D, int V>
__device__ inline void load_floats(const D* p, float (&out)[V]) {
  const Vec<D, V> x = load_vec<D, V>(p);
#pragma unroll
  for (int k = 0; k < V; ++k) out[k] = to_float(x.v[k]);
}
template <class D, int V>
__device__ inline void store_floats(D* p, const float (&in)[V]) {
  Vec<D, V> x;
#pragma unroll
  for (int k = 0; k < V; ++k) x.v[k] = from_float<D>(in[k]);
  store_vec<D, V>(p, x);
}

// The widest vector of T's that fits kVectorBytes.
template <class T>
constexpr int max_vector_width() {
  return static_cast<int>(kVectorBytes / sizeof(T) > 0 ? kVectorBytes / sizeof(T) : 1);
}

inline bool is_aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// True when every pointer is aligned for a vector of `width` T's and every extent (element
// counts between vector starts: row lengths, offsets) is a multiple of `width`.
template <class T>
bool vectorizable(int width, std::initializer_list<const void*> pointers, std::initializer_list<int64_t> extents) {
  for (const void* p : pointers)
    if (p && !is_aligned(p, sizeof(T) * width)) return false;
  for (int64_t e : extents)
    if (e % width != 0) return false;
  return true;
}

// Calls f(std::integral_constant<int, V>{}) with V = max_vector_width<T>() when `vector_ok`,
// else with V = 1.
template <class T, class F>
void with_vector_width(bool vector_ok, F&& f) {
  constexpr int kWide = max_vector_width<T>();
  if (vector_ok) f(std::integral_constant<int, kWide>{});
  else f(std::integral_constant<int, 1>{});
}

// Blocks for a grid-stride kernel over `items` work items of `threads` threads each: one item
// per thread up to kElementwiseMaxBlocks blocks (enough resident threads to fill an H100's 132
// SMs), beyond which threads loop.
inline unsigned grid_stride_blocks(int64_t items, int threads) {
  const int64_t blocks = (items + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks < kElementwiseMaxBlocks ? blocks : kElementwiseMaxBlocks));
}

}  // namespace trainer::cuda
