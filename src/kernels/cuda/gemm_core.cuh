// The GEMM machinery of our convolution and matmul kernels (conv2d_native*.cu, matmul_native.cu;
// design and costs: include/trainer/kernels/cuda/conv2d_native.h and matmul_native.h).
//
// C[m, n] = sum_k A[m, k] * B[k, n], where a *problem* says where A's and B's elements live, so
// the same kernel runs a plain matmul, an implicit-GEMM convolution (A is the im2col matrix,
// never materialised: out-of-range taps read as zero) and its two gradients. A problem type P
// provides
//   using Elem = D;                         operand element type (float, __half, __nv_bfloat16)
//   int n_tiles, splits; Output out;        set by run_gemm
//   __device__ Ctx context(int zg) const;   the per-"z group" view (conv: group, phase)
// and its Ctx:
//   static constexpr Major kA, kB;          which dimension is contiguous in memory
//   static constexpr bool kOutAlongM;       the output is contiguous along m (else along n)
//   int m, n, k;                            this z group's extents
//   ASource a; BSource b;                   operand element locators (below)
//   __device__ int64_t out_index(int m, int n) const;  element offset of C[m, n] in the output
//   __device__ int bias_col(int n) const;   bias index of column n
// A source's `Line line(int row)` precomputes what does not change along k for one row (of A:
// m, of B: n; for MN-major operands the first of V consecutive rows), and
// `const D* address(const Line&, int k)` returns where element (row, k) and the V elements after
// it along the contiguous dimension are, or nullptr for a zero (padding, out-of-range rows).
//
// Block tiles: BM x BN outputs per block of 256 threads, BK-deep k steps. Each k step the
// block's threads load A's BM x BK and B's BN x BK tiles from global memory into registers in
// V-element vectors (16 bytes: LDG.128 when V = 16 / sizeof(D), else scalar), store them into
// one of two shared-memory stages in the operand's own contiguity (K-major tiles [rows][BK+pad],
// MN-major [BK][rows+pad]; the pad of 16 bytes breaks bank conflicts and keeps the 32-byte
// alignment WMMA wants), and while the block computes on that stage the next tile's loads are
// already in flight (register double buffering: one __syncthreads per k step).
//   - tensor cores (f16/bf16, and f32 as tf32 when allowed): WMMA 16x16x16 (tf32: 16x16x8),
//     f32 accumulators; 8 warps as 2 x 4 (BN = 128, warp tile 64 x 32) or 4 x 2 (BN = 64,
//     warp tile 32 x 32), BM = 128, BK = 32 (16-bit) or 16 (tf32).
//   - SIMT f32: BM = 128, BN = 64, BK = 16; thread (tx, ty) of 16 x 16 owns the 8 x 4
//     outputs tx + 16 i (along the output's contiguous dimension), ty + 16 j, with FMAs.
// The block index is linear with the N tile fastest, so the blocks that share an A tile (the
// big activation operand) run together and A comes from HBM about once; B (weights) stays in L2.
// Split-K (small M x N, long K): blockIdx.y also selects a k range; each split writes f32
// partials of the whole output to a workspace and finalize_kernel sums them in split order and
// applies the epilogue: deterministic, no atomics.
// Epilogue: v = acc (+ bias[col]) (+ old C when accumulating), activation, one rounding to the
// output type; tensor-core results pass through a per-warp 16x16 f32 scratch so each lane
// writes 8 consecutive outputs (one 16-byte store for 16-bit outputs).
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "activation_math.cuh"
#include "cuda_compat.h"
#include "elementwise.cuh"
#include "trainer/core/error.h"
#include "trainer/kernels/cuda/check.h"
#include "trainer/kernels/cuda/runtime.h"
#include "trainer/kernels/cuda/stream.h"
#include "vector_access.cuh"

