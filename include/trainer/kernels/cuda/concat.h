// Concatenation and slicing along one axis on the CUDA backend, as copy kernels: what
// ops/shape_ops.cpp's concat and slice (and their gradients) need. A tensor is viewed as
// [outer, extent, inner] around the axis (outer = product of the dims before it, inner = of
// those after), so every piece is a 2-D copy of `outer` rows. Element type agnostic: sizes are
// in elements of `elem_size` bytes (any dtype, integers too). Pointers are device memory;
// host arrays (xs, extents) are read before the call returns. Asynchronous on `stream`.
//
// Design (src/kernels/cuda/concat.cu): one launch copies up to 8 pieces (grid z = piece) with
// blocks of BX x BY = 256 threads, BX over a row's units and BY over rows, both grid-stride.
// The unit is the widest of 16/8/4/2/1 bytes that divides every address, row length and row
// pitch involved, so aligned NHWC channel concatenations (C a multiple of 8 bf16 / 4 f32) move
// 16 bytes per load and store (LDG.128/STG.128, a warp 512 contiguous bytes).
//
// Cost: every byte read once and written once, no arithmetic: at 3.35 TB/s (H100 HBM3), 1 GB
// of concatenated output takes 0.6 ms. The ResNet-50 classifier concatenates nothing; SSD320's
// ResNet-50 FPN heads concatenate the class logits of 5 levels, [N, 12804 anchors, 91]: at
// batch 256, 1.19 GB in f32 (0.6 GB in bf16) -> 0.71 ms (0.36 ms), and its gradient is sliced
// back the same way.
#pragma once

#include <cstddef>
#include <cstdint>

#include "trainer/kernels/cuda/stream.h"

namespace trainer::cuda {

// y: [outer, sum(extents), inner] = xs[0] | xs[1] | ... along the middle axis, where xs[i] is
// [outer, extents[i], inner]. xs and extents are host arrays of `count` entries.
void concat(const void* const* xs, const int64_t* extents, int count, int64_t outer, int64_t inner, size_t elem_size,
            void* y, Stream stream);

// y: [outer, end - begin, inner] = x[:, begin:end, :] of x: [outer, extent, inner].
// (concat's backward: one slice of dy per input.)
void slice(const void* x, int64_t outer, int64_t extent, int64_t inner, int64_t begin, int64_t end, size_t elem_size,
           void* y, Stream stream);

// slice's backward in one pass: dx: [outer, extent, inner] = 0 outside [:, begin:end, :],
// dy: [outer, end - begin, inner] inside.
void slice_backward(const void* dy, int64_t outer, int64_t extent, int64_t inner, int64_t begin, int64_t end,
                    size_t elem_size, void* dx, Stream stream);

}  // namespace trainer::cuda
