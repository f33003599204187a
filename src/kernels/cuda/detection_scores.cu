// Class scores for post-processing (cpu/detection_scores.cpp's definition): a transpose of
// [anchors, slots] to [classes, anchors] per image with a sigmoid on the way.
//
// GPU design. Read row by row, the logits of one class are `slots` elements apart (91 for
// SSD320), so a thread per output element would read one 32-byte sector per 4-byte logit. A
// block instead takes a 32-anchor x 32-class tile: its 32 x 8 threads read the tile's rows
// along the classes (consecutive addresses), apply the sigmoid, stage it in shared memory
// (33 columns, so the transposed read hits 32 different banks), and write it along the
// anchors (consecutive again). One pass over the logits and one over the scores: SSD320 at
// batch 32 reads 75 MB of f16 or 150 MB of f32 logits and writes 147 MB.
#include <math.h>

#include "elementwise.cuh"
#include "trainer/core/error.h"
#include "trainer/kernels/cuda/detection_scores.h"

namespace trainer::cuda {
namespace {

constexpr int kTile = 32;      // anchors x classes per block
constexpr int kTileRows = 8;   // threadIdx.y: each thread does kTile / kTileRows rows

struct ScoresProblem {
  int64_t anchors, slots, background, classes;
  float logit_scale;
};

template <class D>
__global__ void __launch_bounds__(kTile * kTileRows)
    detection_scores_kernel(const D* __restrict__ logits, ScoresProblem p, float* __restrict__ scores) {
  __shared__ float tile[kTile][kTile + 1];  // [anchor][class]
  const int64_t image = blockIdx.z, first_anchor = static_cast<int64_t>(blockIdx.x) * kTile,
                first_class = static_cast<int64_t>(blockIdx.y) * kTile;
  const D* in = logits + image * p.anchors * p.slots + p.background;
  for (int r = threadIdx.y; r < kTile; r += kTileRows) {
    const int64_t anchor = first_anchor + r, cls = first_class + threadIdx.x;
    if (anchor < p.anchors && cls < p.classes)
      tile[r][threadIdx.x] = 1.f / (1.f + expf(-(to_float(in[anchor * p.slots + cls]) / p.logit_scale)));
  }
  __syncthreads();
  float* out = scores + image * p.classes * p.anchors;
  for (int r = threadIdx.y; r < kTile; r += kTileRows) {
    const int64_t cls = first_class + r, anchor = first_anchor + threadIdx.x;
    if (anchor < p.anchors && cls < p.classes) out[cls * p.anchors + anchor] = tile[threadIdx.x][r];
  }
}

}  // namespace

template <class T>
void detection_scores(const T* logits, const DetectionScoresShape& s, float* scores, Stream stream) {
  TRAINER_CHECK(s.images >= 0 && s.anchors >= 0 && s.background >= 0 && s.classes() >= 0,
                "cuda::detection_scores: bad sizes ", s.images, " images x ", s.anchors, " anchors x ", s.slots,
                " slots (", s.background, " background)");
  TRAINER_CHECK(s.images < 65536, "cuda::detection_scores: ", s.images, " images in one call (at most 65535)");
  if (s.images == 0 || s.anchors == 0 || s.classes() == 0) return;
  const ScoresProblem p{s.anchors, s.slots, s.background, s.classes(), s.logit_scale};
  const dim3 grid(static_cast<unsigned>((s.anchors + kTile - 1) / kTile),
                  static_cast<unsigned>((s.classes() + kTile - 1) / kTile), static_cast<unsigned>(s.images));
  TRAINER_CUDA_CHECK(cudaemu::launch(detection_scores_kernel<device_t<T>>, grid, dim3(kTile, kTileRows), 0, stream,
                                     device_ptr(logits), p, scores));
}

template void detection_scores<float>(const float*, const DetectionScoresShape&, float*, Stream);
template void detection_scores<float16>(const float16*, const DetectionScoresShape&, float*, Stream);
template void detection_scores<bfloat16>(const bfloat16*, const DetectionScoresShape&, float*, Stream);

}  // namespace trainer::cuda
