#include "trainer/train/gradient_reducer.h"

namespace trainer::train {

GradientReducer::GradientReducer(nn::ParameterStore& store, dist::Communicator& communicator, int64_t bucket_bytes)
    : store_(store), communicator_(communicator) {
  const std::deque<nn::Parameter>& params = store.params();
  TRAINER_CHECK(store.finalized(), "GradientReducer: the parameter store is not finalized");
  bucket_of_parameter_.assign(params.size(), -1);
  // Parameters lie in the flat buffer in registration order, so a run of them taken backwards
  // is one contiguous range.
  Bucket current;
  int64_t bytes = 0;
  for (size_t i = params.size(); i-- > 0;) {
    const nn::Parameter& p = params[i];
    const int64_t n = shape_numel(p.shape);
    if (current.parameters == 0) current.end = p.offset + n;
    TRAINER_ASSERT(p.offset + n == (current.parameters == 0 ? current.end : current.begin));
    current.begin = p.offset;
    ++current.parameters;
    bucket_of_parameter_[i] = static_cast<int>(buckets_.size());
    bytes += n * static_cast<int64_t>(sizeof(float));
    if (bucket_bytes > 0 && bytes >= bucket_bytes) {
      buckets_.push_back(current);
      current = Bucket();
      bytes = 0;
    }
  }
  if (current.parameters > 0) buckets_.push_back(current);
}

void GradientReducer::attach(Tape& tape) {
  const std::deque<nn::Parameter>& params = store_.params();
  bucket_of_grad_id_.clear();
  for (size_t i = 0; i < params.size(); ++i) {
    const int64_t id = params[i].value.grad_id();
    TRAINER_CHECK(id >= 0, "GradientReducer::attach: parameter ", params[i].name, " is not tracked on this tape");
    if (static_cast<int64_t>(bucket_of_grad_id_.size()) <= id) bucket_of_grad_id_.resize(static_cast<size_t>(id) + 1, -1);
    bucket_of_grad_id_[static_cast<size_t>(id)] = bucket_of_parameter_[i];
  }
  pending_.clear();
  for (const Bucket& b : buckets_) pending_.push_back(b.parameters);
  next_ = 0;
  started_during_backward_ = 0;
  tape_ = &tape;
  tape.on_leaf_final([this](int64_t id) { on_final(id); });
}

void GradientReducer::on_final(int64_t grad_id) {
  if (grad_id >= static_cast<int64_t>(bucket_of_grad_id_.size())) return;
  const int bucket = bucket_of_grad_id_[static_cast<size_t>(grad_id)];
  if (bucket < 0) return;
  --pending_[static_cast<size_t>(bucket)];
  start_ready();
}

void GradientReducer::start_ready() {
  while (next_ < buckets_.size() && pending_[next_] == 0) {
    const Bucket& b = buckets_[next_++];
    Tensor range = store_.grads().slice(0, b.begin, b.end);
    communicator_.start_allreduce_mean(range);
    if (tape_ && tape_->size() > 0) ++started_during_backward_;
  }
}

void GradientReducer::finish() {
  start_ready();
  TRAINER_CHECK(next_ == buckets_.size(), "GradientReducer: after backward, bucket ", next_, " of ", buckets_.size(),
                " still waits for ", pending_[next_], " gradients");
  tape_ = nullptr;
  communicator_.wait_reductions();
}

}  // namespace trainer::train
