#include "trainer/tasks/classification_task.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "trainer/core/log.h"
#include "trainer/core/random.h"
#include "trainer/data/idx_dataset.h"
#include "trainer/data/image_folder.h"
#include "trainer/data/synthetic_dataset.h"
#include "trainer/data/tfrecord_dataset.h"
#include "trainer/eval/classification_metrics.h"
#include "trainer/ops/loss.h"
#include "trainer/ops/tensor_math.h"
#include "trainer/tasks/data_batch.h"
#include "trainer/tasks/input_config.h"
#include "trainer/tasks/mixup.h"

namespace trainer::tasks {

models::ClassifierConfig classifier_config(const config::Classifier& c) {
  models::ClassifierConfig m;
  models::ResNetConfig& r = m.backbone;
  const config::ResNet& net = c.resnet();
  r.depth = static_cast<int>(net.depth());
  r.blocks_per_stage.assign(net.blocks_per_stage().begin(), net.blocks_per_stage().end());
  r.variant = net.version() == config::ResNet::V1_5 ? models::ResNetConfig::Variant::V1_5
                                                    : models::ResNetConfig::Variant::V1;
  r.width = net.width();
  r.small_image_stem = net.stem() == config::ResNet::SMALL_IMAGE;
  r.input_channels = c.input_channels();
  r.bn_momentum = c.batch_norm().decay();
  r.bn_epsilon = c.batch_norm().epsilon();
  r.init_scale = c.weight_init().scale();
  r.init_fan_out = c.weight_init().mode() == config::WeightInit::FAN_OUT;
  m.num_classes = c.num_classes();
  return m;
}

ClassificationTask::ClassificationTask(const config::TrainEvalPipelineConfig& config, const RunContext& run)
    : config_(config), classifier_(config_.model().classifier()), run_(run),
      model_(classifier_config(config_.model().classifier()), run.seed) {
  model_.store().to(run.device);
}

Shape ClassificationTask::input_shape() const {
  const int64_t side = classifier_.image_size();
  return {side, side, static_cast<int64_t>(classifier_.input_channels())};
}

void ClassificationTask::configure(train::TrainerOptions& o) const {
  o.optimizer.weight_decay = classifier_.weight_decay().value();
  o.optimizer.decay_norm_params = !classifier_.weight_decay().exclude_batch_norm();
  o.optimizer.decay_biases = !classifier_.weight_decay().exclude_bias();
}

Tensor ClassificationTask::loss(Context& ctx, const train::TrainBatch& train_batch, int64_t step) {
  const DataBatch& batch = data_batch_of(train_batch);
  if (classifier_.mixup_alpha() > 0.f) {
    // Mixup is input preparation: the raw batch, copied a step ahead (DataBatch::prefetch), is
    // blended on its device into new tensors.
    Tensor images = batch.images_on(ctx.device);
    const Tensor targets = mixup(ctx, images, batch.labels_on(ctx.device), model_.num_classes(),
                                 classifier_.label_smoothing(), classifier_.mixup_alpha(), run_.seed, step);
    const Tensor logits = model_.forward(ctx, images);
    if (ctx.layer_times) ctx.layer_times->enter("loss");
    Tensor loss = ops::softmax_cross_entropy_soft(ctx, logits, targets);
    if (ctx.layer_times) ctx.layer_times->exit("loss", "SoftmaxCrossEntropy");
    return loss;
  }
  // On a GPU the batch's copies were started a step ahead (DataBatch::prefetch).
  const Tensor logits = model_.forward(ctx, batch.images_on(ctx.device));
  // Per-layer timing (benchmark.per_layer): the loss is a row of its own.
  if (ctx.layer_times) ctx.layer_times->enter("loss");
  Tensor loss = ops::softmax_cross_entropy(ctx, logits, batch.labels_on(ctx.device), classifier_.label_smoothing());
  if (ctx.layer_times) ctx.layer_times->exit("loss", "SoftmaxCrossEntropy");
  return loss;
}

std::shared_ptr<data::Dataset> ClassificationTask::dataset(Split split) const {
  const config::InputReader& r = input_reader(config_, split);
  std::shared_ptr<data::Dataset> ds;
  switch (r.input_reader_case()) {
    case config::InputReader::kTfRecordInputReader: {
      data::TFRecordDatasetOptions o;
      o.num_classes = classifier_.num_classes();
      o.label_offset = r.tf_record_input_reader().label_offset();
      std::vector<std::string> files(r.tf_record_input_reader().input_path().begin(),
                                     r.tf_record_input_reader().input_path().end());
      ds = std::make_shared<data::TFRecordDataset>(files, o);
      break;
    }
    case config::InputReader::kImageFolderInputReader:
      ds = std::make_shared<data::ImageFolderDataset>(r.image_folder_input_reader().root());
      break;
    case config::InputReader::kIdxInputReader:
      ds = std::make_shared<data::IdxDataset>(r.idx_input_reader().images_file(), r.idx_input_reader().labels_file());
      break;
    case config::InputReader::kSyntheticInputReader: {
      data::SyntheticOptions o;
      o.size = static_cast<int64_t>(r.synthetic_input_reader().num_examples());
      o.height = o.width = static_cast<int>(classifier_.image_size());
      o.channels = static_cast<int>(classifier_.input_channels());
      o.num_classes = classifier_.num_classes();
      o.seed = run_.seed;
      ds = std::make_shared<data::SyntheticDataset>(o);
      break;
    }
    default:
      fail(reader_name(split), ": no data source for a classifier (set tf_record_input_reader, "
                               "image_folder_input_reader, idx_input_reader or synthetic_input_reader)");
  }
  TRAINER_CHECK(ds->num_classes() <= classifier_.num_classes(), reader_name(split), ": ", ds->describe(), " has ",
                ds->num_classes(), " classes but model.classifier.num_classes is ", classifier_.num_classes());
  return ds;
}

std::shared_ptr<data::ImageTransform> ClassificationTask::transform(Split split) const {
  const config::ClassificationPreprocessing& pre = classifier_.preprocessing();
  data::TransformOptions t;
  t.train = split == Split::Train && pre.train_crop() == config::ClassificationPreprocessing::RANDOM_RESIZED_CROP;
  t.height = t.width = static_cast<int>(classifier_.image_size());
  t.color = classifier_.input_channels() == 1 ? data::ColorMode::kGray : data::ColorMode::kRgb;
  const config::RandomResizedCrop& rrc = pre.random_resized_crop();
  t.crop.min_area = rrc.min_area(), t.crop.max_area = rrc.max_area();
  t.crop.min_aspect = rrc.min_aspect_ratio(), t.crop.max_aspect = rrc.max_aspect_ratio();
  t.crop.max_attempts = static_cast<int>(rrc.max_attempts());
  t.flip_probability = split == Split::Train && pre.random_horizontal_flip() ? 0.5f : 0.f;
  t.eval_resize_shorter = static_cast<int>(pre.eval_resize());
  t.mean.assign(pre.mean().begin(), pre.mean().end());
  t.stddev.assign(pre.stddev().begin(), pre.stddev().end());
  return std::make_shared<data::ImageTransform>(t);
}

std::unique_ptr<data::Loader> ClassificationTask::loader(Split split, data::LoaderCursor start) const {
  return std::make_unique<data::Loader>(dataset(split), transform(split), loader_options(config_, split, run_), start);
}

data::Batch ClassificationTask::synthetic_batch(int64_t n) const {
  const Shape s = input_shape();
  Tensor images = Tensor::empty({n, s[0], s[1], s[2]}, DType::F32);
  Tensor labels = Tensor::empty({n}, DType::I32);
  Philox rng(run_.seed, 0x73796e7468ull);
  float* x = images.data<float>();
  for (int64_t i = 0; i < images.numel(); ++i) x[i] = rng.normal();
  for (int64_t i = 0; i < n; ++i) labels.data<int32_t>()[i] = static_cast<int32_t>(rng.below(model_.num_classes()));
  data::Batch b;
  b.images = math::cast(images, run_.precision.activations());
  b.labels = labels;
  return b;
}

void ClassificationTask::infer(Context& ctx, const data::Batch& batch) const {
  model_.forward(ctx, batch.images.to(ctx.device));
}

MetricMap ClassificationTask::evaluate(const EvalOptions& options) {
  std::unique_ptr<data::Loader> eval = loader(Split::Eval);
  eval::TopKAccuracy acc;
  Context ctx = run_.inference_context();
  const auto start = std::chrono::steady_clock::now();
  while (auto batch = eval->next())
    acc.add(model_.forward(ctx, batch->images.to(ctx.device)).to(Device::cpu()), batch->labels);
  const data::LoaderStats stats = eval->stats();
  if (stats.bad_samples > 0) log_warn("eval: ", stats.bad_samples, " unusable samples left out");
  if (dist::Communicator* ranks = options.communicator; ranks && ranks->world_size() > 1) {
    // Every rank counted its shard: the sums (exact in a double) are the whole split's.
    const eval::TopKAccuracy::Counts mine = acc.counts();
    acc = eval::TopKAccuracy();
    acc.add({std::llround(ranks->allreduce_sum(static_cast<double>(mine.images))),
             std::llround(ranks->allreduce_sum(static_cast<double>(mine.top1))),
             std::llround(ranks->allreduce_sum(static_cast<double>(mine.top5)))});
    if (!ranks->is_root()) return {};
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log_info("eval: ", acc.count(), " images in ", secs, " s");
  std::printf("top1: %.4f\ntop5: %.4f\nimages: %lld\n", acc.top1(), acc.top5(), static_cast<long long>(acc.count()));
  std::fflush(stdout);
  return {{"top1", acc.top1()}, {"top5", acc.top5()}, {"eval.images", acc.count()}};
}

// Class names when the training data is an image folder (its sub-folder names); else ids.
std::vector<std::string> ClassificationTask::class_names() const {
  const config::InputReader& r = config_.train_input_reader();
  if (r.input_reader_case() != config::InputReader::kImageFolderInputReader) return {};
  try {
    return data::ImageFolderDataset(r.image_folder_input_reader().root()).class_names();
  } catch (const Error&) {
    return {};  // the training folder is not on this machine: print ids
  }
}

int ClassificationTask::predict(const std::vector<std::string>& files, const PredictOptions&) {
  const auto t = transform(Split::Eval);
  const std::vector<std::string> names = class_names();
  const Shape sample = t->sample_shape();
  Context ctx = run_.inference_context();
  int failures = 0;
  for (const std::string& file : files) {
    try {
      data::Sample s;
      s.name = file;
      s.encoded = data::read_file_bytes(file);
      Tensor x = Tensor::empty({1, sample[0], sample[1], sample[2]}, DType::F32);
      Philox unused(0, 0);  // the eval transform draws nothing
      t->apply(s, unused, DType::F32, x.raw());
      const std::vector<float> z = model_.forward(ctx, x.to(ctx.device)).to_floats();
      const float mx = *std::max_element(z.begin(), z.end());
      double denom = 0;
      for (float v : z) denom += std::exp(v - mx);
      std::vector<int> order(z.size());
      std::iota(order.begin(), order.end(), 0);
      const size_t k = std::min<size_t>(5, z.size());
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) { return z[a] > z[b]; });
      std::printf("%s:", file.c_str());
      for (size_t i = 0; i < k; ++i) {
        const int c = order[i];
        std::printf(" %d%s%s (%.4f)", c, names.empty() ? "" : " ",
                    c < static_cast<int>(names.size()) ? names[c].c_str() : "", std::exp(z[c] - mx) / denom);
      }
      std::printf("\n");
    } catch (const Error& e) {
      std::fprintf(stderr, "%s\n", e.what());  // the data layer's messages name the file
      ++failures;
    }
  }
  std::fflush(stdout);
  return failures;
}

void ClassificationTask::trace(LayerObserver& observer) {
  Tape unused;  // a tape (never run) keeps conv, batchnorm and activation as separate rows
  Context ctx = run_.inference_context();
  ctx.tape = &unused;
  ctx.observer = &observer;
  model_.forward(ctx, blank_batch(run_.precision.activations(), ctx.device));
}

void ClassificationTask::record_inference(GraphRecorder& graph) {
  Context ctx = run_.recording_context(graph);
  const Tensor images = blank_batch(DType::F32, ctx.device);
  graph.input("images", images);
  graph.output("logits", model_.forward(ctx, images));  // softmax of these: predict's probabilities
}

}  // namespace trainer::tasks
