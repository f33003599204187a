#include "trainer/ops/drop_connect.h"

#include "trainer/ops/elementwise.h"
#include "trainer/ops/tensor_math.h"

namespace trainer::ops {

Tensor drop_connect(Context& ctx, const Tensor& x, float drop_rate) {
  TRAINER_CHECK(drop_rate >= 0.f && drop_rate < 1.f, "drop_connect: rate ", drop_rate, " is not in [0, 1)");
  if (!ctx.training || !ctx.rng || drop_rate == 0.f) return x;
  TRAINER_CHECK(x.rank() >= 1, "drop_connect: ", x.describe(), " has no sample axis");
  const int64_t n = x.dim(0);
  const float survival = 1.f - drop_rate;
  Shape mask_shape(x.rank(), 1);
  mask_shape[0] = n;
  Tensor mask = Tensor::empty(mask_shape, DType::F32);
  float* m = mask.data<float>();
  for (int64_t i = 0; i < n; ++i) m[i] = ctx.rng->uniform() < survival ? 1.f / survival : 0.f;
  return mul(ctx, x, math::cast(mask, x.dtype()).to(x.device()));
}

}  // namespace trainer::ops
