// Matmul on gemm_core.cuh: the four transpose cases are four problem types (the operands' shared
// memory tiles follow their stored contiguity). Design and costs:
// include/trainer/kernels/cuda/matmul_native.h.
#include <type_traits>

#include "elementwise.cuh"
#include "gemm_core.cuh"
#include "trainer/core/error.h"
#include "trainer/kernels/cuda/matmul_native.h"

namespace trainer::cuda {
namespace {

using gemm::Major;

// One operand stored row-major as [rows][cols]; kContiguousK: its k index is the column (then the
// GEMM's tile is K-major), else its k index is the row (MN-major).
template <class D, bool kContiguousK>
struct DenseSource {
  const D* p;
  int extent;  // m (A) or n (B)
  int64_t ld;  // elements per stored row
  struct Line {
    int index;  // -1: beyond the extent
  };
  __device__ Line line(int i) const { return {i < extent ? i : -1}; }
  __device__ const D* address(const Line& l, int k) const {
    if (l.index < 0) return nullptr;
    return kContiguousK ? p + l.index * ld + k : p + static_cast<int64_t>(k) * ld + l.index;
  }
};

template <class D, bool kTransA, bool kTransB>
struct MatmulProblem {
  using Elem = D;
  const D* a;
  const D* b;
  int m, n, k;
  int n_tiles = 1, splits = 1;
  gemm::Output out;

  struct Ctx {
    static constexpr Major kA = kTransA ? Major::MN : Major::K;
    static constexpr Major kB = kTransB ? Major::K : Major::MN;
    static constexpr bool kOutAlongM = false;
    using ASource = DenseSource<D, !kTransA>;
    using BSource = DenseSource<D, kTransB>;
    int m, n, k;
    ASource a;
    BSource b;
    __device__ int64_t out_index(int mm, int nn) const { return static_cast<int64_t>(mm) * n + nn; }
    __device__ int bias_col(int nn) const { return nn; }
  };
  __device__ Ctx context(int) const {
    return {m, n, k, {a, m, kTransA ? m : k}, {b, n, kTransB ? k : n}};
  }
};

template <class T>
void matmul_typed(const MatmulShape& s, const T* a, const T* b, const float* bias, DType out_dtype, void* c,
                  bool accumulate, Stream stream, const GemmOptions& options) {
  using D = device_t<T>;
  constexpr int V = 16 / static_cast<int>(sizeof(T));
  const gemm::Extents ext{s.m, s.n, s.k, 1};
  gemm::check_extents(ext, "matmul");
  gemm::Output out;
  out.data = c;
  out.type = out_dtype == DType::F32 ? gemm::OutType::F32
                                     : (out_dtype == DType::F16 ? gemm::OutType::F16 : gemm::OutType::BF16);
  out.bias = bias;
  out.bias_period = s.n;
  out.accumulate = accumulate;
  out.vector_ok = gemm::aligned16(c);
  out.total = s.m * s.n;
  // 16-byte vectors along each operand's contiguous extent.
  const int64_t a_line = s.trans_a ? s.m : s.k, b_line = s.trans_b ? s.k : s.n;
  const bool vec = a_line % V == 0 && b_line % V == 0 && gemm::aligned16(a) && gemm::aligned16(b);
  const bool tensor_cores = !std::is_same_v<T, float> || options.allow_tf32;
  const int m = static_cast<int>(s.m), n = static_cast<int>(s.n), k = static_cast<int>(s.k);
  const D* da = device_ptr(a);
  const D* db = device_ptr(b);
  if (!s.trans_a && !s.trans_b)
    gemm::run_gemm(MatmulProblem<D, false, false>{da, db, m, n, k}, ext, out, tensor_cores, vec, stream);
  else if (!s.trans_a)
    gemm::run_gemm(MatmulProblem<D, false, true>{da, db, m, n, k}, ext, out, tensor_cores, vec, stream);
  else if (!s.trans_b)
    gemm::run_gemm(MatmulProblem<D, true, false>{da, db, m, n, k}, ext, out, tensor_cores, vec, stream);
  else
    gemm::run_gemm(MatmulProblem<D, true, true>{da, db, m, n, k}, ext, out, tensor_cores, vec, stream);
}

}  // namespace

void matmul(const MatmulShape& s, DType in_dtype, const void* a, const void* b, const float* bias, DType out_dtype,
            void* c, bool accumulate, Stream stream, const GemmOptions& options) {
  TRAINER_CHECK(s.m > 0 && s.n > 0 && s.k > 0, "matmul: empty shape m=", s.m, " n=", s.n, " k=", s.k);
  TRAINER_CHECK(out_dtype == DType::F32 || out_dtype == DType::F16 || out_dtype == DType::BF16,
                "matmul: unsupported output dtype ", dtype_name(out_dtype), " (f32, f16 or bf16)");
  switch (in_dtype) {
    case DType::F32:
      return matmul_typed(s, static_cast<const float*>(a), static_cast<const float*>(b), bias, out_dtype, c,
                          accumulate, stream, options);
    case DType::F16:
      return matmul_typed(s, static_cast<const float16*>(a), static_cast<const float16*>(b), bias, out_dtype, c,
                          accumulate, stream, options);
    case DType::BF16:
      return matmul_typed(s, static_cast<const bfloat16*>(a), static_cast<const bfloat16*>(b), bias, out_dtype, c,
                          accumulate, stream, options);
    default: fail("matmul: unsupported input dtype ", dtype_name(in_dtype), " (f32, f16 or bf16)");
  }
}

}  // namespace trainer::cuda