namespace trainer::cuda::gemm {

namespace wmma = nvcuda::wmma;

enum class Major : uint8_t { K, MN };  // the dimension along which an operand is contiguous
enum class OutType : uint8_t { F32, F16, BF16 };

constexpr int kThreads = 256;
// Split-K targets: about two resident blocks per SM on a 132-SM H100, at least this many k
// tiles per split, at most this many splits and this much workspace.
constexpr int64_t kTargetBlocks = 264;
constexpr int64_t kMinTilesPerSplit = 4;
constexpr int64_t kMaxSplits = 64;
constexpr int64_t kMaxWorkspaceBytes = int64_t{256} << 20;

template <class T>
constexpr OutType out_type_of() {
  if constexpr (std::is_same_v<T, float>) return OutType::F32;
  else if constexpr (std::is_same_v<T, float16> || std::is_same_v<T, __half>) return OutType::F16;
  else return OutType::BF16;
}

__device__ inline float apply_activation(Activation act, float v) {
  switch (act) {
    case Activation::Relu: return activate<Activation::Relu>(v);
    case Activation::Relu6: return activate<Activation::Relu6>(v);
    case Activation::Swish: return activate<Activation::Swish>(v);
    case Activation::Sigmoid: return activate<Activation::Sigmoid>(v);
    default: return v;
  }
}

// Where results go and what happens on the way.
struct Output {
  void* data = nullptr;
  OutType type = OutType::F32;
  const float* bias = nullptr;  // [bias_period] or null
  int64_t bias_period = 1;      // output columns (bias index of element e in finalize: e % period)
  Activation act = Activation::Identity;
  bool accumulate = false;      // add the old contents of data
  bool vector_ok = false;       // data (and partial) 16-byte aligned
  float* partial = nullptr;     // split-K: [splits][total] f32 partial sums instead of data
  int64_t total = 0;            // elements of the output

