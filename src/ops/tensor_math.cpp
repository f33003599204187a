#include "trainer/ops/tensor_math.h"

#include <cstring>

#include "dispatch.h"
#include "trainer/kernels/cpu/elementwise.h"
#include "trainer/kernels/cpu/optimizer.h"
#include "trainer/kernels/cuda/cast.h"
#include "trainer/kernels/cuda/elementwise.h"
#include "trainer/kernels/cuda/ema.h"
#include "trainer/kernels/cuda/loss_scale.h"
#include "trainer/kernels/cuda/momentum_sgd.h"
#include "trainer/kernels/cuda/reduce.h"

namespace trainer::math {

using ops_detail::check_same;
using ops_detail::dispatch;
using ops_detail::dispatch_device;

namespace {

constexpr cuda::Stream kDefaultStream = nullptr;

void check_flat_f32(const char* op, const Tensor& x) {
  TRAINER_CHECK(x.dtype() == DType::F32 && x.is_contiguous(), op, ": ", x.describe(),
                " (expected a contiguous f32 tensor)");
}

// Device kernels write their scalar results to device memory: an 8-byte cell per value, read
// back with one copy.
Tensor device_cells(int count, Device device) { return Tensor::zeros({count}, DType::I64, device); }

template <class V>
V cell_value(const Tensor& host_cells, int index) {
  V v;
  std::memcpy(&v, static_cast<const char*>(host_cells.raw()) + 8 * index, sizeof(V));
  return v;
}

template <class V>
V* cell_pointer(Tensor& cells, int index) {
  return reinterpret_cast<V*>(static_cast<char*>(cells.raw()) + 8 * index);
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  check_same("add", a, b);
  TRAINER_CHECK(a.shape() == b.shape(), "add: ", a.describe(), " + ", b.describe());
  Tensor y = Tensor::empty(a.shape(), a.dtype(), a.device());
  const Tensor ac = a.contiguous(), bc = b.contiguous();
  dispatch("add", a, kDefaultStream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    TRAINER_RUN_KERNEL(backend, binary_forward<T>, BinaryOp::Add, Broadcast{1, 1, a.numel()}, ac.data<T>(),
                       bc.data<T>(), y.data<T>());
  });
  return y;
}

void add_(Tensor& a, const Tensor& b) { axpy_(a, 1.f, b); }

void axpy_(Tensor& y, float alpha, const Tensor& x) {
  check_same("axpy", y, x);
  TRAINER_CHECK(y.shape() == x.shape() && y.is_contiguous(), "axpy: ", y.describe(), " += a * ", x.describe());
  const Tensor xc = x.contiguous();
  dispatch("axpy", y, kDefaultStream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    TRAINER_RUN_KERNEL(backend, scale<T>, xc.data<T>(), alpha, y.data<T>(), y.numel(), true);
  });
}

void scale_(Tensor& x, float alpha) {
  TRAINER_CHECK(x.is_contiguous(), "scale_: ", x.describe(), " is not contiguous");
  dispatch("scale", x, kDefaultStream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    TRAINER_RUN_KERNEL(backend, scale<T>, x.data<T>(), alpha, x.data<T>(), x.numel(), false);
  });
}

Tensor cast(const Tensor& x, DType to) {
  if (x.dtype() == to) return x;
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), to, x.device());
  ops_detail::dispatch_device("cast", x, kDefaultStream, [&](auto backend) {
    TRAINER_RUN_KERNEL(backend, cast, xc.raw(), x.dtype(), y.raw(), to, x.numel());
  });
  return y;
}

double sum(const Tensor& x) {
  const Tensor xc = x.contiguous();
  return dispatch("sum", x, kDefaultStream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    if constexpr (decltype(backend)::is_cuda) {
      Tensor cells = device_cells(1, x.device());
      cuda::sum<T>(xc.data<T>(), x.numel(), 1.0, cell_pointer<double>(cells, 0), nullptr, backend.stream);
      return cell_value<double>(cells.to(Device::cpu()), 0);
    } else {
      return cpu::sum<T>(xc.data<T>(), x.numel());
    }
  });
}

