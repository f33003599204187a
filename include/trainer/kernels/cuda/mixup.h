// Mixup's blend on the CUDA backend: cpu/mixup.h's signature and formulas (the same explicit
// FMAs, so the same bits) plus the stream. Pointers are device memory; T is float, float16 or
// bfloat16 (the images), arithmetic in float. A label outside [0, classes) makes its sample's
// target row NaN, and so the loss (the CPU backend throws; a device kernel cannot). Asynchronous
// on `stream`.
//
// Design (src/kernels/cuda/mixup.cu): two grid-stride launches, one thread per output element:
// the images ([N, sample_size]; each thread finds its sample by one division and reads the
// element and its partner's) and the targets ([N, K]; each thread compares its class with the
// two labels). Nothing is reduced, so the result does not depend on the thread order.
//
// Cost at ResNet-50, batch 256, 224x224x3 bf16 images (38.5 M elements): writes 77 MB and
// reads each sample twice (as x_i and as x_{N-1-i}), 154 MB: ~69 us of HBM3 at 3.35 TB/s, the
// compulsory 154 MB ~46 us. The targets (256 x 1000 f32, 1 MB) are launch-bound (a few us).
#pragma once

#include <cstdint>

#include "trainer/kernels/cuda/stream.h"
#include "trainer/kernels/shapes.h"

namespace trainer::cuda {

template <class T>
void mixup_blend(const MixupShape& s, const T* images, const int32_t* labels, const float* lambdas, T* mixed,
                 float* targets, Stream stream);

}  // namespace trainer::cuda
