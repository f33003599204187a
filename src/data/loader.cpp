#include "trainer/data/loader.h"

#include <algorithm>
#include <cstring>

#include "trainer/core/log.h"

namespace trainer::data {

// A batch in the window: its slots are claimed by workers one at a time and filled in place.
struct Loader::Pending {
  int64_t epoch = 0, batch = 0;
  std::shared_ptr<const std::vector<int64_t>> order;  // this rank's indices for the epoch
  int64_t first = 0;                                  // position in `order` of slot 0
  int size = 0;
  Batch out;
  std::vector<uint8_t> usable;  // eval: 0 where the sample was unusable and is left out
  int claimed = 0, done = 0;
};

namespace {

constexpr uint64_t kAugmentStream = 0xa06u;
constexpr size_t kMaxBadExamples = 5;

SamplerOptions sampler_options(const LoaderOptions& o) {
  const bool train = o.mode == LoaderMode::kTrain;
  return {o.batch_size, train, train, o.seed, o.rank, o.world_size};
}

// Eval batches leave unusable samples out: move the usable rows together and shrink.
void compact(Batch& batch, const std::vector<uint8_t>& usable) {
  const size_t row_bytes = batch.images.nbytes() / usable.size();
  auto* images = static_cast<uint8_t*>(batch.images.raw());
  auto* labels = batch.labels.data<int32_t>();
  int64_t kept = 0;
  for (size_t i = 0; i < usable.size(); ++i) {
    if (!usable[i]) continue;
    if (kept != static_cast<int64_t>(i)) {
      std::memmove(images + kept * row_bytes, images + i * row_bytes, row_bytes);
      labels[kept] = labels[i];
      batch.annotations[kept] = std::move(batch.annotations[i]);
      batch.indices[kept] = batch.indices[i];
    }
    ++kept;
  }
  batch.images = batch.images.slice(0, 0, kept);
  batch.labels = batch.labels.slice(0, 0, kept);
  batch.annotations.resize(kept);
  batch.indices.resize(kept);
}

}  // namespace

Loader::Loader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const SampleTransform> transform,
               LoaderOptions options, LoaderCursor start)
    : dataset_(std::move(dataset)),
      transform_(std::move(transform)),
      options_(options),
      sampler_(dataset_->size(), sampler_options(options_)) {
  const auto& o = options_;
  TRAINER_CHECK(o.num_workers >= 1, "loader: num_workers must be at least 1, got ", o.num_workers);
  TRAINER_CHECK(o.prefetch_batches >= 1, "loader: prefetch_batches must be at least 1, got ", o.prefetch_batches);
  TRAINER_CHECK(o.image_dtype == DType::F32 || o.image_dtype == DType::BF16 || o.image_dtype == DType::F16 ||
                    o.image_dtype == DType::U8,
                "loader: image_dtype must be f32, bf16, f16 or u8, not ", dtype_name(o.image_dtype));
  TRAINER_CHECK(o.max_bad_fraction >= 0 && o.max_bad_fraction <= 1, "loader: max_bad_fraction ", o.max_bad_fraction,
                " is not in [0, 1]");
  TRAINER_CHECK(start.epoch >= 0 && start.batch >= 0 && start.batch <= batches_per_epoch(), "loader: cursor (epoch ",
                start.epoch, ", batch ", start.batch, ") is outside an epoch of ", batches_per_epoch(),
                " batches; was it saved with a different batch size, world size or dataset?");
  if (o.mode == LoaderMode::kTrain && start.batch == batches_per_epoch()) start = {start.epoch + 1, 0};
  next_open_ = next_out_ = start;
  sample_bytes_ = static_cast<size_t>(shape_numel(transform_->sample_shape())) * dtype_size(o.image_dtype);
  log_info("data: ", dataset_->describe(), "; ", batches_per_epoch(), " batches of ", o.batch_size, " per epoch on rank ",
           o.rank, " of ", o.world_size);
  for (int i = 0; i < o.num_workers; ++i) workers_.emplace_back([this] { worker_main(); });
}

Loader::~Loader() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (auto& worker : workers_) worker.join();
}

LoaderCursor Loader::cursor() const {
  std::lock_guard lock(mutex_);
  return next_out_;
}

LoaderStats Loader::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

bool Loader::exhausted() const {
  return options_.mode == LoaderMode::kEval && next_open_.batch >= batches_per_epoch();
}

std::optional<Batch> Loader::next() {
  std::unique_lock lock(mutex_);
  ready_cv_.wait(lock, [&] {
    return !error_.empty() || (window_.empty() && exhausted()) ||
           (!window_.empty() && window_.front()->done == window_.front()->size);
  });
  if (!error_.empty()) throw Error(error_);
  if (window_.empty()) return std::nullopt;
  std::unique_ptr<Pending> ready = std::move(window_.front());
  window_.pop_front();
  next_out_ = {ready->epoch, ready->batch + 1};
  if (options_.mode == LoaderMode::kTrain && next_out_.batch == batches_per_epoch()) next_out_ = {ready->epoch + 1, 0};
  lock.unlock();
  work_cv_.notify_all();  // room in the window for another batch
  if (options_.mode == LoaderMode::kEval) compact(ready->out, ready->usable);
  return std::move(ready->out);
}

void Loader::worker_main() {
  try {
    work();
  } catch (const std::exception& e) {
    stop_with(str("data loader: ", e.what()));
  }
}

