// Multi-class non-maximum suppression for a batch (cpu::multiclass_nms per image, exactly:
// box_math.cuh's NMS IoU, compiled without FMA contraction, CMakeLists.txt).
//
// GPU formulation. TF's greedy NMS is sequential: visit candidates by descending score (lower
// index first on ties) and keep each one that no kept box overlaps by IoU > threshold, until
// max_size_per_class are kept. Written as tiles:
//  1. class_nms_kernel, one 256-thread block per (class, image). Repeatedly take the next 256
//     candidates in visiting order (block_select.cuh: radix select + bitonic sort of unique
//     score/index keys, no full sort of the 12,804 anchors), then
//     a. mark each candidate that a box kept in an earlier tile suppresses (a thread per
//        candidate against the kept boxes, staged through shared memory 256 at a time);
//     b. build the tile's suppression bitmask in shared memory: bit j of row i says candidate i
//        suppresses the later candidate j (IoU > threshold), 256 x 256 bits, 8 words per row,
//        computed by (row, word) tasks spread over the block (65,536 IoUs, ~8 KiB);
//     c. one warp scans the tile in order: lane w holds word w of the "removed" set (seeded
//        from a.), a candidate whose bit is clear is kept and ORs its mask row in; the scan
//        stops at max_size_per_class. The same decisions as the sequential loop, because a
//        candidate is removed exactly when an earlier kept one overlaps it.
//     The kept anchor indices go to a scratch list per (image, class) in selection order. Most
//     classes finish in one or two tiles; the work is O(tiles x (256 + kept) x 256) IoUs plus,
//     per tile, 2-5 reads of the class's scores by the selection (L1/L2-resident: 51 KB for
//     12,804 anchors; coalesced with class-major scores, which is what post-processing
//     produces; anchor-major scores work too, one 32-byte sector per score). SSD320's 90
//     classes x batch give thousands of independent blocks, 22.6 KB of shared memory each.
//  2. merge_kernel, one block per image: the kept detections of all classes are keyed by
//     (score, class * per_class + selection position), so walking them in descending key order
//     is the CPU's stable sort by score with ties in class order, then selection order. Boxes
//     that the clip (to the image's own window, or one for all) leaves without area get no key
//     (dropped before the limit, as on the CPU);
//     the walk stops after max_total_size and writes boxes (clipped), scores and classes.
// Everything is integer or exact float comparisons on the inputs, so the result is the CPU's
// bit for bit, independent of thread scheduling.
#include "block_select.cuh"
#include "box_math.cuh"
#include "trainer/core/error.h"
#include "trainer/kernels/cuda/box_ops.h"
#include "trainer/kernels/cuda/check.h"
#include "trainer/kernels/cuda/runtime.h"

namespace trainer::cuda {
namespace {

using blockselect::Key;
using blockselect::kSelectThreads;
using blockselect::kSelectTile;
using boxmath::NmsBox;

constexpr int kMaskWords = kSelectTile / 32;

struct NmsProblem {
  const float* boxes;   // [images, a, 4]
  const float* scores;  // [images, a, k] or [images, k, a]
  int64_t a;
  int k;
  bool class_major;
  float iou_threshold, score_threshold;
  int per_class;        // min(max_size_per_class, a), >= 1
  int32_t* kept;        // [images, k, per_class] anchor indices in selection order
  int32_t* kept_count;  // [images, k]

