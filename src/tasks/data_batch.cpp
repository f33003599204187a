#include "trainer/tasks/data_batch.h"

namespace trainer::tasks {

const data::Batch& batch_of(const train::TrainBatch& batch) {
  const auto* b = dynamic_cast<const DataBatch*>(&batch);
  TRAINER_CHECK(b != nullptr, "a task received a batch that did not come from the data pipeline");
  return b->batch;
}

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