  template <class O>
  __device__ void store_typed(int64_t e, const float* v, int count) const {
    O* dst = static_cast<O*>(data) + e;
    if constexpr (std::is_same_v<O, float>) {
      if (vector_ok && count == 8 && e % 8 == 0) {
        Vec<float, 4> lo, hi;
#pragma unroll
        for (int j = 0; j < 4; ++j) lo.v[j] = v[j], hi.v[j] = v[4 + j];
        store_vec<float, 4>(dst, lo);
        store_vec<float, 4>(dst + 4, hi);
        return;
      }
    } else {
      if (vector_ok && count == 8 && e % 8 == 0) {
        Vec<O, 8> x;
#pragma unroll
        for (int j = 0; j < 8; ++j) x.v[j] = from_float<O>(v[j]);
        store_vec<O, 8>(dst, x);
        return;
      }
    }
#pragma unroll
    for (int j = 0; j < 8; ++j)
      if (j < count) dst[j] = from_float<O>(v[j]);
  }
  __device__ float load_old(int64_t e) const {
    switch (type) {
      case OutType::F16: return to_float(static_cast<const __half*>(data)[e]);
      case OutType::BF16: return to_float(static_cast<const __nv_bfloat16*>(data)[e]);
      default: return static_cast<const float*>(data)[e];
    }
  }
  // count (<= 8) consecutive outputs from element e on, whose bias indices are col, col + 1, ...
  __device__ void store(int64_t e, int col, const float* v, int count, int split) const {
    if (partial) {
      Output raw = *this;
      raw.data = partial + split * total;
      raw.vector_ok = total % 8 == 0;  // the workspace is aligned; each split's slice then is too
      raw.store_typed<float>(e, v, count);
      return;
    }
    float r[8];
#pragma unroll
    for (int j = 0; j < 8; ++j) {  // fully unrolled with a guard, so r stays in registers
      if (j < count) {
        float x = v[j];
        if (bias) x += bias[col + j];
        if (accumulate) x += load_old(e + j);
        r[j] = apply_activation(act, x);
      }
    }
    switch (type) {
      case OutType::F16: store_typed<__half>(e, r, count); break;
      case OutType::BF16: store_typed<__nv_bfloat16>(e, r, count); break;
      default: store_typed<float>(e, r, count); break;
    }
  }
};

// ---- shared-memory tiles: K-major [rows][BK + pad], MN-major [BK][rows + pad]
template <Major L, int R, int BK, class D>
struct Tile {
  static constexpr int kPad = 16 / static_cast<int>(sizeof(D));
  static constexpr int kStride = (L == Major::K ? BK : R) + kPad;
  static constexpr int kElems = (L == Major::K ? R : BK) * kStride;
  static_assert(kElems * sizeof(D) % 32 == 0, "tile stages must keep 32-byte alignment");
  __device__ static int offset(int row, int k) { return L == Major::K ? row * kStride + k : k * kStride + row; }
};

// Moves one operand's R x BK tile from global memory to a shared-memory stage, V elements at a
// time, through registers (fetch: issue the loads; store: write them to the stage). A thread
// keeps one Line (the per-row state of its source):
//  K-major: kThreads / R threads per row, interleaved along k so that one load instruction of
//    neighbouring threads covers contiguous bytes (e.g. 128 rows x 32 k of 16-bit: 2 threads per
//    row, thread r loading k = 8 r + 16 i, i < 2: each instruction reads 32 contiguous bytes per row);
//  MN-major: R / V threads along a k line (consecutive threads, consecutive 16-byte vectors:
//    coalesced), the block covering kThreads / (R / V) k lines per pass.
template <class Src, Major L, int R, int BK, int V, class D>
struct TileLoader {
  using T = Tile<L, R, BK, D>;
  static constexpr int kRowThreads = L == Major::K ? kThreads / R : 1;  // K-major
  static constexpr int kRun = BK / kRowThreads;                          // K-major
  static constexpr int kLineVecs = R / V;                                // MN-major
  static constexpr int kLinesPerPass = L == Major::MN ? kThreads / kLineVecs : 1;
  static_assert(L == Major::MN || (kThreads % R == 0 && BK % kRowThreads == 0 && kRun % V == 0));
  static_assert(L == Major::K || (kThreads % kLineVecs == 0 && BK % kLinesPerPass == 0));
  static constexpr int kPerThread = L == Major::K ? kRun / V : BK / kLinesPerPass;
  static constexpr int kStepK = L == Major::K ? kRowThreads * V : kLinesPerPass;
  static constexpr int kStepSmem = L == Major::K ? kRowThreads * V : kLinesPerPass * T::kStride;

  typename Src::Line line;
  int k_first, smem_first;
  Vec<D, V> reg[kPerThread];

  __device__ void init(const Src& src, int row0, int tid) {
    int row;
    if constexpr (L == Major::K) {
      row = tid / kRowThreads;
      k_first = tid % kRowThreads * V;
    } else {
      row = tid % kLineVecs * V;
      k_first = tid / kLineVecs;
    }
    line = src.line(row0 + row);
    smem_first = T::offset(row, k_first);
  }
  __device__ void fetch(const Src& src, int k0, int k_end) {
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
      const int k = k0 + k_first + i * kStepK;
      const D* p = k < k_end ? src.address(line, k) : nullptr;
      if (p) {
        reg[i] = load_vec<D, V>(p);
      } else {
#pragma unroll
        for (int j = 0; j < V; ++j) reg[i].v[j] = from_float<D>(0.f);
      }
    }
  }
  __device__ void store(D* stage) const {
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) store_vec<D, V>(stage + smem_first + i * kStepSmem, reg[i]);
  }
};

// ---- tile configurations
template <class D, int BN_>
struct TensorConfig {
  static constexpr bool kTensorCores = true;
  static constexpr int BM = 128, BN = BN_;
  static constexpr int BK = sizeof(D) == 4 ? 16 : 32;
  static constexpr int kWarpsN = BN_ == 128 ? 4 : 2, kWarpsM = 8 / kWarpsN;
};
struct SimtConfig {
  static constexpr bool kTensorCores = false;
  static constexpr int BM = 128, BN = 64, BK = 16;
};

