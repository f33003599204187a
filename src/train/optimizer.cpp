#include "trainer/train/optimizer.h"

#include "trainer/ops/tensor_math.h"

namespace trainer::train {

MomentumSgd::MomentumSgd(nn::ParameterStore& store, const MomentumSgdOptions& o)
    : store_(store), options_(o), accum_(Tensor::zeros({store.count()}, DType::F32)) {
  TRAINER_CHECK(store.finalized(), "optimizer built before the model's parameters");
  for (const nn::Parameter& p : store.params()) {
    bool decay = true;
    if (p.role == nn::ParamRole::NormScale || p.role == nn::ParamRole::NormShift) decay = o.decay_norm_params;
    if (p.role == nn::ParamRole::Bias) decay = o.decay_biases;
    if (p.role == nn::ParamRole::FusionWeight) decay = false;
    const float wd = decay ? static_cast<float>(o.weight_decay) : 0.f;
    const int64_t size = shape_numel(p.shape);
    if (!segments_.empty() && segments_.back().weight_decay == wd &&
        segments_.back().offset + segments_.back().size == p.offset)
      segments_.back().size += size;
    else
      segments_.push_back({p.offset, size, wd});
  }
}

void MomentumSgd::follow_store() {
  const Device device = store_.device();
  if (accum_.device() != device) accum_ = accum_.to(device);
  if (!segment_table_.defined() || segment_table_.device() != device)
    segment_table_ = math::sgd_segments_tensor(segments_, device);
}

Tensor& MomentumSgd::accumulators() {
  follow_store();
  return accum_;
}

void MomentumSgd::step(double lr) {
  follow_store();
  math::momentum_sgd_step(store_.values(), store_.grads(), accum_, segment_table_, static_cast<float>(lr),
                          static_cast<float>(options_.momentum), options_.nesterov);
  store_.bump_version();
}

}  // namespace trainer::train
