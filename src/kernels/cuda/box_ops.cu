// IoU matrix and the Faster R-CNN box coder (cpu/box_ops.cpp's float operations, box_math.cuh;
// compiled without FMA contraction, CMakeLists.txt).
//
// GPU design.
// - iou_matrix: a block is 256 columns x 32 rows of the output. Each thread holds its column's
//   box in registers (one 128-bit load when the array is 16-byte aligned), the block's 32 row
//   boxes sit in shared memory and are read as broadcasts, and each of the 32 row stores is a
//   coalesced 1 KiB line across the block. Row groups beyond the grid's y limit are walked by
//   a grid stride. For the target assigner's shape ([~100 ground truth, 12,804 anchors]) that
//   is 51 x 4 blocks, bound by the 5 MB of stores.
// - encode/decode: one box per thread (elementwise grid stride), 128-bit loads and stores when
//   all arrays are 16-byte aligned.
#include "box_math.cuh"
#include "elementwise.cuh"
#include "trainer/core/error.h"
#include "trainer/kernels/cuda/box_ops.h"

namespace trainer::cuda {
namespace {

using boxmath::Box;

constexpr int kIouColumns = 256;  // threads per block, one column each
constexpr int kIouRows = 32;      // rows per block
constexpr int64_t kMaxGridY = 65535;

template <bool kVec>
__global__ void __launch_bounds__(kIouColumns)
    iou_matrix_kernel(const float* __restrict__ a, int64_t n, const float* __restrict__ b, int64_t m,
                      float* __restrict__ out) {
  __shared__ Box rows[kIouRows];
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kIouColumns + threadIdx.x;
  const bool in = col < m;
  const Box q = in ? boxmath::load_box<kVec>(b, col) : Box{0.f, 0.f, 0.f, 0.f};
  for (int64_t row0 = static_cast<int64_t>(blockIdx.y) * kIouRows; row0 < n;
       row0 += static_cast<int64_t>(gridDim.y) * kIouRows) {
    const int count = static_cast<int>(n - row0 < kIouRows ? n - row0 : kIouRows);
    __syncthreads();  // the previous group's rows are no longer read
    if (static_cast<int>(threadIdx.x) < count) rows[threadIdx.x] = boxmath::load_box<kVec>(a, row0 + threadIdx.x);
    __syncthreads();
    if (!in) continue;
    for (int r = 0; r < count; ++r) out[(row0 + r) * m + col] = boxmath::iou(rows[r], q);
  }
}

template <bool kVec>
struct Encode {
  const float *boxes, *anchors;
  float* codes;
  boxmath::CoderFactors f;
  __host__ __device__ void operator()(int64_t i) const {
    const boxmath::Code c =
        boxmath::encode(boxmath::load_box<kVec>(boxes, i), boxmath::load_box<kVec>(anchors, i), f);
    boxmath::store4<kVec>(codes, i, c.ty, c.tx, c.th, c.tw);
  }
};

template <bool kVec>
struct Decode {
  const float *codes, *anchors;
  float* boxes;
  boxmath::CoderFactors f;
  int64_t period;  // anchors repeat every `period` boxes (a batch of images)
  __host__ __device__ void operator()(int64_t i) const {
    const Box c = boxmath::load_box<kVec>(codes, i);
    const Box b = boxmath::decode({c.y0, c.x0, c.y1, c.x1}, boxmath::load_box<kVec>(anchors, i % period), f);
    boxmath::store4<kVec>(boxes, i, b.y0, b.x0, b.y1, b.x1);
  }
};

bool all_aligned(std::initializer_list<const void*> ps) {
  for (const void* p : ps)
    if (!boxmath::aligned16(p)) return false;
  return true;
}

}  // namespace

void iou_matrix(const float* a, int64_t n, const float* b, int64_t m, float* out, Stream stream) {
  TRAINER_CHECK(n >= 0 && m >= 0, "cuda::iou_matrix: bad sizes ", n, " x ", m);
  if (n == 0 || m == 0) return;
  const int64_t col_blocks = (m + kIouColumns - 1) / kIouColumns;
  TRAINER_CHECK(col_blocks < (int64_t{1} << 31), "cuda::iou_matrix: ", m, " columns are too many");
  const dim3 grid(static_cast<unsigned>(col_blocks),
                  static_cast<unsigned>(std::min<int64_t>((n + kIouRows - 1) / kIouRows, kMaxGridY)));
  auto kernel = all_aligned({a, b}) ? iou_matrix_kernel<true> : iou_matrix_kernel<false>;
  TRAINER_CUDA_CHECK(cudaemu::launch(kernel, grid, dim3(kIouColumns), 0, stream, a, n, b, m, out));
}

void encode_boxes(const float* boxes, const float* anchors, int64_t n, const cpu::BoxCoderScales& scales,
                  float* codes, Stream stream) {
  const boxmath::CoderFactors f = boxmath::coder_factors(scales);
  if (all_aligned({boxes, anchors, codes})) for_each_index(n, Encode<true>{boxes, anchors, codes, f}, stream);
  else for_each_index(n, Encode<false>{boxes, anchors, codes, f}, stream);
}

void decode_boxes_batch(const float* codes, const float* anchors, int64_t images, int64_t a,
                        const cpu::BoxCoderScales& scales, float* boxes, Stream stream) {
  TRAINER_CHECK(images >= 0 && a >= 0, "cuda::decode_boxes: bad sizes ", images, " x ", a);
  if (images == 0 || a == 0) return;
  const boxmath::CoderFactors f = boxmath::coder_factors(scales);
  if (all_aligned({codes, anchors, boxes})) for_each_index(images * a, Decode<true>{codes, anchors, boxes, f, a}, stream);
  else for_each_index(images * a, Decode<false>{codes, anchors, boxes, f, a}, stream);
}

void decode_boxes(const float* codes, const float* anchors, int64_t n, const cpu::BoxCoderScales& scales,
                  float* boxes, Stream stream) {
  decode_boxes_batch(codes, anchors, 1, n, scales, boxes, stream);
}

}  // namespace trainer::cuda
