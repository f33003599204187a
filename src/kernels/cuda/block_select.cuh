// Block-wide "next best candidates" for NMS (nms.cu): from n implicit candidates, each given a
// unique 64-bit key by a functor, select the `limit` (<= 256) largest keys below a bound and
// sort them in descending order in shared memory. Calling it again with the smallest key of
// the previous call as the bound walks the whole candidate list in descending key order, 256
// at a time, without ever sorting all of it (12,804 anchors per class in SSD320, of which NMS
// usually needs the first few hundred).
//
// How: an MSB-first radix select over the keys' eight bytes. Each pass histograms one byte of
// the keys that share the prefix chosen so far (shared-memory integer atomics), one warp finds
// the byte whose bin holds the limit-th largest key (a shuffle scan over the 256 bins from the
// top), and the pass stops as soon as that whole bin is wanted, usually after one to three
// passes when the keys' high halves are scores. The selected keys are then gathered (order
// arbitrary) and bitonic-sorted in shared memory; keys being unique, the result is the same
// whatever order the gathering happened in.
//
// Keys: 0 means "not a candidate"; any other value is a candidate and must be unique. Scores
// become keys through ordered_bits (higher 32 bits) and a rank whose lower values win ties
// (lower 32 bits).
//
// Block shape: one-dimensional, kSelectThreads threads; every thread must call select_top.
#pragma once

#include <cstdint>

#include "cuda_compat.h"

namespace trainer::cuda::blockselect {

constexpr int kSelectThreads = 256;
constexpr int kSelectTile = 256;  // the most keys one call returns
constexpr unsigned kAllLanes = 0xffffffffu;
using Key = unsigned long long;

// float -> uint32 preserving order (-0 and +0 map to the same value, as they compare equal).
// NaN must not get here (NaN scores are never candidates).
__device__ inline uint32_t ordered_bits(float s) {
  if (s == 0.f) s = 0.f;
  const uint32_t u = static_cast<uint32_t>(__float_as_int(s));
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// A score and a rank (lower rank first among equal scores) as one key; never 0.
__device__ inline Key score_key(float score, uint32_t rank) {
  return (static_cast<Key>(ordered_bits(score)) << 32) | static_cast<Key>(0xffffffffu - rank);
}
__device__ inline uint32_t key_rank(Key k) { return 0xffffffffu - static_cast<uint32_t>(k & 0xffffffffu); }

struct SelectShared {
  Key keys[kSelectTile];  // the result, sorted descending
  int hist[256];
  int count;              // gather position
  int bin, above, bin_count, total;  // the bin search's result
};

// Warp 0: the bin (byte value) holding the want-th largest key, counting from bin 255 down;
// `above` = keys in higher bins; `total` = all counted keys.
__device__ inline void find_bin(SelectShared& s, int want) {
  const int lane = threadIdx.x % 32;
  int local = 0;
  for (int j = 0; j < 8; ++j) local += s.hist[255 - 8 * lane - j];
  int inclusive = local;  // keys in bins 255 .. 255 - 8 lane - 7
  for (int offset = 1; offset < 32; offset *= 2) {
    const int v = __shfl_up_sync(kAllLanes, inclusive, offset);
    if (lane >= offset) inclusive += v;
  }
  const int total = __shfl_sync(kAllLanes, inclusive, 31);
  const unsigned reached = __ballot_sync(kAllLanes, inclusive >= want);
  const int first = reached ? __ffs(static_cast<int>(reached)) - 1 : 31;
  if (lane == first) {
    int above = inclusive - local, bin = 255 - 8 * lane;
    for (int j = 0; j < 7 && above + s.hist[bin] < want; ++j) above += s.hist[bin--];
    s.bin = bin;
    s.above = above;
    s.bin_count = s.hist[bin];
    s.total = total;
  }
}

// Sorts keys[0, p) descending, p a power of two; every thread calls it.
__device__ inline void bitonic_sort_descending(Key* keys, int p) {
  for (int size = 2; size <= p; size *= 2) {
    for (int stride = size / 2; stride > 0; stride /= 2) {
      __syncthreads();
      for (int i = threadIdx.x; i < p; i += blockDim.x) {
        const int j = i ^ stride;
        if (j <= i) continue;
        const Key a = keys[i], b = keys[j];
        const bool descending = (i & size) == 0;
        if (descending ? a < b : b < a) {
          keys[i] = b;
          keys[j] = a;
        }
      }
    }
  }
  __syncthreads();
}

// Selects the min(limit, available) largest candidate keys k < bound among key(0..n-1), sorts
// them descending into s.keys and returns their count. limit in [1, kSelectTile].
template <class KeyFn>
__device__ int select_top(const KeyFn& key, int64_t n, Key bound, int limit, SelectShared& s) {
  const int tid = threadIdx.x;
  Key prefix = 0, mask = 0;
  int want = limit;
  bool take_all = false;
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (int b = tid; b < 256; b += blockDim.x) s.hist[b] = 0;
    __syncthreads();
    for (int64_t i = tid; i < n; i += blockDim.x) {
      const Key k = key(i);
      if (k != 0 && k < bound && (k & mask) == prefix) atomicAdd(&s.hist[(k >> shift) & 0xff], 1);
    }
    __syncthreads();
    if (tid < 32) find_bin(s, want);
    __syncthreads();
    if (shift == 56 && s.total <= limit) {  // no more candidates than wanted: all of them
      take_all = true;
      break;
    }
    prefix |= static_cast<Key>(s.bin) << shift;
    mask |= Key{0xff} << shift;
    want -= s.above;
    if (s.bin_count == want) break;  // the whole bin is wanted: select by prefix
    // (keys are unique, so at the last byte the bin holds exactly the one key wanted)
  }
  if (tid == 0) s.count = 0;
  __syncthreads();
  for (int64_t i = tid; i < n; i += blockDim.x) {
    const Key k = key(i);
    if (k != 0 && k < bound && (take_all || (k & mask) >= prefix)) s.keys[atomicAdd(&s.count, 1)] = k;
  }
  __syncthreads();
  const int count = s.count;
  int p = 1;
  while (p < count) p *= 2;
  for (int i = count + tid; i < p; i += blockDim.x) s.keys[i] = 0;
  bitonic_sort_descending(s.keys, p);
  return count;
}

}  // namespace trainer::cuda::blockselect