  __device__ float score(int image, int64_t anchor, int cls) const {
    return class_major ? scores[(static_cast<int64_t>(image) * k + cls) * a + anchor]
                       : scores[(static_cast<int64_t>(image) * a + anchor) * k + cls];
  }
};

template <bool kVec>
__global__ void __launch_bounds__(kSelectThreads) class_nms_kernel(NmsProblem p) {
  __shared__ blockselect::SelectShared sel;
  __shared__ NmsBox cand[kSelectTile];
  __shared__ int32_t cand_index[kSelectTile];
  __shared__ NmsBox kept_box[kSelectTile];
  __shared__ unsigned mask[kSelectTile][kMaskWords];
  __shared__ unsigned removed[kMaskWords];
  __shared__ int kept_after_scan;

  const int cls = blockIdx.x, image = blockIdx.y;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const float* boxes = p.boxes + static_cast<int64_t>(image) * p.a * 4;
  int32_t* kept = p.kept + (static_cast<int64_t>(image) * p.k + cls) * p.per_class;
  const float threshold = p.iou_threshold;

  // Candidates: score > score_threshold (NaN never is), visited by descending score, then index.
  auto key = [&](int64_t i) -> Key {
    const float s = p.score(image, i, cls);
    return s > p.score_threshold ? blockselect::score_key(s, static_cast<uint32_t>(i)) : Key{0};
  };

  int total_kept = 0;
  Key bound = ~Key{0};
  while (total_kept < p.per_class) {
    const int count = blockselect::select_top(key, p.a, bound, kSelectTile, sel);
    if (count == 0) break;
    if (tid < count) {
      const int32_t index = static_cast<int32_t>(blockselect::key_rank(sel.keys[tid]));
      cand_index[tid] = index;
      cand[tid] = boxmath::nms_box(boxmath::load_box<kVec>(boxes, index));
    }
    // a. Suppression by the boxes kept in earlier tiles.
    bool suppressed = false;
    for (int base = 0; base < total_kept; base += kSelectTile) {
      __syncthreads();  // kept_box of the previous chunk is no longer read
      if (base + tid < total_kept) kept_box[tid] = boxmath::nms_box(boxmath::load_box<kVec>(boxes, kept[base + tid]));
      __syncthreads();
      const int chunk = total_kept - base < kSelectTile ? total_kept - base : kSelectTile;
      if (tid < count && !suppressed) {
        const NmsBox mine = cand[tid];
        for (int q = 0; q < chunk; ++q)
          if (boxmath::nms_iou(mine, kept_box[q]) > threshold) {
            suppressed = true;
            break;
          }
      }
    }
    __syncthreads();  // cand complete
    // b. The tile's bitmask: row i, word w covers candidates 32 w .. 32 w + 31 after i. A warp
    //    takes 32 consecutive rows of one word, so the inner loop's cand[j] is a broadcast and
    //    cand[row] (5-word stride) is conflict-free.
    for (int task = tid; task < count * kMaskWords; task += blockDim.x) {
      const int word = task / count, row = task - word * count;
      const NmsBox earlier = cand[row];
      unsigned bits = 0;
      const int first = word * 32;
      for (int b = 0; b < 32; ++b) {
        const int j = first + b;
        if (j > row && j < count && boxmath::nms_iou(cand[j], earlier) > threshold) bits |= 1u << b;
      }
      mask[row][word] = bits;
    }
    const unsigned flagged = __ballot_sync(blockselect::kAllLanes, suppressed);
    if (lane == 0) removed[warp] = flagged;  // warp w holds candidates 32 w .. 32 w + 31
    __syncthreads();
    // c. The greedy scan, one warp; lanes 0..7 hold the removed words.
    if (warp == 0) {
      unsigned word = lane < kMaskWords ? removed[lane] : 0u;
      int n_kept = total_kept;
      for (int t = 0; t < count && n_kept < p.per_class; ++t) {
        const unsigned w = __shfl_sync(blockselect::kAllLanes, word, t / 32);
        if ((w >> (t % 32)) & 1u) continue;
        if (lane == 0) kept[n_kept] = cand_index[t];
        ++n_kept;
        if (lane < kMaskWords) word |= mask[t][lane];
      }
      if (lane == 0) kept_after_scan = n_kept;
    }
    __syncthreads();
    total_kept = kept_after_scan;
    if (count < kSelectTile) break;  // every candidate visited
    bound = sel.keys[count - 1];
  }
  if (tid == 0) p.kept_count[static_cast<int64_t>(image) * p.k + cls] = total_kept;
}

struct MergeProblem {
  NmsProblem nms;
  bool clip;
  float window[4];             // [ymin, xmin, ymax, xmax] for every image, unless
  const float* image_windows;  // [images, 4]: one per image

