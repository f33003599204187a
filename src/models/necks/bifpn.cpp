#include "trainer/models/necks/bifpn.h"

#include <algorithm>

#include "trainer/ops/activation.h"
#include "trainer/ops/fusion.h"
#include "trainer/ops/pooling.h"
#include "trainer/ops/shape_ops.h"
#include "trainer/ops/upsample.h"

namespace trainer::models {

struct BiFpn::Node {
  int level = 0;
  std::vector<size_t> inputs;                                // indices into the cell's running list of maps
  std::vector<int> input_levels;                             // their levels
  std::vector<std::unique_ptr<nn::ConvBnAct>> projections;  // per input, null when the channels match
  nn::Parameter* weights = nullptr;                          // [inputs]
  std::unique_ptr<nn::SeparableConvBnAct> conv;
};

BiFpn::BiFpn(std::string name, nn::ParameterStore& store, const BiFpnConfig& c, const Backbone& backbone)
    : Neck(std::move(name)), config_(c) {
  const int top = std::min(c.max_level, 5);
  TRAINER_CHECK(c.min_level >= 2 && c.min_level < top && c.max_level >= c.min_level && c.num_iterations >= 1 &&
                    c.depth > 0,
                "bifpn ", this->name(), ": levels ", c.min_level, "..", c.max_level, ", ", c.num_iterations,
                " iterations, depth ", c.depth, " (need 2 <= min_level < 5, max_level >= min_level, >= 1 iteration)");
  nn::BatchNormConfig bn;
  bn.channels = c.depth, bn.momentum = c.bn_momentum, bn.epsilon = c.bn_epsilon;
  auto projection = [&](const std::string& n, int64_t in) {
    nn::Conv2dConfig cc;
    cc.in_channels = in, cc.out_channels = c.depth, cc.kernel = 1, cc.bias = true;
    cc.weight_init = c.conv_init;
    return std::make_unique<nn::ConvBnAct>(n, store, cc, bn, Activation::Identity);
  };
  // Channels of each map as the first cell sees it, level min..max.
  std::vector<int64_t> channels;
  for (int level = c.min_level; level <= top; ++level) {
    const size_t index = backbone.endpoint_index("C" + std::to_string(level));
    inputs_.push_back(index);
    channels.push_back(backbone.endpoints()[index].channels);
  }
  for (int level = top + 1; level <= c.max_level; ++level) {
    const int64_t below = channels.back();
    extra_.push_back(below != c.depth ? projection(child("p" + std::to_string(level)), below) : nullptr);
    channels.push_back(c.depth);
  }
  nn::SeparableConv2dConfig sep;
  sep.in_channels = sep.out_channels = c.depth, sep.kernel = 3, sep.bias = true;
  sep.depthwise_init = sep.pointwise_init = c.conv_init;
  const int levels = c.max_level - c.min_level + 1;
  for (int r = 0; r < c.num_iterations; ++r) {
    // The cell's running list of maps: its inputs (levels min..max), then each node's output.
    std::vector<int> map_level;
    std::vector<int64_t> map_channels = r == 0 ? channels : std::vector<int64_t>(levels, c.depth);
    for (int l = c.min_level; l <= c.max_level; ++l) map_level.push_back(l);
    std::vector<std::vector<size_t>> at_level(levels);  // maps of each level, oldest first
    for (int i = 0; i < levels; ++i) at_level[i].push_back(i);
    std::vector<std::unique_ptr<Node>> cell;
    auto add_node = [&](int level, std::vector<size_t> inputs) {
      auto node = std::make_unique<Node>();
      const std::string prefix = child("cell" + std::to_string(r) + ".node" + std::to_string(cell.size()));
      node->level = level;
      for (size_t input : inputs) node->input_levels.push_back(map_level[input]);
      for (size_t j = 0; j < inputs.size(); ++j)
        node->projections.push_back(map_channels[inputs[j]] != c.depth
                                        ? projection(prefix + ".input" + std::to_string(j), map_channels[inputs[j]])
                                        : nullptr);
      node->weights = &store.add(prefix + ".weights", {static_cast<int64_t>(inputs.size())}, nn::ParamRole::FusionWeight,
                                 nn::Init::ones());
      node->conv = std::make_unique<nn::SeparableConvBnAct>(prefix, store, sep, bn, Activation::Identity);
      node->inputs = std::move(inputs);
      at_level[level - c.min_level].push_back(map_level.size());
      map_level.push_back(level);
      map_channels.push_back(c.depth);
      cell.push_back(std::move(node));
    };
    for (int l = c.max_level - 1; l >= c.min_level; --l)
      add_node(l, {at_level[l - c.min_level].back(), at_level[l + 1 - c.min_level].back()});
    for (int l = c.min_level + 1; l <= c.max_level; ++l) {
      std::vector<size_t> in = at_level[l - c.min_level];
      in.push_back(at_level[l - 1 - c.min_level].back());
      add_node(l, std::move(in));
    }
    cells_.push_back(std::move(cell));
  }
}

BiFpn::~BiFpn() = default;

Tensor BiFpn::resample(Context& ctx, Tensor x, int from_level, int to_level, int64_t height, int64_t width) const {
  for (int l = from_level; l > to_level; --l) x = ops::upsample_nearest2x(ctx, x);
  for (int l = from_level; l < to_level; ++l) x = ops::max_pool2d(ctx, x, {3, 3, 2, 2});  // 3x3/2 'SAME'
  // Inputs not divisible by 2^max_level: 'SAME' halving rounds up, so a level can be one row or
  // column smaller than twice the level above. Nearest resizing to the smaller size (effdet's
  // interpolate: source index floor(i * in / out)) picks the same rows as doubling and cutting.
  if (x.dim(1) > height && x.dim(1) <= height + 1) x = ops::slice(ctx, x, 1, 0, height);
  if (x.dim(2) > width && x.dim(2) <= width + 1) x = ops::slice(ctx, x, 2, 0, width);
  return x;
}

std::vector<Tensor> BiFpn::forward(Context& ctx, const std::vector<Tensor>& features) const {
  std::vector<Tensor> maps;
  for (size_t index : inputs_) maps.push_back(features.at(index));
  for (const auto& projection : extra_) {
    Tensor x = projection ? projection->forward(ctx, maps.back()) : maps.back();
    maps.push_back(ops::max_pool2d(ctx, x, {3, 3, 2, 2}));
  }
  const size_t levels = maps.size();
  for (const auto& cell : cells_) {
    for (const auto& node : cell) {
      std::vector<Tensor> edges;
      for (size_t j = 0; j < node->inputs.size(); ++j) {
        Tensor x = maps[node->inputs[j]];
        if (node->projections[j]) x = node->projections[j]->forward(ctx, x);
        // The node's first input is at its own level: the size every edge is resampled to.
        const Tensor& own = maps[node->inputs[0]];
        x = resample(ctx, x, node->input_levels[j], node->level, own.dim(1), own.dim(2));
        if (!edges.empty())
          TRAINER_CHECK(x.shape() == edges[0].shape(), "bifpn ", name(), ": level ", node->level, " receives ",
                        edges[0].describe(), " and ", x.describe(), " (from level ", node->input_levels[j],
                        ")");
        edges.push_back(std::move(x));
      }
      Tensor fused = ops::weighted_fusion(ctx, edges, node->weights->value, config_.fusion_epsilon);
      maps.push_back(node->conv->forward(ctx, ops::activation(ctx, fused, config_.activation)));
    }
    maps.erase(maps.begin(), maps.end() - static_cast<std::ptrdiff_t>(levels));
  }
  return maps;
}

}  // namespace trainer::models