template <class D>
struct WmmaOperand {
  using type = D;
  static constexpr int K = 16;
};
template <>
struct WmmaOperand<float> {
  using type = wmma::precision::tf32;
  static constexpr int K = 8;
};

// f32 FMAs; thread (tx, ty) of 16 x 16 owns rows f + 16 i / s + 16 j where f is the output's
// contiguous dimension (so a warp's 16 tx write 16 consecutive outputs).
template <class Cfg, class D, Major LA, Major LB, bool kOutAlongM>
struct SimtMath {
  using ATile = Tile<LA, Cfg::BM, Cfg::BK, D>;
  using BTile = Tile<LB, Cfg::BN, Cfg::BK, D>;
  static constexpr int TM = Cfg::BM / 16, TN = Cfg::BN / 16;
  float acc[TM][TN];

  __device__ static int row_m() { return kOutAlongM ? threadIdx.x % 16 : threadIdx.x / 16; }
  __device__ static int row_n() { return kOutAlongM ? threadIdx.x / 16 : threadIdx.x % 16; }

  __device__ void zero() {
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;
  }
  __device__ void step(const D* as, const D* bs) {
    const int rm = row_m(), rn = row_n();
#pragma unroll 4
    for (int k = 0; k < Cfg::BK; ++k) {
      float a[TM], b[TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) a[i] = to_float(as[ATile::offset(rm + 16 * i, k)]);
#pragma unroll
      for (int j = 0; j < TN; ++j) b[j] = to_float(bs[BTile::offset(rn + 16 * j, k)]);
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
  }
  template <class Ctx>
  __device__ void finish(const Ctx& ctx, const Output& out, int m0, int n0, int split, unsigned char*) const {
    const int rm = row_m(), rn = row_n();
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) {
        const int m = m0 + rm + 16 * i, n = n0 + rn + 16 * j;
        if (m < ctx.m && n < ctx.n) out.store(ctx.out_index(m, n), ctx.bias_col(n), &acc[i][j], 1, split);
      }
  }
};

// WMMA on tensor cores: warp (wm, wn) owns a WM x WN region as FM x FN 16x16 accumulators.
template <class Cfg, class D, Major LA, Major LB, bool kOutAlongM>
struct WmmaMath {
  using ATile = Tile<LA, Cfg::BM, Cfg::BK, D>;
  using BTile = Tile<LB, Cfg::BN, Cfg::BK, D>;
  using Op = typename WmmaOperand<D>::type;
  static constexpr int KS = WmmaOperand<D>::K;
  static constexpr int WM = Cfg::BM / Cfg::kWarpsM, WN = Cfg::BN / Cfg::kWarpsN;
  static constexpr int FM = WM / 16, FN = WN / 16;
  static_assert(Cfg::kWarpsM * Cfg::kWarpsN * 32 == kThreads && Cfg::BK % KS == 0);
  // smem (A) row-major = [m][k]: K-major A; col-major = [k][m]. B's logical matrix is [k][n].
  using ALayout = std::conditional_t<LA == Major::K, wmma::row_major, wmma::col_major>;
  using BLayout = std::conditional_t<LB == Major::K, wmma::col_major, wmma::row_major>;
  wmma::fragment<wmma::accumulator, 16, 16, KS, float> acc[FM][FN];

  __device__ static int warp_m() { return static_cast<int>(threadIdx.x / 32) % Cfg::kWarpsM; }
  __device__ static int warp_n() { return static_cast<int>(threadIdx.x / 32) / Cfg::kWarpsM; }

  template <class F>
  __device__ static void to_tf32(F& f) {
    if constexpr (std::is_same_v<D, float>) {
      // Elementwise, so independent of the (unspecified) element-to-lane layout.
#pragma unroll
      for (int t = 0; t < f.num_elements; ++t) f.x[t] = wmma::__float_to_tf32(f.x[t]);
    }
  }

