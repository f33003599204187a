#include "trainer/nn/linear.h"

#include "trainer/ops/linear.h"

namespace trainer::nn {

Linear::Linear(std::string name, ParameterStore& store, const LinearConfig& c) : Module(std::move(name)), config_(c) {
  TRAINER_CHECK(c.in_features > 0 && c.out_features > 0, "linear ", this->name(), ": ", c.in_features, " -> ",
                c.out_features, " features");
  weight_ = &store.add(child("weight"), {c.out_features, c.in_features}, ParamRole::Weight,
                       Init::variance_scaling(c.init_scale, c.in_features));
  if (c.bias) bias_ = &store.add(child("bias"), {c.out_features}, ParamRole::Bias, Init::zeros());
}

Tensor Linear::forward(Context& ctx, const Tensor& x) const {
  begin(ctx);
  Tensor y = ops::linear(ctx, x, weight_->value, bias_ ? bias_->value : Tensor());
  report(ctx, "Linear", OpClass::Gemm, y, weight_->value.numel() + (bias_ ? config_.out_features : 0),
         2.0 * static_cast<double>(x.dim(0)) * config_.in_features * config_.out_features);
  return y;
}

}  // namespace trainer::nn
