#include "trainer/ops/elementwise.h"

#include "dispatch.h"
#include "trainer/kernels/cpu/activation.h"
#include "trainer/kernels/cpu/elementwise.h"
#include "trainer/kernels/cuda/activation.h"
#include "trainer/kernels/cuda/elementwise.h"
#include "trainer/ops/graph_recorder.h"

namespace trainer::ops {
namespace {

// Describes b's broadcast against a (see kernels/shapes.h), or fails naming both.
Broadcast broadcast_of(const char* op, const Tensor& a, const Tensor& b) {
  const int rank = a.rank();
  TRAINER_CHECK(b.rank() <= rank, op, ": cannot broadcast ", b.describe(), " to ", a.describe());
  Shape bs(rank, 1);
  for (int i = 0; i < b.rank(); ++i) bs[rank - b.rank() + i] = b.dim(i);
  int first = -1, last = -1;
  for (int i = 0; i < rank; ++i) {
    if (bs[i] == a.dim(i)) continue;
    TRAINER_CHECK(bs[i] == 1, op, ": ", b.describe(), " does not broadcast to ", a.describe());
    if (first < 0) first = i;
    last = i;
  }
  Broadcast bc;
  if (first < 0) {
    bc.inner = a.numel();
    return bc;
  }
  for (int i = first; i <= last; ++i)
    TRAINER_CHECK(bs[i] == 1 || a.dim(i) == 1, op, ": ", b.describe(), " broadcasts to ", a.describe(),
                  " along non-adjacent axes, which is not supported");
  for (int i = 0; i < first; ++i) bc.outer *= a.dim(i);
  for (int i = first; i <= last; ++i) bc.mid *= a.dim(i);
  for (int i = last + 1; i < rank; ++i) bc.inner *= a.dim(i);
  return bc;
}

Tensor binary(Context& ctx, BinaryOp op, const char* name, const Tensor& a_in, const Tensor& b_in) {
  ops_detail::check_same(name, a_in, b_in);
  // Commutative ops accept the broadcast operand on either side.
  const bool swap = op != BinaryOp::Sub && a_in.numel() < b_in.numel();
  const Tensor a = (swap ? b_in : a_in).contiguous(), b = (swap ? a_in : b_in).contiguous();
  const Broadcast bc = broadcast_of(name, a, b);
  Tensor y = Tensor::empty(a.shape(), a.dtype(), a.device());
  ops_detail::dispatch(name, a, ctx.stream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    TRAINER_RUN_KERNEL(backend, binary_forward<T>, op, bc, a.data<T>(), b.data<T>(), y.data<T>());
  });
  if (ctx.recording(a, b)) {
    ctx.tape->track(y, name);
    const bool is_mul = op == BinaryOp::Mul;
    // Mul needs each operand's value for the other's gradient; add/sub need neither.
    ctx.tape->record({a, b}, [op, bc, a_ref = GradRef(a), b_ref = GradRef(b), a_val = is_mul ? a.detach() : Tensor(),
                      b_val = is_mul ? b.detach() : Tensor(), y = GradRef(y), stream = ctx.stream](Tape& tape) {
      Tensor dy = tape.take_grad(y);
      if (!dy.defined()) return;
      dy = dy.contiguous();
      ops_detail::dispatch("elementwise backward", dy, stream, [&](auto tag, auto backend) {
        using T = decltype(tag);
        if (a_ref.requires_grad()) {
          if (op == BinaryOp::Mul) {
            Tensor da = Tensor::empty(a_ref.shape, dy.dtype(), dy.device());
            TRAINER_RUN_KERNEL(backend, binary_forward<T>, BinaryOp::Mul, bc, dy.data<T>(), b_val.data<T>(),
                               da.data<T>());
            tape.accumulate(a_ref, std::move(da));
          } else {
            tape.accumulate(a_ref, dy);
          }
        }
        if (b_ref.requires_grad()) {
          Tensor db = Tensor::empty(b_ref.shape, dy.dtype(), dy.device());
          if (bc.mid == 1 && op != BinaryOp::Mul) {
            db.copy_from(dy.reshape(b_ref.shape));
          } else {
            TRAINER_RUN_KERNEL(backend, broadcast_reduce<T>, bc, dy.data<T>(),
                               op == BinaryOp::Mul ? a_val.data<T>() : nullptr, db.data<T>());
          }
          if (op == BinaryOp::Sub) TRAINER_RUN_KERNEL(backend, scale<T>, db.data<T>(), -1.f, db.data<T>(), db.numel(), false);
          tape.accumulate(b_ref, std::move(db));
        }
      });
    }, name);
  }
  if (ctx.recorder) {
    const RecordedBinary kind = op == BinaryOp::Add   ? RecordedBinary::Add
                                : op == BinaryOp::Sub ? RecordedBinary::Sub
                                                      : RecordedBinary::Mul;
    ctx.recorder->binary(kind, a_in, b_in, y);
  }
  return y;
}

}  // namespace

