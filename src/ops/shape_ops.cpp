#include "trainer/ops/shape_ops.h"

#include "dispatch.h"
#include "trainer/kernels/cpu/concat.h"
#include "trainer/kernels/cuda/concat.h"
#include "trainer/ops/graph_recorder.h"
#include "trainer/ops/tensor_math.h"

namespace trainer::ops {

Tensor cast(Context& ctx, const Tensor& x, DType to) {
  if (x.dtype() == to) return x;
  Tensor y = math::cast(x, to);
  if (ctx.recording(x)) {
    ctx.tape->track(y);
    ctx.tape->record({x}, [x = GradRef(x), from = x.dtype(), y = GradRef(y)](Tape& tape) {
      Tensor dy = tape.take_grad(y);
      if (dy.defined()) tape.accumulate(x, math::cast(dy, from));
    });
  }
  if (ctx.recorder) ctx.recorder->refuse("cast between dtypes (export runs in f32)");
  return y;
}

Tensor reshape(Context& ctx, const Tensor& x, const Shape& shape) {
  Tensor y = x.detach().reshape(shape);
  if (ctx.recording(x)) {
    ctx.tape->track(y);
    ctx.tape->record({x}, [x = GradRef(x), y = GradRef(y)](Tape& tape) {
      Tensor dy = tape.take_grad(y);
      if (dy.defined()) tape.accumulate(x, dy.contiguous().reshape(x.shape));
    });
  }
  if (ctx.recorder) ctx.recorder->reshape(x, y);
  return y;
}

namespace {

// The [outer, extent, inner] view of `shape` around `axis` (kernels/cpu/concat.h).
std::pair<int64_t, int64_t> outer_inner(const Shape& shape, int axis) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  return {outer, inner};
}

// y = x[..., begin:end (along axis), ...] of a contiguous x.
Tensor slice_copy(const Tensor& x, int axis, int64_t begin, int64_t end, cuda::Stream stream) {
  Shape shape = x.shape();
  shape[axis] = end - begin;
  Tensor y = Tensor::empty(shape, x.dtype(), x.device());
  // Not a structured binding: clang before 16 cannot capture one in the lambda below.
  const std::pair<int64_t, int64_t> outer_and_inner = outer_inner(x.shape(), axis);
  const int64_t outer = outer_and_inner.first, inner = outer_and_inner.second;
  ops_detail::dispatch_device("slice", x, stream, [&](auto backend) {
    TRAINER_RUN_KERNEL(backend, slice, x.raw(), outer, x.dim(axis), inner, begin, end, dtype_size(x.dtype()),
                       y.raw());
  });
  return y;
}

}  // namespace

Tensor concat(Context& ctx, const std::vector<Tensor>& xs_in, int axis) {
  TRAINER_CHECK(!xs_in.empty(), "concat: no inputs");
  const Tensor& first = xs_in[0];
  if (axis < 0) axis += first.rank();
  TRAINER_CHECK(axis >= 0 && axis < first.rank(), "concat: axis out of range for ", first.describe());
  Shape shape = first.shape();
  shape[axis] = 0;
  std::vector<Tensor> xs;
  std::vector<const void*> pointers;
  std::vector<int64_t> extents;
  for (const Tensor& x : xs_in) {
    ops_detail::check_same("concat", first, x);
    TRAINER_CHECK(x.rank() == first.rank(), "concat: ", x.describe(), " vs ", first.describe());
    for (int d = 0; d < x.rank(); ++d)
      TRAINER_CHECK(d == axis || x.dim(d) == first.dim(d), "concat along axis ", axis, ": ", x.describe(), " vs ",
                    first.describe());
    shape[axis] += x.dim(axis);
    xs.push_back(x.contiguous());
    pointers.push_back(xs.back().raw());
    extents.push_back(x.dim(axis));
  }
  Tensor y = Tensor::empty(shape, first.dtype(), first.device());
  // Not a structured binding: clang before 16 cannot capture one in the lambda below.
  const std::pair<int64_t, int64_t> outer_and_inner = outer_inner(shape, axis);
  const int64_t outer = outer_and_inner.first, inner = outer_and_inner.second;
  ops_detail::dispatch_device("concat", first, ctx.stream, [&](auto backend) {
    TRAINER_RUN_KERNEL(backend, concat, pointers.data(), extents.data(), static_cast<int>(xs.size()), outer, inner,
                       dtype_size(first.dtype()), y.raw());
  });
  bool any = false;
  for (const Tensor& x : xs_in) any = any || ctx.recording(x);
  if (any) {
    ctx.tape->track(y);
    std::vector<GradRef> refs(xs_in.begin(), xs_in.end());
    ctx.tape->record(refs, [refs, y = GradRef(y), axis, stream = ctx.stream](Tape& tape) {
      Tensor dy = tape.take_grad(y);
      if (!dy.defined()) return;
      dy = dy.contiguous();
      int64_t off = 0;
      for (const GradRef& x : refs) {
        if (x.requires_grad()) tape.accumulate(x, slice_copy(dy, axis, off, off + x.shape[axis], stream));
        off += x.shape[axis];
      }
    });
  }
  if (ctx.recorder) ctx.recorder->concat(xs_in, axis, y);
  return y;
}

Tensor slice(Context& ctx, const Tensor& x_in, int axis, int64_t begin, int64_t end) {
  if (axis < 0) axis += x_in.rank();
  TRAINER_CHECK(axis >= 0 && axis < x_in.rank() && 0 <= begin && begin <= end && end <= x_in.dim(axis),
                "slice [", begin, ", ", end, ") along axis ", axis, " of ", x_in.describe());
  const Tensor x = x_in.contiguous();
  Tensor y = slice_copy(x, axis, begin, end, ctx.stream);
  if (ctx.recording(x)) {
    ctx.tape->track(y);
    ctx.tape->record({x}, [x = GradRef(x), y = GradRef(y), axis, begin, end, stream = ctx.stream](Tape& tape) {
      Tensor dy = tape.take_grad(y);
      if (!dy.defined()) return;
      dy = dy.contiguous();
      Tensor dx = Tensor::empty(x.shape, dy.dtype(), dy.device());
      // Not a structured binding: clang before 16 cannot capture one in the lambda below.
      const std::pair<int64_t, int64_t> outer_and_inner = outer_inner(x.shape, axis);
      const int64_t outer = outer_and_inner.first, inner = outer_and_inner.second;
      ops_detail::dispatch_device("slice backward", dy, stream, [&](auto backend) {
        TRAINER_RUN_KERNEL(backend, slice_backward, dy.raw(), outer, x.shape[axis], inner, begin, end,
                           dtype_size(dy.dtype()), dx.raw());
      });
      tape.accumulate(x, std::move(dx));
    });
  }
  if (ctx.recorder) ctx.recorder->slice(x_in, axis, begin, end, y);
  return y;
}

}  // namespace trainer::ops
