#include "trainer/nn/conv_bn.h"

#include <cmath>

namespace trainer::nn {

Conv2d::Conv2d(std::string name, ParameterStore& store, const Conv2dConfig& c) : Module(std::move(name)), config_(c) {
  TRAINER_CHECK(c.in_channels > 0 && c.out_channels > 0 && c.groups > 0 && c.in_channels % c.groups == 0 &&
                    c.out_channels % c.groups == 0,
                "conv ", this->name(), ": ", c.in_channels, " -> ", c.out_channels, " channels with groups=", c.groups);
  const int64_t in_per_group = c.in_channels / c.groups;
  const int64_t fan = c.init_fan_out ? c.kernel * c.kernel * c.out_channels / c.groups : c.kernel * c.kernel * in_per_group;
  weight_ = &store.add(child("weight"), {c.out_channels, c.kernel, c.kernel, in_per_group}, ParamRole::Weight,
                       c.weight_init.value_or(Init::variance_scaling(c.init_scale, fan)));
  if (c.bias) bias_ = &store.add(child("bias"), {c.out_channels}, ParamRole::Bias, c.bias_init);
}

ops::Conv2dOptions Conv2d::options(Activation act) const {
  ops::Conv2dOptions o;
  o.stride_h = o.stride_w = config_.stride;
  o.dilation_h = o.dilation_w = config_.dilation;
  o.groups = config_.groups;
  o.padding = config_.padding;
  o.activation = act;
  return o;
}

double Conv2d::flops(const Tensor& y) const {
  return 2.0 * static_cast<double>(y.numel()) * config_.kernel * config_.kernel *
         static_cast<double>(config_.in_channels / config_.groups);
}

Tensor Conv2d::forward(Context& ctx, const Tensor& x) const {
  begin(ctx);
  Tensor y = ops::conv2d(ctx, x, weight_->value, bias_ ? bias_->value : Tensor(), options());
  report(ctx, "Conv2d", OpClass::Gemm, y, weight_->value.numel() + (bias_ ? bias_->value.numel() : 0), flops(y));
  return y;
}

BatchNorm::BatchNorm(std::string name, ParameterStore& store, const BatchNormConfig& c)
    : Module(std::move(name)), config_(c) {
  gamma_ = &store.add(child("gamma"), {c.channels}, ParamRole::NormScale, Init::ones());
  beta_ = &store.add(child("beta"), {c.channels}, ParamRole::NormShift, Init::zeros());
  mean_ = &store.add_buffer(child("running_mean"), {c.channels}, Init::zeros());
  var_ = &store.add_buffer(child("running_var"), {c.channels}, Init::ones());
}

Tensor BatchNorm::forward(Context& ctx, const Tensor& x, Activation act) const {
  begin(ctx);
  ops::BatchNormOptions o;
  o.momentum = config_.momentum;
  o.epsilon = config_.epsilon;
  o.frozen = config_.frozen;
  o.activation = act;
  Tensor y = ops::batch_norm(ctx, x, gamma_->value, beta_->value, mean_->value, var_->value, o);
  report(ctx, "BatchNorm", OpClass::Normalization, y, 2 * config_.channels, 4.0 * static_cast<double>(y.numel()));
  return y;
}

ConvBnAct::ConvBnAct(std::string name, ParameterStore& store, const Conv2dConfig& conv, const BatchNormConfig& bn,
                     Activation act)
    : Layer(name), store_(store), own_conv_(std::make_unique<Conv2d>(child("conv"), store, conv)),
      conv_(own_conv_.get()), bn_(child("bn"), store, bn), act_(act) {
  TRAINER_CHECK(bn.channels == conv.out_channels, "conv/bn ", this->name(), ": channel counts differ");
}

ConvBnAct::ConvBnAct(std::string name, ParameterStore& store, const Conv2d& shared, const BatchNormConfig& bn,
                     Activation act)
    : Layer(name), store_(store), conv_(&shared), bn_(child("bn"), store, bn), act_(act) {
  TRAINER_CHECK(bn.channels == shared.config().out_channels, "conv/bn ", this->name(), ": channel counts differ");
}

void ConvBnAct::refold() const {
  // w'[o] = w[o] * gamma[o] / sqrt(var[o] + eps); b'[o] = beta[o] - mean[o] * gamma[o] / sqrt(var[o] + eps)
  // Computed on host copies once per weight version, then placed on the weights' device.
  const Device device = conv_->weight().value.device();
  auto host = [](const Tensor& t) { return t.to(Device::cpu()); };
  const Tensor w = host(conv_->weight().value), gamma = host(bn_.gamma().value), beta = host(bn_.beta().value),
               mean = host(bn_.running_mean().value), var = host(bn_.running_var().value);
  const Tensor conv_bias = conv_->bias() ? host(conv_->bias()->value) : Tensor();
  const int64_t out = w.dim(0), per_out = w.numel() / out;
  Tensor weight = Tensor::empty(w.shape(), DType::F32), bias = Tensor::empty({out}, DType::F32);
  const float* wp = w.data<float>();
  const float* g = gamma.data<float>();
  const float* b = beta.data<float>();
  const float* m = mean.data<float>();
  const float* v = var.data<float>();
  const float* cb = conv_bias.defined() ? conv_bias.data<float>() : nullptr;
  float* fw = weight.data<float>();
  float* fb = bias.data<float>();
  for (int64_t o = 0; o < out; ++o) {
    const float k = g[o] / std::sqrt(v[o] + bn_.config().epsilon);
    for (int64_t i = 0; i < per_out; ++i) fw[o * per_out + i] = wp[o * per_out + i] * k;
    fb[o] = b[o] + ((cb ? cb[o] : 0.f) - m[o]) * k;
  }
  folded_weight_ = weight.to(device);
  folded_bias_ = bias.to(device);
  folded_version_ = store_.version();
}

Tensor ConvBnAct::forward(Context& ctx, const Tensor& x) const {
  if (ctx.tape || ctx.training) {
    Tensor y = conv_->forward(ctx, x);
    return bn_.forward(ctx, y, act_);
  }
  begin(ctx);
  if (folded_version_ != store_.version()) refold();
  Tensor y = ops::conv2d(ctx, x, folded_weight_, folded_bias_, conv_->options(act_));
  report(ctx, "ConvBnAct", OpClass::Gemm, y, (own_conv_ ? conv_->weight().value.numel() : 0) + 2 * bn_.config().channels,
         conv_->flops(y) + 2.0 * static_cast<double>(y.numel()));
  return y;
}

}  // namespace trainer::nn
