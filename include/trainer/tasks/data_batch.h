// The loader's batches as the training loop sees them, and the loader as its batch source.
#pragma once

#include <memory>

#include "trainer/data/loader.h"
#include "trainer/train/trainer.h"

namespace trainer::tasks {

struct DataBatch final : train::TrainBatch {
  data::Batch batch;
  DataBatch() = default;
  explicit DataBatch(data::Batch b) : batch(std::move(b)) {}
  int64_t size() const override { return batch.images.defined() ? batch.images.dim(0) : 0; }
};

// What a task's loss() receives: the data::Batch inside a DataBatch (an Error otherwise).
const data::Batch& batch_of(const train::TrainBatch& batch);

class LoaderSource final : public train::BatchSource {
 public:
  explicit LoaderSource(data::Loader& loader) : loader_(loader) {}
  std::unique_ptr<train::TrainBatch> next() override;
  std::pair<int64_t, int64_t> cursor() const override;

 private:
  data::Loader& loader_;
};

}  // namespace trainer::tasks
