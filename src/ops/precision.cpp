#include "trainer/ops/precision.h"

#include "trainer/core/error.h"

namespace trainer {

const char* op_class_name(OpClass c) {
  switch (c) {
    case OpClass::Gemm: return "gemm";
    case OpClass::Elementwise: return "elementwise";
    case OpClass::Normalization: return "normalization";
    case OpClass::Loss: return "loss";
    case OpClass::Reduction: return "reduction";
    case OpClass::Optimizer: return "optimizer";
    case OpClass::BoxDecoding: return "box decoding";
  }
  return "?";
}

const char* PrecisionPolicy::name() const {
  switch (mode_) {
    case Mode::FP32: return "FP32";
    case Mode::TF32: return "TF32";
    case Mode::BF16: return "BF16";
    case Mode::FP16: return "FP16";
  }
  return "?";
}

PrecisionPolicy PrecisionPolicy::computing_in(DType dtype) {
  switch (dtype) {
    case DType::F32: return PrecisionPolicy(Mode::FP32);
    case DType::BF16: return PrecisionPolicy(Mode::BF16);
    case DType::F16: return PrecisionPolicy(Mode::FP16);
    default: fail("precision: ", dtype_name(dtype), " is not a compute dtype (f32, bf16 or f16)");
  }
}

OpPrecision PrecisionPolicy::of(OpClass c) const {
  switch (c) {
    case OpClass::Gemm: return {gemm(), activations(), allow_tf32()};
    // 16-bit elementwise kernels load, widen to f32 in registers and round once on the store;
    // batchnorm's mean and variance are f32 sums whatever the input.
    case OpClass::Elementwise:
    case OpClass::Normalization: return {DType::F32, activations(), false};
    case OpClass::Loss:
    case OpClass::Reduction:
    case OpClass::Optimizer:
    case OpClass::BoxDecoding: return {DType::F32, DType::F32, false};
  }
  return {DType::F32, DType::F32, false};
}

std::string PrecisionPolicy::describe() const {
  const std::string act(dtype_name(activations()));
  std::string s = std::string(name()) + ": convolutions and matmuls " +
                  (allow_tf32() ? "tf32 on CUDA tensor cores (f32 on CPUs)" : act);
  if (activations() != DType::F32) s += " with f32 accumulation";
  s += ", activations " + act + ", f32 master weights, losses, batchnorm statistics, reductions and optimizer";
  if (needs_loss_scaling()) s += "; loss scaling";
  return s;
}

}  // namespace trainer
