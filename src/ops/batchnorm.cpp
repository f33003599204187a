#include "trainer/ops/batchnorm.h"

#include "dispatch.h"
#include "trainer/kernels/cpu/activation.h"
#include "trainer/kernels/cpu/batchnorm.h"
#include "trainer/kernels/cuda/activation.h"
#include "trainer/kernels/cuda/batchnorm.h"

namespace trainer::ops {
namespace {

void check_param(const Tensor& p, const Tensor& x, int64_t channels, const char* name) {
  TRAINER_CHECK(p.dtype() == DType::F32 && p.rank() == 1 && p.dim(0) == channels && p.device() == x.device() &&
                    p.is_contiguous(),
                "batch_norm: ", name, " is ", p.describe(), ", expected f32[", channels, "] on the input's device (",
                x.describe(), ")");
}

}  // namespace

Tensor batch_norm(Context& ctx, const Tensor& x_in, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                  Tensor& running_var, const BatchNormOptions& o) {
  TRAINER_CHECK(x_in.rank() >= 2, "batch_norm: input ", x_in.describe(), " needs a channel dimension");
  const int64_t C = x_in.dim(-1), rows = x_in.numel() / C;
  check_param(gamma, x_in, C, "gamma");
  check_param(beta, x_in, C, "beta");
  check_param(running_mean, x_in, C, "running_mean");
  check_param(running_var, x_in, C, "running_var");
  const Tensor x = x_in.contiguous();
  const bool batch_stats = ctx.training && !o.frozen;
  TRAINER_CHECK(!batch_stats || rows > 1, "batch_norm: training with one value per channel (", x.describe(),
                ") has no batch statistics; use a larger batch or freeze batchnorm");

  const Device device = x.device();
  // In eval, a copy of the running mean: backward must see this step's statistics.
  Tensor mean = batch_stats ? Tensor::empty({C}, DType::F32, device) : running_mean.clone();
  Tensor invstd = Tensor::empty({C}, DType::F32, device);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), device);
  ops_detail::dispatch("batch_norm", x, ctx.stream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    if (batch_stats) {
      Tensor var = Tensor::empty({C}, DType::F32, device);
      TRAINER_RUN_KERNEL(backend, batchnorm_stats<T>, x.data<T>(), rows, C, mean.data<float>(), var.data<float>());
      TRAINER_RUN_KERNEL(backend, batchnorm_finalize_stats, mean.data<float>(), var.data<float>(), C, rows,
                         o.epsilon, o.momentum, invstd.data<float>(), running_mean.data<float>(),
                         running_var.data<float>());
    } else {
      TRAINER_RUN_KERNEL(backend, batchnorm_finalize_stats, mean.data<float>(), running_var.data<float>(), C,
                         rows, o.epsilon, o.momentum, invstd.data<float>(), nullptr, nullptr);
    }
    TRAINER_RUN_KERNEL(backend, batchnorm_apply<T>, x.data<T>(), rows, C, mean.data<float>(), invstd.data<float>(),
                       gamma.data<float>(), beta.data<float>(), o.activation, y.data<T>());
  });

  if (ctx.tape && (x.requires_grad() || gamma.requires_grad() || beta.requires_grad())) {
    ctx.tape->track(y);
    // relu, relu6 and sigmoid differentiate from their output y; swish needs the
    // pre-activation, which backward recomputes from x rather than keeping a second
    // activation-sized tensor alive.
    const bool keep_y = o.activation != Activation::Identity && o.activation != Activation::Swish;
    ctx.tape->record({x, gamma, beta}, [x, gamma, beta, y_ref = GradRef(y), y_kept = keep_y ? y.detach() : Tensor(), mean, invstd,
                      batch_stats, act = o.activation, rows, C, stream = ctx.stream](Tape& tape) {
      Tensor dy = tape.take_grad(y_ref);
      if (!dy.defined()) return;
      dy = dy.contiguous();
      const Device device = x.device();
      const float* g = gamma.data<float>();
      const float* m = mean.data<float>();
      const float* is = invstd.data<float>();
      Tensor dx = x.requires_grad() ? Tensor::empty(x.shape(), x.dtype(), device) : Tensor();
      Tensor dgamma = Tensor::empty({C}, DType::F32, device), dbeta = Tensor::empty({C}, DType::F32, device);
      ops_detail::dispatch("batch_norm backward", x, stream, [&](auto tag, auto backend) {
        using T = decltype(tag);
        Tensor dz = dy;
        if (act != Activation::Identity) {
          dz = Tensor::empty(dy.shape(), dy.dtype(), device);
          Tensor known = y_kept;  // the output, or for swish the recomputed pre-activation
          if (!known.defined()) {
            known = Tensor::empty(x.shape(), x.dtype(), device);
            TRAINER_RUN_KERNEL(backend, batchnorm_apply<T>, x.data<T>(), rows, C, m, is, g, beta.data<float>(),
                               Activation::Identity, known.data<T>());
          }
          TRAINER_RUN_KERNEL(backend, activation_backward<T>, act, known.data<T>(), known.data<T>(), dy.data<T>(),
                             dz.data<T>(), dy.numel());
        }
        // With running statistics (frozen or eval) they are constants and the layer is affine:
        // dx = dz * gamma * invstd, which batchnorm_apply computes with mean 0 and beta 0.
        T* dx_batch = batch_stats && dx.defined() ? dx.data<T>() : nullptr;
        TRAINER_RUN_KERNEL(backend, batchnorm_backward<T>, dz.data<T>(), x.data<T>(), rows, C, m, is, g, dx_batch,
                           dgamma.data<float>(), dbeta.data<float>());
        if (!batch_stats && dx.defined()) {
          const Tensor zeros = Tensor::zeros({C}, DType::F32, device);
          TRAINER_RUN_KERNEL(backend, batchnorm_apply<T>, dz.data<T>(), rows, C, zeros.data<float>(), is, g,
                             zeros.data<float>(), Activation::Identity, dx.data<T>());
        }
      });
      if (dx.defined()) tape.accumulate(x, std::move(dx));
      tape.accumulate(gamma, std::move(dgamma));
      tape.accumulate(beta, std::move(dbeta));
    });
  }
  return y;
}

}  // namespace trainer::ops
