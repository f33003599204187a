#include "op_harness.h"

#include <algorithm>
#include <cmath>

#if TRAINER_OPS_ON_CUDA
#include "trainer/kernels/cuda/runtime.h"
#endif

namespace trainer::testing {
namespace {

std::vector<DTensor> make_inputs(const OpCase& c, uint64_t seed) {
  Philox rng(seed, 0);
  std::vector<DTensor> xs;
  for (const InputSpec& spec : c.inputs) {
    DTensor t(spec.shape);
    auto near_kink = [&](double v) {
      for (double k : spec.avoid)
        if (std::abs(v - k) < 0.05) return true;
      return false;
    };
    for (double& v : t.v) {
      do {
        switch (spec.kind) {
          case InputKind::Uniform: v = rng.uniform(-1.f, 1.f); break;
          case InputKind::Wide: v = rng.uniform(-8.f, 8.f); break;
          case InputKind::Positive: v = rng.uniform(0.5f, 1.5f); break;
          case InputKind::Labels: v = static_cast<double>(rng.below(spec.num_classes)); break;
        }
      } while (near_kink(v));
    }
    xs.push_back(std::move(t));
  }
  return xs;
}

Tensor to_tensor(const DTensor& d, const InputSpec& spec, DType dtype) {
  if (spec.kind == InputKind::Labels) {
    std::vector<int32_t> v(d.v.begin(), d.v.end());
    return Tensor::from_vector(d.shape, v).to(test_device());
  }
  std::vector<float> v(d.v.begin(), d.v.end());
  return Tensor::from_floats(d.shape, v, spec.keep_f32 ? DType::F32 : dtype).to(test_device());
}

// Inputs as the op sees them: in bf16 / f16 mode the reference must see the same rounded values.
DTensor rounded(const DTensor& d, const InputSpec& spec, DType dtype) {
  if (spec.kind == InputKind::Labels || spec.keep_f32 || dtype == DType::F32) return d;
  DTensor r = d;
  for (double& v : r.v)
    v = dtype == DType::F16 ? float(float16(static_cast<float>(v))) : float(bfloat16(static_cast<float>(v)));
  return r;
}

double scale_of(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return std::max(m, 1e-3);
}

void expect_close(const std::string& what, const std::vector<float>& got, const std::vector<double>& want,
                  double tol) {
  ASSERT_EQ(got.size(), want.size()) << what;
  const double scale = scale_of(want);
  double worst = 0;
  size_t worst_i = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double err = std::abs(double(got[i]) - want[i]) / scale;
    if (!(err <= worst)) {  // also catches NaN
      worst = err;
      worst_i = i;
    }
  }
  EXPECT_LE(worst, tol) << what << ": element " << worst_i << " is " << got[worst_i] << ", reference "
                        << want[worst_i] << " (scale " << scale << ")";
}

}  // namespace

Device test_device() {
#if TRAINER_OPS_ON_CUDA
  static const bool registered = (cuda::register_runtime(), true);
  (void)registered;
  return Device::cuda();
#else
  return Device::cpu();
#endif
}

void check_all_dtypes(const OpCase& c) {
  check_op(c, DType::F32);
  check_op(c, DType::BF16);
  if (!test_device().is_cpu()) check_op(c, DType::F16);
}

void check_op(const OpCase& c, DType dtype, uint64_t seed) {
  SCOPED_TRACE(c.name + " in " + std::string(dtype_name(dtype)) + " on " + test_device().name());
  const std::vector<DTensor> raw = make_inputs(c, seed);
  std::vector<DTensor> ref_in;
  for (size_t i = 0; i < raw.size(); ++i) ref_in.push_back(rounded(raw[i], c.inputs[i], dtype));
  const DTensor want = c.reference(ref_in);
  const bool bf16 = dtype != DType::F32;  // f16 keeps more bits: bf16's tolerances hold it too

  // Forward, with every differentiable input tracked as a leaf whose gradient lands in an
  // f32 buffer we keep.
  Tape tape;
  Context ctx{&tape, c.training, PrecisionPolicy::computing_in(dtype)};
  ctx.device = test_device();
  std::vector<Tensor> xs, grads;
  for (size_t i = 0; i < raw.size(); ++i) {
    Tensor t = to_tensor(raw[i], c.inputs[i], dtype);
    Tensor g;
    if (c.inputs[i].differentiable) {
      g = Tensor::full(t.shape(), std::nan(""), DType::F32, t.device());  // must be overwritten
      tape.track_leaf(t, g);
    }
    xs.push_back(t);
    grads.push_back(g);
  }
  std::vector<Tensor> inputs = xs;
  Tensor y = c.ours(ctx, inputs);
  ASSERT_EQ(y.shape(), want.shape) << "output shape";
  expect_close("forward", y.to_floats(), want.v, bf16 ? c.bf16_forward_tol : c.forward_tol);

  // Backward with a random upstream gradient g: d<g, y>/dx against finite differences.
  Philox rng(seed, 1);
  DTensor g(want.shape);
  for (double& v : g.v) v = rng.uniform(-1.f, 1.f);
  std::vector<float> gf(g.v.begin(), g.v.end());
  tape.backward(y, Tensor::from_floats(y.shape(), gf, y.dtype()).to(y.device()));

  for (size_t i = 0; i < xs.size(); ++i) {
    if (!c.inputs[i].differentiable) continue;
    std::vector<double> fd(static_cast<size_t>(ref_in[i].numel()));
    std::vector<DTensor> probe = ref_in;
    for (int64_t j = 0; j < ref_in[i].numel(); ++j) {
      const double h = 1e-6 * std::max(1.0, std::abs(ref_in[i][j]));
      auto objective = [&](double value) {
        probe[i][j] = value;
        const DTensor out = c.reference(probe);
        double dot = 0;
        for (int64_t k = 0; k < out.numel(); ++k) dot += g[k] * out[k];
        return dot;
      };
      const double up = objective(ref_in[i][j] + h), down = objective(ref_in[i][j] - h);
      probe[i][j] = ref_in[i][j];
      fd[static_cast<size_t>(j)] = (up - down) / (2 * h);
    }
    expect_close("gradient of input " + std::to_string(i), grads[i].to_floats(), fd, bf16 ? c.bf16_grad_tol : c.grad_tol);
  }
}

}  // namespace trainer::testing
