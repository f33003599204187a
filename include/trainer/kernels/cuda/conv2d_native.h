// 2-D convolution on the CUDA backend with our own kernels (not cuDNN; conv2d.h is the cuDNN
// wrapper, the selectable alternative): the contract of cpu/conv2d.h — NHWC activations, OHWI
// weights ([O, KH, KW, C/groups]), per-side padding (TF 'SAME' asymmetric padding needs no padded
// copy: taps outside the input read as zero in the kernel), stride, dilation, groups including
// depthwise, f32 bias and weight gradients — plus the stream and GemmOptions. Pointers are device
// memory; `dtype` is f32, f16 or bf16. Asynchronous on `stream` (temporary workspace comes from the
// caching allocator, runtime.h).
//
// Numerics: products and sums in f32 (f16/bf16 operands are exact in f32; with allow_tf32, f32
// operands are rounded to TF32, 10-bit mantissa, before the products); bias, activation and the
// one rounding to `dtype` are applied to the f32 sum, as the CPU backend does. Results do not
// depend on scheduling: every sum has a fixed order (split-K partials are added in split order, no
// atomics), so reruns give the same bits.
//
// Kernels (src/kernels/cuda/gemm_core.cuh, conv_gemm.cuh, conv2d_depthwise.cu):
//  implicit GEMM, 256 threads per block, two shared-memory stages with register prefetch,
//  16-byte (LDG.128) operand loads when the channels per group are a multiple of 16 B / element
//  (ResNet: always, except the 3-channel stem, which takes the scalar-load instantiation):
//   f16/bf16        WMMA 16x16x16, f32 accumulate; block tile 128 x 128 x 32 (8 warps 2x4, warp
//                   tile 64x32) or 128 x 64 x 32 when the GEMM's N <= 64 (warps 4x2, 32x32);
//                   40 KiB (30 KiB) dynamic shared memory, __launch_bounds__(256, 2)
//   f32, tf32       WMMA 16x16x8, block tile 128 x 128 x 16 / 128 x 64 x 16, same shared memory
//   f32             SIMT FMAs, block tile 128 x 64 x 16, 8x4 outputs per thread, 30 KiB
//  Expected on an H100 (132 SMs, 228 KiB shared memory and 64 K registers per SM): 2 blocks =
//  16 warps per SM (25 % occupancy), bounded by registers (__launch_bounds__(256, 2): <= 128 per
//  thread; nvcc -Xptxas -v reports 96-128 and at most a few dozen bytes of spills); shared memory
//  would allow 5. The GEMM's M (N*OH*OW pixels) gives thousands of blocks at training batch
//  sizes. WMMA compiles to mma.sync (HMMA), not Hopper's wgmma, and operands go through
//  registers, not TMA/cp.async: an estimate (not measured: no GPU here) is 30-50 % of the dense
//  f16/bf16 peak (300-500 of 989 TFLOP/s) on large layers, tf32 150-250 of 495, f32 SIMT 25-40
//  of 67; compulsory-traffic roofline below.
//  depthwise (groups == C == O): direct kernels, bandwidth-bound, one output (input for the data
//   gradient) pixel x 16 bytes of channels per thread, weights pre-transposed to [KH*KW][C] f32;
//   the weight gradient is a per-(tap, channel) reduction, 32 channels x 8 pixel lanes per block,
//   split over pixels, merged in a fixed order.
//
// Cost per call (FLOPs = 2 x MACs; bytes = compulsory HBM traffic: each operand read once,
// each result written once; the im2col re-reads of the 3x3 / 7x7 taps hit L1/L2):
//   forward      2 * N*OH*OW * O * KH*KW*C/groups FLOPs; bytes (x + w + y) * sizeof(T) + 4*O
//   data grad    the same FLOPs less the taps that fall in the padding (stride phases skip the
//                taps that never reach a pixel); bytes (dy + w + dx) * sizeof(T)
//   weight grad  the same FLOPs as forward; bytes (x + dy) * sizeof(T) + 4 * |w| (+ split-K
//                partials: 8 * |w| * splits, splits = 1 unless M x N gives < 264 blocks)
// ResNet-50 at batch 256, bf16, H100 (989 TFLOP/s dense, 3.35 TB/s HBM3; ridge 295 FLOP/B):
//   layer                     GEMM M x N x K           GFLOP   MB    FLOP/B  bound (time at the roof)
//   stem 7x7/2 3->64 224^2    3211264 x 64 x 147       60.4    488   124     memory: writing y (0.15 ms);
//                                                                              scalar loads (C = 3)
//   3x3 64->64 56^2           802816 x 64 x 576        59.2    206   288     balanced (0.06 ms)
//   1x1 64->256 56^2          802816 x 256 x 64        26.3    514   51      memory (0.15 ms)
//   3x3 512->512 7^2 (dw)     4608 x 512 x 12544       59.2    35    1690    compute (0.06 ms); split-K 2:
//                                                                              + 38 MB of f32 partials
// Tile traffic per k step (16-bit, 128x128x32): 16 KiB of operands for 1 MFLOP (64 FLOP/B of
// shared-memory staging); each A tile is read by all N tiles while resident together (the grid
// runs N tiles fastest), so A's HBM traffic stays ~1x.
#pragma once

#include "trainer/core/dtype.h"
#include "trainer/kernels/cuda/gemm_options.h"
#include "trainer/kernels/cuda/stream.h"
#include "trainer/kernels/shapes.h"  // Activation, Conv2dShape

namespace trainer::cuda {

// y = act(conv(x, w) + bias). x: [N,H,W,C], w: [O,KH,KW,C/groups] and y: [N,OH,OW,O] in `dtype`;
// bias: [O] f32 or null.
void conv2d_forward(const Conv2dShape& s, DType dtype, const void* x, const void* w, const float* bias,
                    Activation act, void* y, Stream stream, const GemmOptions& options = {});

// dx = conv_transpose(dy, w). dy: [N,OH,OW,O], dx: [N,H,W,C], both in `dtype` (overwrites dx).
void conv2d_backward_data(const Conv2dShape& s, DType dtype, const void* dy, const void* w, void* dx, Stream stream,
                          const GemmOptions& options = {});

// dw (f32, OHWI) and optionally dbias (f32 [O]) from x and dy in `dtype`. Overwrites dw/dbias.
void conv2d_backward_weights(const Conv2dShape& s, DType dtype, const void* x, const void* dy, float* dw,
                             float* dbias, Stream stream, const GemmOptions& options = {});

}  // namespace trainer::cuda