  __device__ void zero() {
#pragma unroll
    for (int i = 0; i < FM; ++i)
#pragma unroll
      for (int j = 0; j < FN; ++j) wmma::fill_fragment(acc[i][j], 0.f);
  }
  __device__ void step(const D* as, const D* bs) {
    const int wm = warp_m(), wn = warp_n();
#pragma unroll
    for (int ks = 0; ks < Cfg::BK / KS; ++ks) {
      wmma::fragment<wmma::matrix_b, 16, 16, KS, Op, BLayout> b[FN];
#pragma unroll
      for (int j = 0; j < FN; ++j) {
        wmma::load_matrix_sync(b[j], bs + BTile::offset(wn * WN + 16 * j, ks * KS), BTile::kStride);
        to_tf32(b[j]);
      }
#pragma unroll
      for (int i = 0; i < FM; ++i) {
        wmma::fragment<wmma::matrix_a, 16, 16, KS, Op, ALayout> a;
        wmma::load_matrix_sync(a, as + ATile::offset(wm * WM + 16 * i, ks * KS), ATile::kStride);
        to_tf32(a);
#pragma unroll
        for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], a, b[j], acc[i][j]);
      }
    }
  }
  // Each accumulator goes through the warp's 16x16 f32 scratch (in the operand stages, which the
  // main loop no longer needs), laid out so lane l reads 8 consecutive outputs of line l / 2.
  template <class Ctx>
  __device__ void finish(const Ctx& ctx, const Output& out, int m0, int n0, int split, unsigned char* smem) const {
    __syncthreads();  // every warp is done reading the operand stages
    const int wm = warp_m(), wn = warp_n(), lane = threadIdx.x % 32;
    float* scratch = reinterpret_cast<float*>(smem) + threadIdx.x / 32 * 256;
    const int line = lane / 2, part = lane % 2 * 8;
#pragma unroll
    for (int i = 0; i < FM; ++i)
#pragma unroll
      for (int j = 0; j < FN; ++j) {
        const int mb = m0 + wm * WM + 16 * i, nb = n0 + wn * WN + 16 * j;
        if (mb >= ctx.m || nb >= ctx.n) continue;  // warp-uniform
        wmma::store_matrix_sync(scratch, acc[i][j], 16, kOutAlongM ? wmma::mem_col_major : wmma::mem_row_major);
        __syncwarp();
        int m, n, count;
        if constexpr (kOutAlongM) {
          n = nb + line, m = mb + part;
          count = n < ctx.n ? min(8, ctx.m - m) : 0;
        } else {
          m = mb + line, n = nb + part;
          count = m < ctx.m ? min(8, ctx.n - n) : 0;
        }
        if (count > 0) {
          const Vec<float, 4> lo = load_vec<float, 4>(scratch + line * 16 + part);
          const Vec<float, 4> hi = load_vec<float, 4>(scratch + line * 16 + part + 4);
          float v[8];
#pragma unroll
          for (int t = 0; t < 4; ++t) v[t] = lo.v[t], v[4 + t] = hi.v[t];
          out.store(ctx.out_index(m, n), ctx.bias_col(n), v, count, split);
        }
        __syncwarp();  // the scratch is rewritten by the next accumulator
      }
  }
};

template <class Cfg, class D, Major LA, Major LB, bool kOutAlongM>
using MathOf = std::conditional_t<Cfg::kTensorCores, WmmaMath<Cfg, D, LA, LB, kOutAlongM>,
                                  SimtMath<Cfg, D, LA, LB, kOutAlongM>>;

template <class Cfg, class D, Major LA, Major LB>
constexpr size_t smem_bytes() {
  constexpr size_t tiles =
      2 * (Tile<LA, Cfg::BM, Cfg::BK, D>::kElems + Tile<LB, Cfg::BN, Cfg::BK, D>::kElems) * sizeof(D);
  constexpr size_t scratch = Cfg::kTensorCores ? 8 * 256 * sizeof(float) : 0;
  return (tiles > scratch ? tiles : scratch) + 128;  // + room to align the base to 128 bytes
}

