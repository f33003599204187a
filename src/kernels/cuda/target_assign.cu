// The argmax matcher and SSD target assignment for a batch (models/detectors/argmax_matcher.cpp
// and target_assigner.cpp, same decisions; box_math.cuh's IoU and encoder, compiled without FMA
// contraction, CMakeLists.txt).
//
// GPU formulation. The IoU matrix is never stored: with ~100 boxes per image it is cheaper to
// compute each IoU where it is needed (a dozen flops) than to write and read 5 MB per image.
//  1. row_argmax_kernel (only with force_match_for_each_row): each ground-truth row's best
//     anchor, tf.argmax's first index on ties. Grid (anchor splits, images); a warp owns a row,
//     its lanes stride over the split's anchors (coalesced 128-bit anchor loads, shared by all
//     rows through L1), keep their first maximum, and combine by (value desc, index asc)
//     shuffles. Splits write (value, index) partials; a per-row pass merges them in split order.
//     The split count depends only on the anchor count, so the result is fixed run to run.
//  2. assign_kernel: grid (anchor tiles of 256, images), one anchor per thread. The image's
//     boxes (and their best anchors) are staged through shared memory 256 at a time and read as
//     broadcasts; each thread keeps its anchor's first best row, the lowest row that forces it,
//     applies the thresholds, then writes weights, matches and the encoded box (128-bit stores).
//     The class targets, [256, slots] contiguous floats per tile (K + 1 slots with the
//     background slot, K without), are written by the whole block from a shared label-slot
//     table, so those stores (the bulk of the output: 91 floats per anchor for COCO) are
//     coalesced. Positives are counted with __syncthreads_count and
//     one integer atomic per block (exact, so deterministic).
// Crowd boxes are skipped in both passes instead of compacted: skipping keeps the remaining
// rows in order, so first-index ties and lowest-row force matches pick the same boxes as the
// CPU's compacted matrix, and the indices come out in the caller's numbering directly.
#include "box_math.cuh"
#include "elementwise.cuh"
#include "trainer/core/error.h"
#include "trainer/kernels/cuda/runtime.h"
#include "trainer/kernels/cuda/target_assign.h"