  int limit;        // detections per image: the output capacity
  NmsDetections out;
};

// box_list_ops.clip_to_window as cpu::multiclass_nms does it (std::max(std::min(v, hi), lo)).
__device__ inline boxmath::Box clip_box(const boxmath::Box& b, const float* w) {
  using boxmath::std_max;
  using boxmath::std_min;
  return {std_max(std_min(b.y0, w[2]), w[0]), std_max(std_min(b.x0, w[3]), w[1]), std_max(std_min(b.y1, w[2]), w[0]),
          std_max(std_min(b.x1, w[3]), w[1])};
}

template <bool kVec>
__global__ void __launch_bounds__(kSelectThreads) merge_kernel(MergeProblem m) {
  __shared__ blockselect::SelectShared sel;
  const NmsProblem& p = m.nms;
  const int image = blockIdx.x, tid = threadIdx.x;
  const float* boxes = p.boxes + static_cast<int64_t>(image) * p.a * 4;
  const int32_t* kept = p.kept + static_cast<int64_t>(image) * p.k * p.per_class;
  const int32_t* kept_count = p.kept_count + static_cast<int64_t>(image) * p.k;
  const int64_t slots = static_cast<int64_t>(p.k) * p.per_class;
  const float* window = m.image_windows ? m.image_windows + 4 * image : m.window;

  // Slot i = (class c, selection position j); its rank i orders equal scores.
  auto key = [&](int64_t i) -> Key {
    const int c = static_cast<int>(i / p.per_class), j = static_cast<int>(i % p.per_class);
    if (j >= kept_count[c]) return 0;
    const int32_t anchor = kept[i];
    if (m.clip) {
      const boxmath::Box b = clip_box(boxmath::load_box<kVec>(boxes, anchor), window);
      if (!((b.y1 - b.y0) * (b.x1 - b.x0) > 0.f)) return 0;  // no area left: dropped
    }
    return blockselect::score_key(p.score(image, anchor, c), static_cast<uint32_t>(i));
  };

  const int64_t out_base = static_cast<int64_t>(image) * m.limit;
  int written = 0;
  Key bound = ~Key{0};
  while (written < m.limit) {
    const int want = m.limit - written < kSelectTile ? m.limit - written : kSelectTile;
    const int count = blockselect::select_top(key, slots, bound, want, sel);
    if (tid < count) {
      const uint32_t i = blockselect::key_rank(sel.keys[tid]);
      const int c = static_cast<int>(i / p.per_class);
      const int32_t anchor = kept[i];
      boxmath::Box b = boxmath::load_box<kVec>(boxes, anchor);
      if (m.clip) b = clip_box(b, window);
      const int64_t o = out_base + written + tid;
      boxmath::store4<false>(m.out.boxes, o, b.y0, b.x0, b.y1, b.x1);
      m.out.scores[o] = p.score(image, anchor, c);
      m.out.classes[o] = c;
    }
    written += count;
    if (count < want) break;  // every kept detection placed
    bound = sel.keys[count - 1];
    __syncthreads();  // sel.keys read above before the next selection overwrites it
  }
  for (int64_t o = written + tid; o < m.limit; o += blockDim.x) {
    boxmath::store4<false>(m.out.boxes, out_base + o, 0.f, 0.f, 0.f, 0.f);
    m.out.scores[out_base + o] = 0.f;
    m.out.classes[out_base + o] = -1;
  }
  if (tid == 0) m.out.counts[image] = written;
}

}  // namespace

void multiclass_nms(const float* boxes, const float* scores, int64_t images, int64_t a, int64_t k,
                    const cpu::MulticlassNmsOptions& o, const float* clip_windows, const NmsDetections& out,
                    Stream stream) {
  TRAINER_CHECK(images >= 0 && a >= 0 && k >= 0, "cuda::multiclass_nms: bad sizes ", images, " x ", a, " x ", k);
  TRAINER_CHECK(!(o.soft_nms_sigma > 0.f), "cuda::multiclass_nms: soft-NMS (soft_nms_sigma ", o.soft_nms_sigma,
                ") has no CUDA kernel; only greedy NMS runs on the device");
  TRAINER_CHECK(images < 65536, "cuda::multiclass_nms: ", images, " images in one call (at most 65535)");
  const int64_t per_class = std::max<int64_t>(0, std::min(o.max_size_per_class, a));
  TRAINER_CHECK(a < (int64_t{1} << 31) - 1 && k * per_class < (int64_t{1} << 31) - 1, "cuda::multiclass_nms: ", a,
                " boxes x ", k, " classes are too many");
  const int64_t capacity = cpu::multiclass_nms_capacity(a, k, o);
  if (images == 0) return;
  if (capacity == 0) {  // nothing can be kept: every image has no detections
    TRAINER_CUDA_CHECK(cudaMemsetAsync(out.counts, 0, sizeof(int32_t) * images, stream));
    return;
  }
  DeviceBuffer kept(sizeof(int32_t) * images * k * per_class), kept_count(sizeof(int32_t) * images * k);
  NmsProblem p{boxes, scores, a, static_cast<int>(k), o.class_major, o.iou_threshold, o.score_threshold,
               static_cast<int>(per_class), kept.as<int32_t>(), kept_count.as<int32_t>()};
  const bool vec = boxmath::aligned16(boxes);
  TRAINER_CUDA_CHECK(cudaemu::launch(vec ? class_nms_kernel<true> : class_nms_kernel<false>,
                                     dim3(static_cast<unsigned>(k), static_cast<unsigned>(images)),
                                     dim3(kSelectThreads), 0, stream, p));
  MergeProblem m{p,
                 o.clip,
                 {o.clip_window[0], o.clip_window[1], o.clip_window[2], o.clip_window[3]},
                 clip_windows,
                 static_cast<int>(capacity),
                 out};
  TRAINER_CUDA_CHECK(cudaemu::launch(vec ? merge_kernel<true> : merge_kernel<false>,
                                     dim3(static_cast<unsigned>(images)), dim3(kSelectThreads), 0, stream, m));
}

}  // namespace trainer::cuda