bool all_finite(const Tensor& x) {
  check_flat_f32("all_finite", x);
  return dispatch_device("all_finite", x, kDefaultStream, [&](auto backend) {
    if constexpr (decltype(backend)::is_cuda) {
      Tensor cells = device_cells(1, x.device());
      cuda::all_finite(x.data<float>(), x.numel(), cell_pointer<int32_t>(cells, 0), backend.stream);
      return cell_value<int32_t>(cells.to(Device::cpu()), 0) != 0;
    } else {
      return cpu::all_finite(x.data<float>(), x.numel());
    }
  });
}

double squared_norm(const Tensor& x) {
  check_flat_f32("squared_norm", x);
  return dispatch_device("squared_norm", x, kDefaultStream, [&](auto backend) {
    if constexpr (decltype(backend)::is_cuda) {
      Tensor cells = device_cells(1, x.device());
      cuda::squared_norm(x.data<float>(), x.numel(), cell_pointer<double>(cells, 0), nullptr, backend.stream);
      return cell_value<double>(cells.to(Device::cpu()), 0);
    } else {
      return cpu::squared_norm(x.data<float>(), x.numel());
    }
  });
}

UnscaleResult unscale_and_check_finite(Tensor& grads, float inv_scale, bool want_squared_norm) {
  check_flat_f32("unscale_and_check_finite", grads);
  UnscaleResult r;
  dispatch_device("unscale_and_check_finite", grads, kDefaultStream, [&](auto backend) {
    if constexpr (decltype(backend)::is_cuda) {
      Tensor cells = device_cells(2, grads.device());
      cuda::unscale_and_check_finite(grads.data<float>(), grads.numel(), inv_scale, cell_pointer<int32_t>(cells, 0),
                                     want_squared_norm ? cell_pointer<double>(cells, 1) : nullptr, backend.stream);
      const Tensor host = cells.to(Device::cpu());
      r.all_finite = cell_value<int32_t>(host, 0) != 0;
      r.squared_norm = cell_value<double>(host, 1);
    } else {
      int32_t finite = 0;
      cpu::unscale_and_check_finite(grads.data<float>(), grads.numel(), inv_scale, &finite,
                                    want_squared_norm ? &r.squared_norm : nullptr);
      r.all_finite = finite != 0;
    }
  });
  return r;
}

void ema_update_(Tensor& ema, const Tensor& w, float decay) {
  check_flat_f32("ema_update_", ema);
  check_flat_f32("ema_update_", w);
  TRAINER_CHECK(ema.numel() == w.numel() && ema.device() == w.device(), "ema_update_: moving average ",
                ema.describe(), " does not match the weights ", w.describe());
  dispatch_device("ema_update_", w, kDefaultStream, [&](auto backend) {
    TRAINER_RUN_KERNEL(backend, ema_update, ema.data<float>(), w.data<float>(), w.numel(), decay);
  });
}

Tensor sgd_segments_tensor(const std::vector<SgdSegment>& segments, Device device) {
  Tensor bytes = Tensor::empty({static_cast<int64_t>(segments.size() * sizeof(SgdSegment))}, DType::U8);
  if (!segments.empty()) std::memcpy(bytes.raw(), segments.data(), segments.size() * sizeof(SgdSegment));
  return bytes.to(device);
}

void momentum_sgd_step(Tensor& w, const Tensor& grad, Tensor& accum, const Tensor& segments, float lr,
                       float momentum, bool nesterov) {
  for (const Tensor* t : {static_cast<const Tensor*>(&w), &grad, static_cast<const Tensor*>(&accum)}) check_flat_f32("momentum_sgd_step", *t);
  TRAINER_CHECK(grad.numel() == w.numel() && accum.numel() == w.numel() && grad.device() == w.device() &&
                    accum.device() == w.device() && segments.device() == w.device() && segments.dtype() == DType::U8,
                "momentum_sgd_step: weights ", w.describe(), ", gradients ", grad.describe(), ", momentum ",
                accum.describe(), " and segments ", segments.describe(), " do not match");
  const int count = static_cast<int>(segments.numel() / static_cast<int64_t>(sizeof(SgdSegment)));
  const auto* table = static_cast<const SgdSegment*>(segments.raw());
  dispatch_device("momentum_sgd_step", w, kDefaultStream, [&](auto backend) {
    TRAINER_RUN_KERNEL(backend, momentum_sgd_step, w.data<float>(), grad.data<float>(), accum.data<float>(), table,
                       count, w.numel(), lr, momentum, nesterov);
  });
}

}  // namespace trainer::math
