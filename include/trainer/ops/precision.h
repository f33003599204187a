// The precision policy: the one place that decides which dtype each class of op computes in and
// stores its output in, for every model and both backends (src/ops/README.md, "Precision").
// Models never cast by hand: convolutions and matmuls cast their operands to gemm(); the layers
// between them keep whatever dtype arrives (the activations' dtype); losses, softmax, batchnorm
// statistics, reductions, the optimizer and box decoding are f32 islands that widen their inputs
// themselves. Master weights, gradients' flat buffer and optimizer state are always f32.
#pragma once

#include <string>

#include "trainer/core/dtype.h"

namespace trainer {

// What an op does, for the precision it gets (and the `--mode summary` table).
enum class OpClass : uint8_t {
  Gemm,           // convolution, matmul / linear: the tensor-core work
  Elementwise,    // activations, pooling, resampling, add/mul, concat: f32 in registers
  Normalization,  // batchnorm: f32 statistics, output in the activations' dtype
  Loss,           // softmax cross-entropy, focal, smooth L1: f32 throughout
  Reduction,      // sums, norms, finite checks: f32 accumulators
  Optimizer,      // momentum SGD, EMA, loss scaling: f32 master state
  BoxDecoding,    // anchors, box encode/decode, NMS: f32
};
const char* op_class_name(OpClass c);

struct OpPrecision {
  DType compute;  // what the arithmetic runs in (f32 accumulation for every 16-bit gemm)
  DType output;   // what the op stores
  bool tf32;      // f32 gemm operands rounded to TF32 on tensor cores (CUDA)
};

class PrecisionPolicy {
 public:
  // The four modes of precision.compute_dtype.
  enum class Mode : uint8_t { FP32, TF32, BF16, FP16 };

  PrecisionPolicy() = default;
  explicit PrecisionPolicy(Mode mode) : mode_(mode) {}
  // The policy whose gemms and activations are `dtype` (F32, BF16 or F16).
  static PrecisionPolicy computing_in(DType dtype);

  Mode mode() const { return mode_; }
  const char* name() const;  // "FP32", "TF32", "BF16", "FP16"

  // The dtype of gemm operands and of the activations stored between layers (images included).
  DType activations() const {
    return mode_ == Mode::BF16 ? DType::BF16 : mode_ == Mode::FP16 ? DType::F16 : DType::F32;
  }
  DType gemm() const { return activations(); }
  // CUDA: f32 convolutions and matmuls may round their operands to TF32 (cuDNN's and cuBLASLt's
  // TF32 math modes, our WMMA tf32 path). CPUs have no TF32 units: there TF32 is FP32.
  bool allow_tf32() const { return mode_ == Mode::TF32; }
  // fp16's 5-bit exponent loses small gradients without a loss scale; bf16 has f32's range.
  bool needs_loss_scaling() const { return mode_ == Mode::FP16; }

  OpPrecision of(OpClass c) const;
  // "conv/matmul bf16 (f32 accumulation), activations bf16; f32: losses, ..." for start-up logs.
  std::string describe() const;

 private:
  Mode mode_ = Mode::FP32;
};

}  // namespace trainer
