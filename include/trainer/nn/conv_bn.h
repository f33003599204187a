// Convolution, batch normalisation and their fusion.
#pragma once

#include <memory>

#include "trainer/nn/module.h"
#include "trainer/nn/parameters.h"
#include "trainer/ops/batchnorm.h"
#include "trainer/ops/conv2d.h"

namespace trainer::nn {

struct Conv2dConfig {
  int64_t in_channels = 0, out_channels = 0, kernel = 1, stride = 1, dilation = 1, groups = 1;
  std::optional<ops::Padding> padding;  // nullopt = TF 'SAME'
  bool bias = false;
  // Initialiser: TF variance scaling with this scale over fan_in (or fan_out), unless
  // weight_init names another (the detection configs' truncated or plain normals).
  double init_scale = 2.0;
  bool init_fan_out = false;
  std::optional<Init> weight_init;
  Init bias_init = Init::zeros();
};

class Conv2d : public Module {
 public:
  Conv2d(std::string name, ParameterStore& store, const Conv2dConfig& config);
  Tensor forward(Context& ctx, const Tensor& x) const;  // x: [N,H,W,Cin] -> [N,OH,OW,Cout]

  const Conv2dConfig& config() const { return config_; }
  Parameter& weight() const { return *weight_; }  // [Cout, k, k, Cin/groups]
  Parameter* bias() const { return bias_; }
  ops::Conv2dOptions options(Activation act = Activation::Identity) const;
  double flops(const Tensor& output) const;

 private:
  Conv2dConfig config_;
  Parameter* weight_ = nullptr;
  Parameter* bias_ = nullptr;
};

struct BatchNormConfig {
  int64_t channels = 0;
  float momentum = 0.9f, epsilon = 1e-5f;
  bool frozen = false;
  bool scale = true;  // learn gamma (else fixed at 1)
};

class BatchNorm : public Module {
 public:
  BatchNorm(std::string name, ParameterStore& store, const BatchNormConfig& config);
  Tensor forward(Context& ctx, const Tensor& x, Activation act = Activation::Identity) const;

  Parameter& gamma() const { return *gamma_; }
  Parameter& beta() const { return *beta_; }
  Buffer& running_mean() const { return *mean_; }
  Buffer& running_var() const { return *var_; }
  const BatchNormConfig& config() const { return config_; }

 private:
  BatchNormConfig config_;
  Parameter* gamma_ = nullptr;
  Parameter* beta_ = nullptr;
  Buffer* mean_ = nullptr;
  Buffer* var_ = nullptr;
};

// conv -> batchnorm -> activation. In inference (no tape, not training) the batchnorm is
// folded into the convolution's weights and bias and the activation runs as oneDNN's
// post-op: one pass over memory instead of three. The folded weights are rebuilt whenever
// the parameter store's version changes.
//
// The convolution is its own ("<name>.conv") or one shared with other ConvBnAct modules: the
// weight-shared box predictor of the detectors applies one tower convolution to every pyramid
// level, each level with its own batchnorm (and so its own folded weights).
class ConvBnAct : public Layer {
 public:
  ConvBnAct(std::string name, ParameterStore& store, const Conv2dConfig& conv, const BatchNormConfig& bn,
            Activation act);
  // With the convolution `shared`, owned elsewhere and outliving this module.
  ConvBnAct(std::string name, ParameterStore& store, const Conv2d& shared, const BatchNormConfig& bn, Activation act);
  Tensor forward(Context& ctx, const Tensor& x) const override;

  const Conv2d& conv() const { return *conv_; }
  const BatchNorm& bn() const { return bn_; }

 private:
  void refold() const;

  const ParameterStore& store_;
  std::unique_ptr<Conv2d> own_conv_;
  const Conv2d* conv_;
  BatchNorm bn_;
  Activation act_;
  mutable Tensor folded_weight_, folded_bias_;
  mutable uint64_t folded_version_ = ~0ull;
};

}  // namespace trainer::nn