Tensor add(Context& ctx, const Tensor& a, const Tensor& b) { return binary(ctx, BinaryOp::Add, "add", a, b); }
Tensor sub(Context& ctx, const Tensor& a, const Tensor& b) { return binary(ctx, BinaryOp::Sub, "sub", a, b); }
Tensor mul(Context& ctx, const Tensor& a, const Tensor& b) { return binary(ctx, BinaryOp::Mul, "mul", a, b); }

Tensor add_relu(Context& ctx, const Tensor& a_in, const Tensor& b_in) {
  ops_detail::check_same("add_relu", a_in, b_in);
  TRAINER_CHECK(a_in.shape() == b_in.shape(), "add_relu: operands ", a_in.describe(), " and ", b_in.describe(),
                " differ in shape");
  const Tensor a = a_in.contiguous(), b = b_in.contiguous();
  Tensor y = Tensor::empty(a.shape(), a.dtype(), a.device());
  ops_detail::dispatch("add_relu", a, ctx.stream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    TRAINER_RUN_KERNEL(backend, binary_forward<T>, BinaryOp::AddRelu, Broadcast{1, 1, a.numel()}, a.data<T>(),
                       b.data<T>(), y.data<T>());
  });
  if (ctx.recording(a, b)) {
    ctx.tape->track(y);
    ctx.tape->record({a, b}, [a_ref = GradRef(a), b_ref = GradRef(b), y_ref = GradRef(y), y_val = y.detach(),
                      stream = ctx.stream](Tape& tape) {
      Tensor dy = tape.take_grad(y_ref);
      if (!dy.defined()) return;
      dy = dy.contiguous();
      Tensor dz = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
      ops_detail::dispatch("add_relu backward", dy, stream, [&](auto tag, auto backend) {
        using T = decltype(tag);
        TRAINER_RUN_KERNEL(backend, activation_backward<T>, Activation::Relu, y_val.data<T>(), y_val.data<T>(),
                           dy.data<T>(), dz.data<T>(), dz.numel());
      });
      // Both operands get the masked gradient; the second a copy, since a slot may later be
      // accumulated into in place.
      if (a_ref.requires_grad() && b_ref.requires_grad()) tape.accumulate(b_ref, dz.clone());
      else if (b_ref.requires_grad()) tape.accumulate(b_ref, dz);
      if (a_ref.requires_grad()) tape.accumulate(a_ref, std::move(dz));
    });
  }
  if (ctx.recorder) ctx.recorder->binary(RecordedBinary::AddRelu, a_in, b_in, y);
  return y;
}

Tensor scale(Context& ctx, const Tensor& x_in, float alpha) {
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  ops_detail::dispatch("scale", x, ctx.stream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    TRAINER_RUN_KERNEL(backend, scale<T>, x.data<T>(), alpha, y.data<T>(), x.numel(), false);
  });
  if (ctx.recording(x)) {
    ctx.tape->track(y);
    ctx.tape->record({x}, [x = GradRef(x), y = GradRef(y), alpha, stream = ctx.stream](Tape& tape) {
      Tensor dy = tape.take_grad(y);
      if (!dy.defined()) return;
      dy = dy.contiguous();
      Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
      ops_detail::dispatch("scale backward", dy, stream, [&](auto tag, auto backend) {
        using T = decltype(tag);
        TRAINER_RUN_KERNEL(backend, scale<T>, dy.data<T>(), alpha, dx.data<T>(), dy.numel(), false);
      });
      tape.accumulate(x, std::move(dx));
    });
  }
  if (ctx.recorder) ctx.recorder->scale(x_in, alpha, y);
  return y;
}

}  // namespace trainer::ops
