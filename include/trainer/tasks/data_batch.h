// The loader's batches as the training loop sees them, and the loader as its batch source.
#pragma once

#include <memory>
#include <optional>

#include "trainer/core/device_upload.h"
#include "trainer/data/loader.h"
#include "trainer/train/trainer.h"

namespace trainer::tasks {

// One of a batch's host tensors on a device: the copy started once, waited for (by the compute
// stream, not the host) when a task first reads it, and then read as often as the batch is
// (a skipped step's diagnosis runs the batch again).
class StagedCopy {
 public:
  void start(const Tensor& host, Device device);
  bool started_for(Device device) const { return device_ == device; }
  Tensor ready();

 private:
  std::optional<Device> device_;
  std::optional<PendingUpload> pending_;
  Tensor ready_;
};

struct DataBatch final : train::TrainBatch {
  data::Batch batch;
  DataBatch() = default;
  explicit DataBatch(data::Batch b) : batch(std::move(b)) {}
  int64_t size() const override { return batch.images.defined() ? batch.images.dim(0) : 0; }
  // Starts copying the images, and the labels when the rows carry class labels (detection rows
  // hold -1), to `device`; on the CPU they are the host tensors themselves (no copy).
  void prefetch(Device device) override;
  // The images and labels on `device`, safe for the kernels queued from now on: the copies
  // prefetch(device) started, or started now when it did not run.
  Tensor images_on(Device device) const;
  Tensor labels_on(Device device) const;

 private:
  void stage(Device device) const;
  // Mutable: a task's loss() gets the batch const, and reading it is what finishes its copy.
  mutable StagedCopy images_, labels_;
};

// What a task's loss() receives: the DataBatch (its data::Batch with batch_of()), an Error
// when the batch did not come from the data pipeline.
const DataBatch& data_batch_of(const train::TrainBatch& batch);
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