namespace trainer::cuda {
namespace {

using boxmath::Box;

constexpr int kThreads = 256;
constexpr unsigned kAllLanes = 0xffffffffu;
constexpr int64_t kColumnsPerSplit = 1024;
constexpr int64_t kMaxSplits = 64;

struct ArgmaxPartial {
  float value;
  int32_t col;  // -1: none
};

// Rows of a similarity matrix in memory (argmax_match): one "image" of num_rows rows.
struct MatrixRows {
  const float* sim;  // [rows, cols]
  int64_t rows, cols;
  const uint8_t* valid;  // rows that may force a match, or null for all
  using Row = const float*;
  __device__ int64_t begin(int) const { return 0; }
  __device__ int64_t end(int) const { return rows; }
  __device__ bool forces(int64_t r) const { return !valid || valid[r]; }
  __device__ Row row(int64_t r) const { return sim + r * cols; }
  __device__ float value(Row row, int64_t c) const { return row[c]; }
};

// IoUs of a batch's ground truth against the anchors (assign_targets_batch), computed on the fly.
template <bool kVec>
struct IouRows {
  const float* gt_boxes;    // [total, 4]
  const uint8_t* crowd;     // [total] or null
  const int64_t* offsets;   // [images + 1]
  const float* anchors;     // [cols, 4]
  using Row = Box;
  __device__ int64_t begin(int image) const { return offsets[image]; }
  __device__ int64_t end(int image) const { return offsets[image + 1]; }
  __device__ bool forces(int64_t r) const { return !crowd || !crowd[r]; }  // crowd rows are not rows
  __device__ Row row(int64_t r) const { return boxmath::load_box<false>(gt_boxes, r); }
  __device__ float value(const Row& g, int64_t c) const { return boxmath::iou(g, boxmath::load_box<kVec>(anchors, c)); }
};

// Pass 1a: per forcing row, the first best column within split blockIdx.x.
// partials: [splits, total_rows]; rows that do not force get col -1.
template <class Rows>
__global__ void __launch_bounds__(kThreads)
    row_argmax_kernel(Rows rows, int64_t cols, int64_t chunk, int64_t total_rows, ArgmaxPartial* __restrict__ partials) {
  const int split = blockIdx.x, image = blockIdx.y;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  const int64_t c_begin = split * chunk, c_end = c_begin + chunk < cols ? c_begin + chunk : cols;
  const int64_t r_end = rows.end(image);
  for (int64_t r = rows.begin(image) + warp; r < r_end; r += warps) {  // warp-uniform
    ArgmaxPartial best{0.f, -1};
    if (rows.forces(r)) {
      const auto row = rows.row(r);
      for (int64_t c = c_begin + lane; c < c_end; c += 32) {
        const float v = rows.value(row, c);
        if (best.col < 0 || v > best.value) best = {v, static_cast<int32_t>(c)};
      }
      for (int offset = 16; offset > 0; offset /= 2) {
        const ArgmaxPartial o{__shfl_xor_sync(kAllLanes, best.value, offset),
                              __shfl_xor_sync(kAllLanes, best.col, offset)};
        if (o.col >= 0 && (best.col < 0 || o.value > best.value || (o.value == best.value && o.col < best.col)))
          best = o;
      }
    }
    if (lane == 0) partials[split * total_rows + r] = best;
  }
}

// Pass 1b: row_best[r] = the first best column over the splits (in split order, so a later
// split must be strictly better), -1 for rows that do not force.
struct MergeRowArgmax {
  const ArgmaxPartial* partials;
  int64_t splits, total_rows;
  int32_t* row_best;
  __device__ void operator()(int64_t r) const {
    ArgmaxPartial best{0.f, -1};
    for (int64_t s = 0; s < splits; ++s) {
      const ArgmaxPartial p = partials[s * total_rows + r];
      if (p.col >= 0 && (best.col < 0 || p.value > best.value)) best = p;
    }
    row_best[r] = best.col;
  }
};

struct CountInvalidLabels {
  const int32_t* labels;
  int32_t num_classes;
  int32_t* invalid;
  __device__ void operator()(int64_t r) const {
    if (labels[r] < 1 || labels[r] > num_classes) atomicAdd(invalid, 1);
  }
};

// Row-best pass shared by both entry points; returns the scratch holding row_best [total_rows].
template <class Rows>
void row_argmax(const Rows& rows, int64_t cols, int64_t images, int64_t total_rows, DeviceBuffer& row_best,
                Stream stream) {
  const int64_t splits = std::clamp<int64_t>(cols / kColumnsPerSplit, 1, kMaxSplits);
  const int64_t chunk = (cols + splits - 1) / splits;
  DeviceBuffer partials(sizeof(ArgmaxPartial) * splits * total_rows);
  TRAINER_CUDA_CHECK(cudaemu::launch(row_argmax_kernel<Rows>,
                                     dim3(static_cast<unsigned>(splits), static_cast<unsigned>(images)),
                                     dim3(kThreads), 0, stream, rows, cols, chunk, total_rows,
                                     partials.as<ArgmaxPartial>()));
  for_each_index(total_rows, MergeRowArgmax{partials.as<const ArgmaxPartial>(), splits, total_rows,
                                            row_best.as<int32_t>()},
                 stream);
}

// The matcher's decision for one column from its first best row, its forcing row (-1: none) and
// whether there were rows at all (models::argmax_match).
__device__ inline int32_t decide(bool have_rows, float best, int32_t best_row, int32_t forced,
                                 const ArgmaxMatcherOptions& o) {
  if (!have_rows) return kUnmatched;
  int32_t m = best_row;
  if (!o.ignore_thresholds) {
    const int32_t below = o.negatives_lower_than_unmatched ? kUnmatched : kIgnored;
    const int32_t between = o.negatives_lower_than_unmatched ? kIgnored : kUnmatched;
    if (o.unmatched_threshold > best) m = below;
    else if (o.matched_threshold > best) m = between;
  }
  if (o.force_match_for_each_row && forced >= 0) m = forced;
  return m;
}

// argmax_match, pass 2: a thread per column walks the rows (coalesced across the columns).
__global__ void __launch_bounds__(kThreads)
    match_columns_kernel(const float* __restrict__ sim, int64_t rows, int64_t cols, ArgmaxMatcherOptions o,
                         const int32_t* __restrict__ row_best, int32_t* __restrict__ matches) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  float best = 0.f;
  int32_t best_row = 0, forced = -1;
  for (int64_t r = 0; r < rows; ++r) {
    const float v = sim[r * cols + c];
    if (r == 0 || v > best) best = v, best_row = static_cast<int32_t>(r);
    if (row_best && forced < 0 && row_best[r] == c) forced = static_cast<int32_t>(r);
  }
  matches[c] = decide(rows > 0, best, best_row, forced, o);
}

struct AssignProblem {
  const float* anchors;  // [A, 4]
  int64_t num_anchors;
  const float* gt_boxes;
  const int32_t* labels;
  const uint8_t* crowd;
  const int64_t* offsets;
  const int32_t* row_best;  // [total] or null (no force match)
  int32_t num_classes;
  int32_t first_slot_label;  // the label whose class slot is 0: 0 with the background slot, else 1
  ArgmaxMatcherOptions matcher;
  boxmath::CoderFactors coder;
  float negative_class_weight;
  BatchTargetsOut out;
};

template <bool kVec>
__global__ void __launch_bounds__(kThreads) assign_kernel(AssignProblem p) {
  __shared__ Box gt_box[kThreads];
  __shared__ int32_t gt_best[kThreads];
  __shared__ uint8_t gt_present[kThreads];
  __shared__ int32_t slot_of[kThreads];  // class slot of each anchor of the tile, -1: none

  const int image = blockIdx.y, tid = threadIdx.x;
  const int64_t A = p.num_anchors, tile_begin = static_cast<int64_t>(blockIdx.x) * kThreads;
  const int64_t c = tile_begin + tid;
  const bool in = c < A;
  const int64_t r_begin = p.offsets[image], r_end = p.offsets[image + 1];
  const Box anchor = in ? boxmath::load_box<kVec>(p.anchors, c) : Box{0.f, 0.f, 0.f, 0.f};

  bool have_rows = false;
  float best = 0.f;
  int32_t best_row = 0, forced = -1;
  for (int64_t base = r_begin; base < r_end; base += kThreads) {
    const int count = static_cast<int>(r_end - base < kThreads ? r_end - base : kThreads);
    __syncthreads();  // the previous chunk is no longer read
    if (tid < count) {
      const int64_t r = base + tid;
      gt_box[tid] = boxmath::load_box<false>(p.gt_boxes, r);
      gt_present[tid] = !p.crowd || !p.crowd[r];
      gt_best[tid] = p.row_best ? p.row_best[r] : -1;
    }
    __syncthreads();
    if (!in) continue;
    for (int q = 0; q < count; ++q) {
      if (!gt_present[q]) continue;
      const float v = boxmath::iou(gt_box[q], anchor);
      const int32_t row = static_cast<int32_t>(base + q - r_begin);
      if (!have_rows || v > best) best = v, best_row = row;
      have_rows = true;
      if (forced < 0 && gt_best[q] == c) forced = row;  // rows in order: the lowest wins
    }
  }

  const int32_t m = decide(have_rows, best, best_row, forced, p.matcher);
  const bool positive = in && m >= 0;
  int32_t slot = -1;
  if (in) {
    const int64_t i = static_cast<int64_t>(image) * A + c;
    float ty = 0.f, tx = 0.f, th = 0.f, tw = 0.f;
    if (positive) {
      const int64_t g = r_begin + m;
      const int32_t label = p.labels[g];
      if (label >= 1 && label <= p.num_classes) slot = label - p.first_slot_label;
      const boxmath::Code code = boxmath::encode(boxmath::load_box<false>(p.gt_boxes, g), anchor, p.coder);
      ty = code.ty, tx = code.tx, th = code.th, tw = code.tw;
    }
    p.out.cls_weights[i] = positive ? 1.f : (m == kIgnored ? 0.f : p.negative_class_weight);
    p.out.reg_weights[i] = positive ? 1.f : 0.f;
    boxmath::store4<kVec>(p.out.reg_targets, i, ty, tx, th, tw);
    if (p.out.matches) p.out.matches[i] = m;
  }
  slot_of[tid] = slot;
  const int positives = __syncthreads_count(positive);  // also publishes slot_of
  if (tid == 0 && positives > 0 && p.out.num_positives)
    atomicAdd(reinterpret_cast<unsigned long long*>(p.out.num_positives), static_cast<unsigned long long>(positives));

  // Class targets of the tile: [tile, slots] contiguous floats, written by the whole block.
  const int64_t slots = p.num_classes + 1 - p.first_slot_label;
  const int64_t tile = A - tile_begin < kThreads ? A - tile_begin : kThreads;
  float* cls = p.out.cls_targets + (static_cast<int64_t>(image) * A + tile_begin) * slots;
  for (int64_t e = tid; e < tile * slots; e += blockDim.x) {
    const int64_t t = e / slots;
    cls[e] = slot_of[t] == e - t * slots ? 1.f : 0.f;
  }
}

}  // namespace

