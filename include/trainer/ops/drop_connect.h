// Drop-connect, a.k.a. stochastic depth (Huang et al. 2016), as EfficientNet applies it to the
// residual branch of its blocks: while training, each sample's whole map is zeroed with
// probability drop_rate and otherwise scaled by 1 / (1 - drop_rate), so its expectation is x.
// Outside training, with drop_rate 0 or without a generator in the context (ctx.rng), y = x.
// The per-sample mask is drawn on the host from ctx.rng (one uniform per sample, kept when
// below 1 - drop_rate) and copied to x's device: N values per block per step.
#pragma once

#include "trainer/ops/context.h"

namespace trainer::ops {

Tensor drop_connect(Context& ctx, const Tensor& x, float drop_rate);

}  // namespace trainer::ops
