#include "trainer/cli/pipeline.h"

#include <cstdio>

#include "trainer/core/parallel.h"
#include "trainer/data/idx_dataset.h"
#include "trainer/data/image_folder.h"
#include "trainer/data/synthetic_dataset.h"
#include "trainer/data/tfrecord_dataset.h"
#include "trainer/models/resnet.h"
#include "trainer/train/checkpoint.h"

namespace trainer::cli {
namespace {

models::ResNetConfig resnet_config(const config::Classifier& c) {
  models::ResNetConfig r;
  const config::ResNet& net = c.resnet();
  r.depth = static_cast<int>(net.depth());
  r.blocks_per_stage.assign(net.blocks_per_stage().begin(), net.blocks_per_stage().end());
  r.v1_5 = net.version() == config::ResNet::V1_5;
  r.width = net.width();
  r.small_image_stem = net.stem() == config::ResNet::SMALL_IMAGE;
  r.num_classes = c.num_classes();
  r.input_channels = c.input_channels();
  r.bn_momentum = c.batch_norm().decay();
  r.bn_epsilon = c.batch_norm().epsilon();
  r.init_scale = c.weight_init().scale();
  r.init_fan_out = c.weight_init().mode() == config::WeightInit::FAN_OUT;
  return r;
}

DType compute_dtype_of(const config::TrainEvalPipelineConfig& c) {
  const bool cuda = c.runtime().device() == config::RuntimeConfig::CUDA;
  switch (c.precision().compute_dtype()) {
    case config::PrecisionConfig::FP32: return DType::F32;
    case config::PrecisionConfig::TF32: return DType::F32;  // a tensor-core mode; on CPUs it is FP32
    case config::PrecisionConfig::BF16: return DType::BF16;
    case config::PrecisionConfig::FP16:
      TRAINER_CHECK(cuda, "precision.compute_dtype FP16 needs runtime.device CUDA: CPUs have no fp16 convolutions; "
                          "use BF16 (or FP32) on the CPU");
      return DType::F16;
  }
  return DType::F32;
}

const config::InputReader& reader_of(const Pipeline& p, Split split) {
  if (split == Split::Train) {
    TRAINER_CHECK(p.config.has_train_input_reader(), "the config has no train_input_reader");
    return p.config.train_input_reader();
  }
  TRAINER_CHECK(p.config.has_eval_input_reader(), "the config has no eval_input_reader");
  return p.config.eval_input_reader();
}

}  // namespace

Pipeline load_pipeline(const CliArgs& args) {
  Pipeline p;
  p.config = config::load_pipeline_config(args.config_path, args.overrides);
  config::validate(p.config, args.config_path);
  p.config_text = config::to_text(p.config);
  TRAINER_CHECK(p.config.model().model_case() == config::DetectionModel::kClassifier,
                "this mode needs a model { classifier { ... } }");
  TRAINER_CHECK(p.config.runtime().device() == config::RuntimeConfig::CPU,
                "runtime.device CUDA: this build runs models on the CPU only; the CUDA kernels are compiled and "
                "tested but the training pipeline does not dispatch to them yet");
  p.compute_dtype = compute_dtype_of(p.config);
  p.seed = p.config.runtime().seed();
  set_num_threads(static_cast<int>(p.config.runtime().num_threads()));
  if (args.mode != Mode::Summary) {
    std::fprintf(stderr, "# resolved config (%s)\n%s", args.config_path.c_str(), p.config_text.c_str());
  }
  p.model = std::make_unique<models::ResNet>(resnet_config(p.config.model().classifier()), p.seed);
  return p;
}

std::shared_ptr<data::Dataset> build_dataset(const Pipeline& p, Split split) {
  const config::InputReader& r = reader_of(p, split);
  const config::Classifier& c = p.config.model().classifier();
  const char* which = split == Split::Train ? "train_input_reader" : "eval_input_reader";
  std::shared_ptr<data::Dataset> ds;
  switch (r.input_reader_case()) {
    case config::InputReader::kTfRecordInputReader: {
      data::TFRecordDatasetOptions o;
      o.num_classes = c.num_classes();
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
      o.height = o.width = static_cast<int>(c.image_size());
      o.channels = static_cast<int>(c.input_channels());
      o.num_classes = c.num_classes();
      o.seed = p.seed;
      ds = std::make_shared<data::SyntheticDataset>(o);
      break;
    }
    default:
      fail(which, ": no data source (set tf_record_input_reader, image_folder_input_reader, idx_input_reader or "
                  "synthetic_input_reader)");
  }
  TRAINER_CHECK(ds->num_classes() <= c.num_classes(), which, ": ", ds->describe(), " has ", ds->num_classes(),
                " classes but model.classifier.num_classes is ", c.num_classes());
  return ds;
}

std::shared_ptr<data::ImageTransform> build_transform(const Pipeline& p, Split split) {
  const config::Classifier& c = p.config.model().classifier();
  const config::ClassificationPreprocessing& pre = c.preprocessing();
  data::TransformOptions t;
  t.train = split == Split::Train && pre.train_crop() == config::ClassificationPreprocessing::RANDOM_RESIZED_CROP;
  t.height = t.width = static_cast<int>(c.image_size());
  t.color = c.input_channels() == 1 ? data::ColorMode::kGray : data::ColorMode::kRgb;
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

data::LoaderOptions loader_options(const Pipeline& p, Split split) {
  const config::InputReader& r = reader_of(p, split);
  data::LoaderOptions o;
  o.mode = split == Split::Train ? data::LoaderMode::kTrain : data::LoaderMode::kEval;
  o.batch_size = split == Split::Train ? p.config.train_config().batch_size() : p.config.eval_config().batch_size();
  o.num_workers = static_cast<int>(r.num_workers());
  o.prefetch_batches = std::max(1, r.num_prefetch_batches());
  o.seed = p.seed;
  o.image_dtype = p.compute_dtype == DType::BF16 ? DType::BF16 : DType::F32;
  return o;
}

train::LearningRateSchedule learning_rate_schedule(const config::LearningRate& lr) {
  using Kind = train::LearningRateSchedule::Kind;
  train::LearningRateSchedule s;
  if (lr.has_cosine_decay_learning_rate()) {
    const auto& cd = lr.cosine_decay_learning_rate();
    s.kind = Kind::CosineWithWarmup;
    s.base = cd.learning_rate_base();
    s.total_steps = cd.total_steps();
    s.warmup_lr = cd.warmup_learning_rate();
    s.warmup_steps = cd.warmup_steps();
    s.hold_steps = cd.hold_base_rate_steps();
    s.cosine_from_step_zero = cd.cosine_from_step_zero();
  } else if (lr.has_exponential_decay_learning_rate()) {
    const auto& ed = lr.exponential_decay_learning_rate();
    s.kind = Kind::ExponentialDecay;
    s.base = ed.initial_learning_rate();
    s.decay_steps = ed.decay_steps();
    s.decay_factor = ed.decay_factor();
    s.staircase = ed.staircase();
    s.burnin_lr = ed.burnin_learning_rate();
    s.burnin_steps = ed.burnin_steps();
    s.min_lr = ed.min_learning_rate();
  } else if (lr.has_manual_step_learning_rate()) {
    const auto& ms = lr.manual_step_learning_rate();
    s.kind = Kind::ManualStep;
    s.base = ms.initial_learning_rate();
    s.rates = {ms.initial_learning_rate()};
    for (const auto& entry : ms.schedule()) {
      s.boundaries.push_back(entry.step());
      s.rates.push_back(entry.learning_rate());
    }
    s.manual_warmup = ms.warmup();
  } else {
    s.kind = Kind::Constant;
    s.base = lr.constant_learning_rate().learning_rate();
  }
  return s;
}

train::TrainerOptions trainer_options(const Pipeline& p) {
  const config::TrainConfig& tc = p.config.train_config();
  const config::Classifier& c = p.config.model().classifier();
  train::TrainerOptions o;
  o.num_steps = tc.num_steps();
  o.compute_dtype = p.compute_dtype;
  const config::MomentumOptimizer& m = tc.optimizer().momentum_optimizer();
  o.optimizer.momentum = m.momentum_optimizer_value();
  o.optimizer.nesterov = m.use_nesterov();
  o.optimizer.weight_decay = c.weight_decay().value();
  o.optimizer.decay_norm_params = !c.weight_decay().exclude_batch_norm();
  o.optimizer.decay_biases = !c.weight_decay().exclude_bias();
  o.schedule = learning_rate_schedule(m.learning_rate());
  const config::PrecisionConfig& pr = p.config.precision();
  if (pr.has_static_loss_scale()) {
    o.loss_scaling.mode = train::LossScalerOptions::Mode::Static;
    o.loss_scaling.initial_scale = pr.static_loss_scale();
  } else if (pr.has_dynamic_loss_scale() || p.compute_dtype == DType::F16) {
    o.loss_scaling.mode = train::LossScalerOptions::Mode::Dynamic;
    o.loss_scaling.initial_scale = pr.dynamic_loss_scale().initial_scale();
    o.loss_scaling.growth_interval = pr.dynamic_loss_scale().growth_interval();
    o.loss_scaling.growth_factor = pr.dynamic_loss_scale().growth_factor();
    o.loss_scaling.backoff_factor = pr.dynamic_loss_scale().backoff_factor();
  }
  o.clip_gradient_norm = tc.gradient_clipping_by_norm();
  const config::RuntimeConfig& rt = p.config.runtime();
  o.log_every = rt.log_every_n_steps();
  o.model_dir = rt.model_dir();
  o.checkpoint_every = rt.checkpoint_every_n_steps();
  o.keep_checkpoints = static_cast<int>(rt.keep_checkpoint_max());
  o.config_text = p.config_text;
  return o;
}

std::string checkpoint_to_load(const Pipeline& p, const CliArgs& args) {
  if (!args.checkpoint.empty()) return args.checkpoint;
  const std::string& dir = p.config.runtime().model_dir();
  TRAINER_CHECK(!dir.empty(), "no checkpoint to evaluate: pass --checkpoint PATH or set runtime.model_dir");
  auto latest = train::CheckpointManager(dir, 1).latest();
  TRAINER_CHECK(latest.has_value(), "no checkpoint in ", dir, ": train first, or pass --checkpoint PATH");
  return *latest;
}

}  // namespace trainer::cli
