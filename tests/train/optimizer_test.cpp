// Momentum SGD against an independent reference: trajectories computed by PyTorch's
// torch.optim.SGD (scripts/train/sgd_golden.py writes tests/train/data/sgd_golden.json), whose
// update is the one TF1's MomentumOptimizer makes — accum = m * accum + (g + wd * w),
// w -= lr * accum (Nesterov: w -= lr * (g + wd * w + m * accum)). The ResNet-50 and SSD320 configs
// follow it. Each case changes the learning rate every step and decays parameters by role.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>

#include "test_util.h"
#include "trainer/train/optimizer.h"

namespace trainer::train {
namespace {

nn::ParamRole role_of(std::string_view role) {
  if (role == "bias") return nn::ParamRole::Bias;
  if (role == "norm_scale") return nn::ParamRole::NormScale;
  if (role == "norm_shift") return nn::ParamRole::NormShift;
  return nn::ParamRole::Weight;
}

std::vector<float> floats(simdjson::dom::array a) {
  std::vector<float> out;
  for (auto v : a) out.push_back(static_cast<float>(v.get_double().value()));
  return out;
}

// The per-parameter lists of a step, concatenated in declaration order (the flat layout).
std::vector<float> flat(simdjson::dom::array per_param) {
  std::vector<float> out;
  for (auto p : per_param) {
    const std::vector<float> v = floats(p.get_array().value());
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 2e-6 + 2e-6 * std::abs(want[i])) << what << " element " << i;
}

TEST(MomentumSgd, MatchesTorchOptimSgdTrajectories) {
  simdjson::dom::parser parser;
  const simdjson::padded_string json = simdjson::padded_string::load(testing::fixture("sgd_golden.json")).value();
  const simdjson::dom::element doc = parser.parse(json).value();
  int cases = 0;
  const simdjson::dom::array all_cases = doc["cases"].get_array().value();
  const simdjson::dom::array params = doc["params"].get_array().value();
  for (simdjson::dom::element c : all_cases) {
    const std::string name(c["name"].get_string().value());
    SCOPED_TRACE(name);
    nn::ParameterStore store;
    for (simdjson::dom::element p : params) {
      Shape shape;
      const simdjson::dom::array dims = p["shape"].get_array().value();
      for (auto d : dims) shape.push_back(d.get_int64().value());
      store.add(std::string(p["name"].get_string().value()), shape, role_of(p["role"].get_string().value()),
                nn::Init::zeros());
    }
    store.finalize(0);
    const std::vector<float> initial = flat(c["initial"].get_array().value());
    std::copy(initial.begin(), initial.end(), store.values().data<float>());

    MomentumSgdOptions o;
    o.momentum = c["momentum"].get_double().value();
    o.nesterov = c["nesterov"].get_bool().value();
    o.weight_decay = c["weight_decay"].get_double().value();
    o.decay_norm_params = c["decay_norm"].get_bool().value();
    o.decay_biases = c["decay_bias"].get_bool().value();
    MomentumSgd sgd(store, o);
    int step = 0;
    const simdjson::dom::array steps = c["steps"].get_array().value();
    for (simdjson::dom::element s : steps) {
      const std::vector<float> g = flat(s["grads"].get_array().value());
      std::copy(g.begin(), g.end(), store.grads().data<float>());
      const uint64_t version = store.version();
      sgd.step(s["lr"].get_double().value());
      EXPECT_GT(store.version(), version) << "an update must bump the store's version (folded weights go stale)";
      expect_close(store.values().to_floats(), flat(s["weights"].get_array().value()),
                   name + " weights after step " + std::to_string(step));
      if (!s["momentum"].is_null())
        expect_close(sgd.accumulators().to_floats(), flat(s["momentum"].get_array().value()),
                     name + " momentum after step " + std::to_string(step));
      ++step;
    }
    EXPECT_GE(step, 3);
    ++cases;
  }
  EXPECT_EQ(cases, 3);
}

// The decay rules in one step, by hand: which roles are decayed under which options.
TEST(MomentumSgd, WeightDecayFollowsTheParameterRole) {
  nn::ParameterStore store;
  store.add("w", {1}, nn::ParamRole::Weight, nn::Init::constant(2));
  store.add("b", {1}, nn::ParamRole::Bias, nn::Init::constant(2));
  store.add("gamma", {1}, nn::ParamRole::NormScale, nn::Init::constant(2));
  store.add("beta", {1}, nn::ParamRole::NormShift, nn::Init::constant(2));
  store.finalize(0);
  for (bool decay_biases : {false, true}) {
    for (bool decay_norm : {false, true}) {
      std::fill_n(store.values().data<float>(), 4, 2.f);
      store.grads().zero_();
      MomentumSgdOptions o;
      o.momentum = 0.5;
      o.weight_decay = 0.25;
      o.decay_biases = decay_biases;
      o.decay_norm_params = decay_norm;
      MomentumSgd sgd(store, o);
      sgd.step(1.0);  // w -= 1 * (0 + 0.25 * 2) where decayed
      const std::vector<float> w = store.values().to_floats();
      EXPECT_FLOAT_EQ(w[0], 1.5f);
      EXPECT_FLOAT_EQ(w[1], decay_biases ? 1.5f : 2.f);
      EXPECT_FLOAT_EQ(w[2], decay_norm ? 1.5f : 2.f);
      EXPECT_FLOAT_EQ(w[3], decay_norm ? 1.5f : 2.f);
    }
  }
}

}  // namespace
}  // namespace trainer::train
