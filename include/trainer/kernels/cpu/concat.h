// Concatenation and slicing along one axis, CPU backend (cuda/concat.h takes the same arguments
// plus a stream). A tensor is viewed as [outer, extent, inner] around the axis; sizes are in
// elements of `elem_size` bytes, so any dtype works.
#pragma once

#include <cstddef>
#include <cstdint>

namespace trainer::cpu {

// y: [outer, sum(extents), inner] = xs[0] | xs[1] | ... along the middle axis.
void concat(const void* const* xs, const int64_t* extents, int count, int64_t outer, int64_t inner, size_t elem_size,
            void* y);
// y: [outer, end - begin, inner] = x[:, begin:end, :].
void slice(const void* x, int64_t outer, int64_t extent, int64_t inner, int64_t begin, int64_t end, size_t elem_size,
           void* y);
// dx: [outer, extent, inner] = 0 outside [:, begin:end, :] and dy inside.
void slice_backward(const void* dy, int64_t outer, int64_t extent, int64_t inner, int64_t begin, int64_t end,
                    size_t elem_size, void* dx);

}  // namespace trainer::cpu