void Loader::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    Pending* batch = nullptr;
    int slot = 0;
    work_cv_.wait(lock, [&] { return stopping_ || (batch = claim(slot)) != nullptr; });
    if (stopping_) return;
    lock.unlock();
    fill(*batch, slot);
    lock.lock();
    if (++batch->done == batch->size) ready_cv_.notify_all();
  }
}

Loader::Pending* Loader::claim(int& slot) {
  for (auto& pending : window_) {
    if (pending->claimed < pending->size) {
      slot = pending->claimed++;
      return pending.get();
    }
  }
  if (static_cast<int>(window_.size()) >= options_.prefetch_batches || exhausted()) return nullptr;

  // Open the next batch. Allocation and the epoch's permutation happen here, under the lock,
  // but only once per batch and once per epoch.
  if (order_epoch_ != next_open_.epoch) {
    order_ = std::make_shared<const std::vector<int64_t>>(sampler_.epoch_indices(next_open_.epoch));
    order_epoch_ = next_open_.epoch;
  }
  auto pending = std::make_unique<Pending>();
  pending->epoch = next_open_.epoch;
  pending->batch = next_open_.batch;
  pending->order = order_;
  pending->first = next_open_.batch * options_.batch_size;
  pending->size = static_cast<int>(sampler_.batch_size(next_open_.batch));
  Shape shape = transform_->sample_shape();
  shape.insert(shape.begin(), pending->size);
  pending->out.images = Tensor::empty(shape, options_.image_dtype);
  pending->out.labels = Tensor::empty({pending->size}, DType::I32);
  pending->out.annotations.assign(pending->size, {});
  pending->out.indices.assign(pending->size, -1);
  pending->out.epoch = pending->epoch;
  pending->out.index = pending->batch;
  pending->usable.assign(pending->size, 1);
  if (++next_open_.batch == batches_per_epoch() && options_.mode == LoaderMode::kTrain)
    next_open_ = {next_open_.epoch + 1, 0};
  slot = pending->claimed++;
  window_.push_back(std::move(pending));
  return window_.back().get();
}

void Loader::fill(Pending& batch, int slot) {
  const std::vector<int64_t>& order = *batch.order;
  const int64_t shard = static_cast<int64_t>(order.size());
  auto* image = static_cast<uint8_t*>(batch.out.images.raw()) + slot * sample_bytes_;
  for (int64_t attempt = 0; attempt < shard && !stopping_; ++attempt) {
    const int64_t index = order[(batch.first + slot + attempt) % shard];
    try {
      const Sample sample = dataset_->read(index);
      if (transform_->needs_class_label() && (sample.label < 0 || sample.label >= dataset_->num_classes()))
        fail_sample(sample.name, ": label ", sample.label, " is outside [0, ", dataset_->num_classes(), ")");
      Philox rng(options_.seed, mix_stream({kAugmentStream, static_cast<uint64_t>(batch.epoch),
                                            static_cast<uint64_t>(index), static_cast<uint64_t>(attempt)}));
      transform_->apply(sample, rng, options_.image_dtype, image, &batch.out.annotations[slot]);
      batch.out.labels.data<int32_t>()[slot] = static_cast<int32_t>(sample.label);
      batch.out.indices[slot] = index;
      std::lock_guard lock(mutex_);
      ++stats_.samples;
      note_tried(index);
      return;
    } catch (const BadSampleError& e) {
      if (!note_bad_sample(index, e.what())) return;
      if (options_.mode == LoaderMode::kEval) {
        batch.usable[slot] = 0;
        return;
      }
    }
  }
  if (!stopping_) stop_with(str("data loader: no usable sample left in the shard of ", shard, " samples"));
}

void Loader::note_tried(int64_t index) {
  if (tried_.empty()) tried_.resize(static_cast<size_t>(dataset_->size()));
  if (!tried_[index]) {
    tried_[index] = true;
    ++tried_count_;
  }
}

bool Loader::note_bad_sample(int64_t index, const std::string& message) {
  std::lock_guard lock(mutex_);
  note_tried(index);
  if (!bad_.insert(index).second) return !stopping_;
  ++stats_.bad_samples;
  if (stats_.bad_examples.size() < kMaxBadExamples) stats_.bad_examples.push_back(message);
  log_warn("data: skipping an unusable sample: ", message);
  const double limit =
      options_.max_bad_fraction * static_cast<double>(std::max(tried_count_, sampler_.shard_size()));
  if (static_cast<double>(stats_.bad_samples) > limit && error_.empty()) {
    std::string examples;
    for (const auto& e : stats_.bad_examples) examples += "\n  " + e;
    error_ = str("data loader stopped: ", stats_.bad_samples, " unusable samples among the ", tried_count_,
                 " tried from ", dataset_->describe(), ", more than the fraction ", options_.max_bad_fraction,
                 " (input_reader.max_bad_sample_fraction) allows (", static_cast<int64_t>(limit), "); the first:", examples);
    stopping_ = true;
    work_cv_.notify_all();
    ready_cv_.notify_all();
  }
  return !stopping_;
}

void Loader::stop_with(const std::string& message) {
  {
    std::lock_guard lock(mutex_);
    if (error_.empty()) error_ = message;
    stopping_ = true;
  }
  work_cv_.notify_all();
  ready_cv_.notify_all();
}

}  // namespace trainer::data