template <class Cfg, int V, class P>
__global__ void __launch_bounds__(kThreads, 2) gemm_kernel(const P prob) {
  using D = typename P::Elem;
  using Ctx = typename P::Ctx;
  using ATile = Tile<Ctx::kA, Cfg::BM, Cfg::BK, D>;
  using BTile = Tile<Ctx::kB, Cfg::BN, Cfg::BK, D>;
  const int tile_n = static_cast<int>(blockIdx.x % prob.n_tiles), tile_m = static_cast<int>(blockIdx.x / prob.n_tiles);
  const int split = static_cast<int>(blockIdx.y) % prob.splits, zg = static_cast<int>(blockIdx.y) / prob.splits;
  const Ctx ctx = prob.context(zg);
  const int m0 = tile_m * Cfg::BM, n0 = tile_n * Cfg::BN;
  if (m0 >= ctx.m || n0 >= ctx.n) return;  // the whole block (extents differ between z groups)
  const int k_tiles = (ctx.k + Cfg::BK - 1) / Cfg::BK, per_split = (k_tiles + prob.splits - 1) / prob.splits;
  const int kt_begin = split * per_split, kt_end = min(k_tiles, kt_begin + per_split);

  unsigned char* smem = cudaemu::dynamic_smem<unsigned char>();
  smem += (128 - reinterpret_cast<uintptr_t>(smem) % 128) % 128;
  D* a_stages = reinterpret_cast<D*>(smem);
  D* b_stages = a_stages + 2 * ATile::kElems;

  TileLoader<typename Ctx::ASource, Ctx::kA, Cfg::BM, Cfg::BK, V, D> a;
  TileLoader<typename Ctx::BSource, Ctx::kB, Cfg::BN, Cfg::BK, V, D> b;
  a.init(ctx.a, m0, threadIdx.x);
  b.init(ctx.b, n0, threadIdx.x);
  MathOf<Cfg, D, Ctx::kA, Ctx::kB, Ctx::kOutAlongM> math;
  math.zero();
  if (kt_begin < kt_end) {
    a.fetch(ctx.a, kt_begin * Cfg::BK, ctx.k);
    b.fetch(ctx.b, kt_begin * Cfg::BK, ctx.k);
  }
  int stage = 0;
  for (int kt = kt_begin; kt < kt_end; ++kt, stage ^= 1) {
    a.store(a_stages + stage * ATile::kElems);
    b.store(b_stages + stage * BTile::kElems);
    __syncthreads();  // the stage is complete; the other stage is free (read before this barrier)
    if (kt + 1 < kt_end) {
      a.fetch(ctx.a, (kt + 1) * Cfg::BK, ctx.k);
      b.fetch(ctx.b, (kt + 1) * Cfg::BK, ctx.k);
    }
    math.step(a_stages + stage * ATile::kElems, b_stages + stage * BTile::kElems);
  }
  math.finish(ctx, prob.out, m0, n0, split, smem);
}

// Split-K: out = epilogue(sum over splits of the partials), in split order. (A template only for
// its linkage: the header is included by several kernel files.)
template <int kUnused = 0>
__global__ void __launch_bounds__(kThreads) finalize_kernel(Output out, int splits) {
  const float* partial = out.partial;
  out.partial = nullptr;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < out.total; e += stride) {
    float v = 0.f;
    for (int s = 0; s < splits; ++s) v += partial[s * out.total + e];
    out.store(e, static_cast<int>(e % out.bias_period), &v, 1, 0);
  }
}

// The largest per-z-group extents of a problem, and how many z groups it has.
struct Extents {
  int64_t m = 0, n = 0, k = 0;
  int64_t zgroups = 1;
};

