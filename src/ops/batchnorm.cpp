#include "trainer/ops/batchnorm.h"

#include <cmath>

#include "dispatch.h"
#include "trainer/kernels/cpu/activation.h"
#include "trainer/kernels/cpu/batchnorm.h"
#include "trainer/kernels/cuda/activation.h"
#include "trainer/kernels/cuda/batchnorm.h"
#include "trainer/dist/communicator.h"
#include "trainer/ops/elementwise.h"
#include "trainer/ops/graph_recorder.h"
#include "trainer/ops/shape_ops.h"
#include "trainer/ops/tensor_math.h"

namespace trainer::ops {
namespace {

void check_param(const Tensor& p, const Tensor& x, int64_t channels, const char* name) {
  TRAINER_CHECK(p.dtype() == DType::F32 && p.rank() == 1 && p.dim(0) == channels && p.device() == x.device() &&
                    p.is_contiguous(),
                "batch_norm: ", name, " is ", p.describe(), ", expected f32[", channels, "] on the input's device (",
                x.describe(), ")");
}

// SyncBN's collectives: the element-wise sum over the ranks of `packed` (f32, on its device).
// They queue behind any gradient buckets in flight, in the same order on every rank.
void sum_over_ranks(dist::Communicator& ranks, Tensor& packed) {
  ranks.start_allreduce_mean(packed);
  ranks.wait_reductions();
  math::scale_(packed, static_cast<float>(ranks.world_size()));
}

// For SyncBN's per-channel arithmetic on [C] vectors: the op's context (device, stream), with no
// tape and no observer.
Context untracked(const Context& from) {
  Context c = from;
  c.tape = nullptr;
  c.observer = nullptr;
  return c;
}

// The batch statistics over every rank's rows: each rank's sums of x and x^2 (from its mean and
// biased variance) and its row count, summed over the ranks. Returns the global mean and biased
// variance in `mean` and `var`, and the global row count.
int64_t synchronise_statistics(const Context& ctx, dist::Communicator& ranks, Tensor& mean, Tensor& var, int64_t rows) {
  Context c = untracked(ctx);
  const int64_t C = mean.numel();
  const float n = static_cast<float>(rows);
  const Tensor square_mean = ops::add(c, var, ops::mul(c, mean, mean));
  Tensor packed = ops::concat(c, {ops::scale(c, mean, n), ops::scale(c, square_mean, n),
                                  Tensor::full({1}, n, DType::F32, mean.device())}, 0);
  sum_over_ranks(ranks, packed);
  const double total = ops::slice(c, packed, 0, 2 * C, 2 * C + 1).to(Device::cpu()).item();
  const float inverse = static_cast<float>(1.0 / total);
  mean = ops::scale(c, ops::slice(c, packed, 0, 0, C), inverse);
  var = ops::sub(c, ops::scale(c, ops::slice(c, packed, 0, C, 2 * C), inverse), ops::mul(c, mean, mean));
  return static_cast<int64_t>(std::llround(total));
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
  // SyncBN: statistics over all ranks' rows (total_rows of them).
  dist::Communicator* sync = batch_stats && ctx.sync_batchnorm && ctx.sync_batchnorm->world_size() > 1
                                 ? ctx.sync_batchnorm
                                 : nullptr;
  int64_t total_rows = rows;
  // In eval, a copy of the running mean: backward must see this step's statistics.
  Tensor mean = batch_stats ? Tensor::empty({C}, DType::F32, device) : running_mean.clone();
  Tensor invstd = Tensor::empty({C}, DType::F32, device);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), device);
  ops_detail::dispatch("batch_norm", x, ctx.stream, [&](auto tag, auto backend) {
    using T = decltype(tag);
    if (batch_stats) {
      Tensor var = Tensor::empty({C}, DType::F32, device);
      TRAINER_RUN_KERNEL(backend, batchnorm_stats<T>, x.data<T>(), rows, C, mean.data<float>(), var.data<float>());
      if (sync) total_rows = synchronise_statistics(ctx, *sync, mean, var, rows);
      TRAINER_RUN_KERNEL(backend, batchnorm_finalize_stats, mean.data<float>(), var.data<float>(), C, total_rows,
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
                      batch_stats, act = o.activation, rows, C, stream = ctx.stream, sync, total_rows,
                      channel_ctx = untracked(ctx)](Tape& tape) mutable {
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
        T* dx_batch = batch_stats && !sync && dx.defined() ? dx.data<T>() : nullptr;
        TRAINER_RUN_KERNEL(backend, batchnorm_backward<T>, dz.data<T>(), x.data<T>(), rows, C, m, is, g, dx_batch,
                           dgamma.data<float>(), dbeta.data<float>());
        if (sync && dx.defined()) {
          // dx = gamma * invstd * (dz - sum(dz) / N - xhat * sum(dz * xhat) / N) with the sums
          // and N over every rank, as two affine passes: a * dz, plus xhat * (-a * k2) - a * k1,
          // a = gamma * invstd, k1 = sum(dz) / N, k2 = sum(dz * xhat) / N. The parameters keep
          // this rank's sums: the gradient allreduce averages them like every other gradient.
          Context& c = channel_ctx;
          Tensor sums = ops::concat(c, {dbeta, dgamma}, 0);
          sum_over_ranks(*sync, sums);
          const float inverse_n = static_cast<float>(1.0 / static_cast<double>(total_rows));
          const Tensor a = ops::mul(c, gamma, invstd);
          const Tensor minus_a = ops::scale(c, a, -inverse_n);
          const Tensor shift = ops::mul(c, minus_a, ops::slice(c, sums, 0, 0, C));
          const Tensor slope = ops::mul(c, minus_a, ops::slice(c, sums, 0, C, 2 * C));
          const Tensor zeros = Tensor::zeros({C}, DType::F32, device), ones = Tensor::full({C}, 1.0, DType::F32, device);
          TRAINER_RUN_KERNEL(backend, batchnorm_apply<T>, dz.data<T>(), rows, C, zeros.data<float>(),
                             ones.data<float>(), a.data<float>(), zeros.data<float>(), Activation::Identity,
                             dx.data<T>());
          Tensor centred = Tensor::empty(x.shape(), x.dtype(), device);
          TRAINER_RUN_KERNEL(backend, batchnorm_apply<T>, x.data<T>(), rows, C, m, is, slope.data<float>(),
                             shift.data<float>(), Activation::Identity, centred.data<T>());
          math::add_(dx, centred);
        }
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
  if (ctx.recorder) {
    if (batch_stats) ctx.recorder->refuse("batch_norm with batch statistics (training)");
    ctx.recorder->batch_norm(x_in, gamma, beta, running_mean, running_var, o, y);
  }
  return y;
}

}  // namespace trainer::ops
