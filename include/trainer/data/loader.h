// The loader: worker threads read, decode and augment samples straight into their slots of
// collated batches, a bounded window of which is prefetched ahead of the consumer.
//
// Determinism: batch b of epoch e holds the samples the Sampler assigns it, and every random
// draw for a sample comes from Philox(seed, (epoch, sample index, attempt)). Which thread did
// the work, and when, never matters: 1 or 16 workers give identical batches, and a loader
// constructed at a saved cursor continues with exactly the batches the original run saw next.
//
// Unusable samples (BadSampleError: corrupt image, bad record CRC, ...) are logged once,
// counted, and replaced in training by the next usable sample of the same epoch's shard (a
// choice that depends only on the data, so determinism holds); in evaluation they are left
// out of their batch. When the distinct unusable samples exceed max_bad_fraction of the
// distinct samples this rank has tried (counted as at least one epoch's shard, so a bad first
// file does not stop a run), the loader stops: next() throws an Error with a summary. Any
// other error stops it the same way.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "trainer/core/tensor.h"
#include "trainer/data/annotations.h"
#include "trainer/data/dataset.h"
#include "trainer/data/sample_transform.h"
#include "trainer/data/sampler.h"
#include "trainer/data/transform.h"  // ImageTransform, the classification transform most callers pass

namespace trainer::data {

enum class LoaderMode {
  kTrain,  // shuffled, drop_last, epoch after epoch without end
  kEval,   // dataset order, one pass, every sample once across ranks, last batch partial
};

struct LoaderOptions {
  LoaderMode mode = LoaderMode::kTrain;
  int64_t batch_size = 32;  // per rank
  int num_workers = 2;
  int prefetch_batches = 2;  // batches being filled or ready, ahead of the consumer
  uint64_t seed = 0;
  int rank = 0, world_size = 1;
  DType image_dtype = DType::F32;  // F32, BF16 or F16 (normalised), or U8 (raw pixels)
  double max_bad_fraction = 0.01;  // of the distinct samples tried (see above)
};

struct Batch {
  Tensor images;  // [N, H, W, C] of LoaderOptions::image_dtype, CPU
  Tensor labels;  // [N] I32: classification labels; -1 for detection samples
  // One per row: image id, source size and (detection) the objects with boxes normalised to
  // the row's image after augmentation; classification rows have no boxes.
  std::vector<ImageAnnotations> annotations;
  std::vector<int64_t> indices;  // the dataset index behind each row (after substitutions)
  int64_t epoch = 0;
  int64_t index = 0;  // batch index within the epoch, on this rank
};

// The position of the next batch next() returns. Save it with a checkpoint; a loader built
// with the same dataset and options at this cursor continues exactly where this one was.
struct LoaderCursor {
  int64_t epoch = 0;
  int64_t batch = 0;
  bool operator==(const LoaderCursor&) const = default;
};

struct LoaderStats {
  int64_t samples = 0;      // samples read and transformed successfully
  int64_t bad_samples = 0;  // distinct unusable samples met so far
  std::vector<std::string> bad_examples;  // the first few messages
};

class Loader {
 public:
  // transform: an ImageTransform (classification) or a DetectionTransform.
  Loader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const SampleTransform> transform,
         LoaderOptions options, LoaderCursor start = {});
  ~Loader();  // stops the workers (mid-epoch, or after an error) and joins them
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Blocks until the next batch is complete. Returns nullopt after the last batch of an eval
  // pass (training never ends). Throws an Error once the loader has stopped on an error.
  std::optional<Batch> next();

  LoaderCursor cursor() const;
  int64_t batches_per_epoch() const { return sampler_.batches_per_epoch(); }
  const Sampler& sampler() const { return sampler_; }
  // The samples it reads (Batch::indices index it), e.g. to read one again in its original form.
  const Dataset& dataset() const { return *dataset_; }
  LoaderStats stats() const;

 private:
  struct Pending;

  void worker_main();
  void work();
  Pending* claim(int& slot);  // with mutex_ held
  void fill(Pending& batch, int slot);
  bool note_bad_sample(int64_t index, const std::string& message);
  void note_tried(int64_t index);  // with mutex_ held
  void stop_with(const std::string& message);
  bool exhausted() const;  // with mutex_ held: no batch left to open

  std::shared_ptr<const Dataset> dataset_;
  std::shared_ptr<const SampleTransform> transform_;
  LoaderOptions options_;
  Sampler sampler_;
  size_t sample_bytes_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable work_cv_, ready_cv_;
  std::deque<std::unique_ptr<Pending>> window_;  // consecutive batches, oldest first
  LoaderCursor next_open_, next_out_;
  int64_t order_epoch_ = -1;
  std::shared_ptr<const std::vector<int64_t>> order_;
  std::atomic<bool> stopping_{false};  // workers exit: destruction or an error
  std::string error_;
  std::set<int64_t> bad_;
  std::vector<bool> tried_;  // per dataset index
  int64_t tried_count_ = 0;
  LoaderStats stats_;
  std::vector<std::thread> workers_;
};

}  // namespace trainer::data