inline void check_extents(const Extents& e, const char* what) {
  constexpr int64_t kMax = (int64_t{1} << 31) - 1;
  TRAINER_CHECK(e.m < kMax && e.n < kMax && e.k < kMax && e.zgroups <= 65535, what,
                ": GEMM extents too large for 32-bit indices (m=", e.m, " n=", e.n, " k=", e.k, ", ", e.zgroups,
                " groups)");
}

template <class Cfg, class P>
void run_config(P prob, const Extents& ext, const Output& out, bool vec, Stream stream) {
  using D = typename P::Elem;
  using Ctx = typename P::Ctx;
  const int64_t m_tiles = (ext.m + Cfg::BM - 1) / Cfg::BM, n_tiles = (ext.n + Cfg::BN - 1) / Cfg::BN;
  const int64_t tiles = m_tiles * n_tiles * ext.zgroups;
  int64_t splits = 1;
  const int64_t k_tiles = (ext.k + Cfg::BK - 1) / Cfg::BK;
  if (tiles < kTargetBlocks && k_tiles >= 2 * kMinTilesPerSplit) {
    splits = std::min({(kTargetBlocks + tiles - 1) / tiles, k_tiles / kMinTilesPerSplit, kMaxSplits,
                       std::max<int64_t>(1, kMaxWorkspaceBytes / (out.total * int64_t{4})),
                       65535 / ext.zgroups});
    splits = std::max<int64_t>(splits, 1);
    const int64_t per = (k_tiles + splits - 1) / splits;
    splits = (k_tiles + per - 1) / per;  // every split gets at least one k tile
  }
  TRAINER_CHECK(m_tiles * n_tiles < (int64_t{1} << 31), "GEMM: too many tiles");
  DeviceBuffer workspace(splits > 1 ? static_cast<size_t>(splits * out.total) * sizeof(float) : 0);
  prob.n_tiles = static_cast<int>(n_tiles);
  prob.splits = static_cast<int>(splits);
  prob.out = out;
  if (splits > 1) prob.out.partial = workspace.as<float>();
  const dim3 grid(static_cast<unsigned>(m_tiles * n_tiles), static_cast<unsigned>(ext.zgroups * splits));
  constexpr size_t smem = smem_bytes<Cfg, D, Ctx::kA, Ctx::kB>();
  static_assert(smem <= 48 * 1024, "GEMM tiles must fit the default dynamic shared memory limit");
  constexpr int kWide = 16 / static_cast<int>(sizeof(D));
  if (vec) TRAINER_CUDA_CHECK(cudaemu::launch(gemm_kernel<Cfg, kWide, P>, grid, dim3(kThreads), smem, stream, prob));
  else TRAINER_CUDA_CHECK(cudaemu::launch(gemm_kernel<Cfg, 1, P>, grid, dim3(kThreads), smem, stream, prob));
  if (splits > 1) {
    const auto blocks = static_cast<unsigned>(std::clamp<int64_t>((out.total + kThreads - 1) / kThreads, 1, 1024));
    TRAINER_CUDA_CHECK(cudaemu::launch(finalize_kernel<>, dim3(blocks), dim3(kThreads), 0, stream, prob.out,
                                       static_cast<int>(splits)));
  }
}

// Runs problem `prob` on tensor cores (f16/bf16 always; f32 as tf32 when `tensor_cores`) or
// with f32 FMAs; `vec`: every operand vector of 16 bytes is aligned and inside one line (the
// problem's own condition, checked by its host wrapper).
template <class P>
void run_gemm(const P& prob, const Extents& ext, const Output& out, bool tensor_cores, bool vec, Stream stream) {
  using D = typename P::Elem;
  if (ext.m == 0 || ext.n == 0 || out.total == 0) return;
  if constexpr (std::is_same_v<D, float>) {
    if (!tensor_cores) return run_config<SimtConfig>(prob, ext, out, vec, stream);
  }
  if (ext.n <= 64) run_config<TensorConfig<D, 64>>(prob, ext, out, vec, stream);
  else run_config<TensorConfig<D, 128>>(prob, ext, out, vec, stream);
}

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace trainer::cuda::gemm