void argmax_match(const float* similarity, int64_t num_rows, int64_t num_cols, const ArgmaxMatcherOptions& o,
                  const uint8_t* valid_rows, int32_t* matches, Stream stream) {
  validate(o);
  TRAINER_CHECK(num_rows >= 0 && num_cols >= 0 && num_rows < (int64_t{1} << 31) && num_cols < (int64_t{1} << 31),
                "cuda::argmax_match: bad sizes ", num_rows, " x ", num_cols);
  if (num_cols == 0) return;
  const bool force = o.force_match_for_each_row && num_rows > 0;
  DeviceBuffer row_best(force ? sizeof(int32_t) * num_rows : 0);
  if (force) row_argmax(MatrixRows{similarity, num_rows, num_cols, valid_rows}, num_cols, 1, num_rows, row_best, stream);
  TRAINER_CUDA_CHECK(cudaemu::launch(match_columns_kernel, dim3(static_cast<unsigned>((num_cols + kThreads - 1) / kThreads)),
                                     dim3(kThreads), 0, stream, similarity, num_rows, num_cols, o,
                                     force ? row_best.as<const int32_t>() : nullptr, matches));
}

void assign_targets_batch(const float* anchors, int64_t num_anchors, const BatchGroundTruth& gt,
                          int64_t num_classes, const TargetAssignerOptions& o, const BatchTargetsOut& out,
                          Stream stream) {
  validate(o.matcher);
  TRAINER_CHECK(num_classes >= 1 && num_classes < (int64_t{1} << 30), "cuda::assign_targets_batch: num_classes ",
                num_classes, " must be >= 1");
  TRAINER_CHECK(gt.images >= 0 && gt.images < 65536, "cuda::assign_targets_batch: ", gt.images,
                " images in one call (at most 65535)");
  TRAINER_CHECK(num_anchors >= 0 && num_anchors < (int64_t{1} << 31) && gt.total >= 0 && gt.total < (int64_t{1} << 31),
                "cuda::assign_targets_batch: bad sizes: ", num_anchors, " anchors, ", gt.total, " boxes");
  TRAINER_CHECK(gt.total == 0 || (gt.boxes && gt.labels), "cuda::assign_targets_batch: ", gt.total,
                " ground-truth boxes without box or label data");
  if (out.num_positives) TRAINER_CUDA_CHECK(cudaMemsetAsync(out.num_positives, 0, sizeof(int64_t), stream));
  if (out.invalid_labels) {
    TRAINER_CUDA_CHECK(cudaMemsetAsync(out.invalid_labels, 0, sizeof(int32_t), stream));
    if (gt.total > 0)
      for_each_index(gt.total, CountInvalidLabels{gt.labels, static_cast<int32_t>(num_classes), out.invalid_labels},
                     stream);
  }
  if (gt.images == 0 || num_anchors == 0) return;
  const bool vec = boxmath::aligned16(anchors) && boxmath::aligned16(out.reg_targets);
  const bool force = o.matcher.force_match_for_each_row && gt.total > 0;
  DeviceBuffer row_best(force ? sizeof(int32_t) * gt.total : 0);
  if (force) {
    if (vec)
      row_argmax(IouRows<true>{gt.boxes, gt.is_crowd, gt.offsets, anchors}, num_anchors, gt.images, gt.total, row_best,
                 stream);
    else
      row_argmax(IouRows<false>{gt.boxes, gt.is_crowd, gt.offsets, anchors}, num_anchors, gt.images, gt.total,
                 row_best, stream);
  }
  const AssignProblem p{anchors,
                        num_anchors,
                        gt.boxes,
                        gt.labels,
                        gt.is_crowd,
                        gt.offsets,
                        force ? row_best.as<const int32_t>() : nullptr,
                        static_cast<int32_t>(num_classes),
                        o.background_slot ? 0 : 1,
                        o.matcher,
                        boxmath::coder_factors(o.box_coder),
                        o.negative_class_weight,
                        out};
  const dim3 grid(static_cast<unsigned>((num_anchors + kThreads - 1) / kThreads), static_cast<unsigned>(gt.images));
  TRAINER_CUDA_CHECK(
      cudaemu::launch(vec ? assign_kernel<true> : assign_kernel<false>, grid, dim3(kThreads), 0, stream, p));
}

}  // namespace trainer::cuda
