#include "trainer/ops/linear.h"

#include "dispatch.h"
#include "gemm_runner.h"
#include "trainer/kernels/cpu/elementwise.h"
#include "trainer/kernels/cpu/matmul.h"
#include "trainer/kernels/cuda/elementwise.h"
#include "trainer/kernels/cuda/matmul_native.h"
#include "trainer/ops/graph_recorder.h"
#include "trainer/ops/shape_ops.h"
#include "trainer/ops/tensor_math.h"
#if TRAINER_HAS_CUDA_KERNELS && !TRAINER_CUDA_EMULATED
#include "trainer/kernels/cuda/matmul.h"  // cuBLASLt
#endif

namespace trainer::ops {
namespace {

// c (= or +=) op(a) * op(b) + bias on a's device.
void run_matmul(const ops_detail::GemmRunner& runner, const char* op, const MatmulShape& s, const Tensor& a,
                const Tensor& b, const float* bias, Tensor& c, bool accumulate = false) {
  runner.run(
      op, a, [&] { cpu::matmul(s, a.dtype(), a.raw(), b.raw(), bias, c.dtype(), c.raw(), accumulate); },
      [&] {
        cuda::matmul(s, a.dtype(), a.raw(), b.raw(), bias, c.dtype(), c.raw(), accumulate, runner.stream,
                     runner.gemm);
      },
      [&](auto& lib) { cuda::matmul(lib, s, a.dtype(), a.raw(), b.raw(), bias, c.dtype(), c.raw(), accumulate); });
}

}  // namespace

Tensor linear(Context& ctx, const Tensor& x_in, const Tensor& w_in, const Tensor& bias) {
  ops_detail::check_rank("linear", x_in, 2, "[batch, features]");
  ops_detail::check_rank("linear", w_in, 2, "[out, in] weight");
  TRAINER_CHECK(x_in.dim(1) == w_in.dim(1), "linear: input ", x_in.describe(), " has ", x_in.dim(1),
                " features, weight ", w_in.describe(), " expects ", w_in.dim(1));
  if (bias.defined())
    TRAINER_CHECK(bias.dtype() == DType::F32 && bias.rank() == 1 && bias.dim(0) == w_in.dim(0), "linear: bias ",
                  bias.describe(), " for ", w_in.dim(0), " outputs");
  const Tensor x = cast(ctx, x_in, ctx.gemm_dtype()).contiguous();
  const Tensor w = cast(ctx, w_in, ctx.gemm_dtype()).contiguous();
  ops_detail::check_same("linear", x, w);
  const int64_t n = x.dim(0), in = x.dim(1), out = w.dim(0);
  Tensor y = Tensor::empty({n, out}, x.dtype(), x.device());
  const Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  TRAINER_CHECK(!b.defined() || b.device() == x.device(), "linear: bias ", b.describe(), " is not on ",
                x.describe(), "'s device");
  const ops_detail::GemmRunner runner(ctx);
  run_matmul(runner, "linear", {n, out, in, false, true}, x, w, b.defined() ? b.data<float>() : nullptr, y);
  const bool bias_grad = b.defined() && b.requires_grad();
  if (ctx.tape && (x.requires_grad() || w.requires_grad() || bias_grad)) {
    ctx.tape->track(y);
    ctx.tape->record({x, w, b}, [x, w, b = GradRef(b), y = GradRef(y), n, in, out, bias_grad, runner](Tape& tape) {
      Tensor dy = tape.take_grad(y);
      if (!dy.defined()) return;
      dy = dy.contiguous();
      if (x.requires_grad()) {
        Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
        run_matmul(runner, "linear backward", {n, in, out, false, false}, dy, w, nullptr, dx);
        tape.accumulate(x, std::move(dx));
      }
      if (w.requires_grad()) {
        Tensor dw = Tensor::empty(w.shape(), DType::F32, w.device());  // f32: see conv2d's weight gradient
        run_matmul(runner, "linear backward", {out, in, n, true, false}, dy, x, nullptr, dw);
        tape.accumulate(w, std::move(dw));
      }
      if (bias_grad) {
        Tensor db = Tensor::empty({out}, dy.dtype(), dy.device());  // column sums of dy
        ops_detail::dispatch("linear backward", dy, runner.stream, [&](auto tag, auto backend) {
          using T = decltype(tag);
          TRAINER_RUN_KERNEL(backend, broadcast_reduce<T>, Broadcast{1, n, out}, dy.data<T>(), nullptr, db.data<T>());
        });
        tape.accumulate(b, math::cast(db, DType::F32));
      }
    });
  }
  if (ctx.recorder) ctx.recorder->linear(x_in, w_in, bias, y);
  return y;
}

Tensor matmul(Context& ctx, const Tensor& a, const Tensor& b) {
  ops_detail::check_rank("matmul", a, 2, "matrix");
  ops_detail::check_rank("matmul", b, 2, "matrix");
  ops_detail::check_same("matmul", a, b);
  TRAINER_CHECK(a.dim(1) == b.dim(0), "matmul: ", a.describe(), " x ", b.describe(), ": inner dims differ");
  const Tensor ac = a.contiguous(), bc = b.contiguous();
  const int64_t m = a.dim(0), k = a.dim(1), n = b.dim(1);
  Tensor c = Tensor::empty({m, n}, a.dtype(), a.device());
  const ops_detail::GemmRunner runner(ctx);
  run_matmul(runner, "matmul", {m, n, k, false, false}, ac, bc, nullptr, c);
  if (ctx.recording(a, b)) {
    ctx.tape->track(c);
    ctx.tape->record({ac, bc}, [ac, bc, c = GradRef(c), m, k, n, runner](Tape& tape) {
      Tensor dc = tape.take_grad(c);
      if (!dc.defined()) return;
      dc = dc.contiguous();
      if (ac.requires_grad()) {  // da = dc * b^T
        Tensor da = Tensor::empty(ac.shape(), ac.dtype(), ac.device());
        run_matmul(runner, "matmul backward", {m, k, n, false, true}, dc, bc, nullptr, da);
        tape.accumulate(ac, std::move(da));
      }
      if (bc.requires_grad()) {  // db = a^T * dc
        Tensor db = Tensor::empty(bc.shape(), bc.dtype(), bc.device());
        run_matmul(runner, "matmul backward", {k, n, m, true, false}, ac, dc, nullptr, db);
        tape.accumulate(bc, std::move(db));
      }
    });
  }
  if (ctx.recorder) ctx.recorder->refuse("matmul");
  return c;
}

}  // namespace trainer::ops
