#include "trainer/tasks/data_batch.h"

#include <algorithm>

namespace trainer::tasks {

void StagedCopy::start(const Tensor& host, Device device) {
  pending_.emplace(upload(host, device));
  ready_ = Tensor();
  device_ = device;
}

Tensor StagedCopy::ready() {
  if (pending_) {
    ready_ = std::move(*pending_).ready();
    pending_.reset();
  }
  return ready_;
}

void DataBatch::prefetch(Device device) { stage(device); }

void DataBatch::stage(Device device) const {
  images_.start(batch.images, device);
  const auto* labels = batch.labels.defined() ? batch.labels.data<int32_t>() : nullptr;
  const bool class_labels = labels && std::any_of(labels, labels + batch.labels.numel(), [](int32_t l) { return l >= 0; });
  if (class_labels) labels_.start(batch.labels, device);
}

Tensor DataBatch::images_on(Device device) const {
  if (!images_.started_for(device)) stage(device);
  return images_.ready();
}

Tensor DataBatch::labels_on(Device device) const {
  if (!images_.started_for(device)) stage(device);
  TRAINER_CHECK(labels_.started_for(device), "labels_on: this batch's rows carry no class labels (detection rows "
                "hold -1); a classification task needs a classification dataset");
  return labels_.ready();
}

const DataBatch& data_batch_of(const train::TrainBatch& batch) {
  const auto* b = dynamic_cast<const DataBatch*>(&batch);
  TRAINER_CHECK(b != nullptr, "a task received a batch that did not come from the data pipeline");
  return *b;
}

const data::Batch& batch_of(const train::TrainBatch& batch) { return data_batch_of(batch).batch; }

std::unique_ptr<train::TrainBatch> LoaderSource::next() {
  std::optional<data::Batch> b = loader_.next();
  TRAINER_ASSERT(b.has_value());  // training loaders never end
  return std::make_unique<DataBatch>(std::move(*b));
}

std::pair<int64_t, int64_t> LoaderSource::cursor() const {
  const data::LoaderCursor c = loader_.cursor();
  return {c.epoch, c.batch};
}

}  // namespace trainer::tasks
