// One harness for every op: forward against a naive double-precision reference, and the
// analytic backward (through the tape) against central finite differences of that reference
// in double. The same case runs in f32 and, with looser tolerances, in bf16 (and f16).
//
// A test binary built with TRAINER_OPS_ON_CUDA (the cuda_emu.ops.* tests) runs every case on
// the CUDA backend instead of the CPU: the same references and tolerances hold the CUDA
// kernels, run through the op front-ends, to the CPU's standard.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "trainer/core/random.h"
#include "trainer/core/tensor.h"
#include "trainer/ops/context.h"

namespace trainer::testing {

// A double-precision tensor for references.
struct DTensor {
  Shape shape;
  std::vector<double> v;
  DTensor() = default;
  explicit DTensor(Shape s) : shape(std::move(s)), v(static_cast<size_t>(shape_numel(shape)), 0.0) {}
  int64_t numel() const { return static_cast<int64_t>(v.size()); }
  double& operator[](int64_t i) { return v[static_cast<size_t>(i)]; }
  double operator[](int64_t i) const { return v[static_cast<size_t>(i)]; }
};

enum class InputKind { Uniform, Wide, Positive, Labels };  // [-1,1], [-8,8], [0.5,1.5], ints

struct InputSpec {
  Shape shape;
  InputKind kind = InputKind::Uniform;
  bool differentiable = true;
  int64_t num_classes = 0;  // Labels: values in [0, num_classes)
  DType dtype_override = DType::F32;  // parameters that stay f32 in mixed precision
  bool keep_f32 = false;
  // Kinks of the op (relu at 0, relu6 at 6): finite differences across them are meaningless,
  // so values within 0.05 of these are drawn again.
  std::vector<double> avoid = {};
};

struct OpCase {
  std::string name;
  std::vector<InputSpec> inputs;
  // Our op. Inputs arrive as tensors (tracked when differentiable); may use ctx.
  std::function<Tensor(Context&, std::vector<Tensor>&)> ours;
  // The naive reference on double inputs (labels arrive as doubles too).
  std::function<DTensor(const std::vector<DTensor>&)> reference;
  double forward_tol = 1e-5;  // relative to the output's scale
  double grad_tol = 2e-3;     // relative to the gradient's scale
  // bf16 keeps 8 significant bits: every rounded intermediate costs up to 2^-9 relative.
  double bf16_forward_tol = 2e-2;
  double bf16_grad_tol = 5e-2;
  bool training = true;
};

// Runs forward and gradient checks on the binary's device; dtype F32, BF16 or (CUDA only) F16
// (activations cast, keep_f32 inputs not).
void check_op(const OpCase& c, DType dtype = DType::F32, uint64_t seed = 1);

// check_op in every dtype the binary's device computes in: f32 and bf16, plus f16 on CUDA.
void check_all_dtypes(const OpCase& c);

// Where this binary's cases run: Device::cuda() with TRAINER_OPS_ON_CUDA, else the CPU.
Device test_device();

}  // namespace trainer::testing
