#include "trainer/tasks/detection_task.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "trainer/core/log.h"
#include "trainer/core/random.h"
#include "trainer/data/coco_json_dataset.h"
#include "trainer/data/decode.h"
#include "trainer/data/detection_tfrecord_dataset.h"
#include "trainer/data/detection_transform.h"
#include "trainer/data/image_folder.h"
#include "trainer/data/synthetic_dataset.h"
#include "trainer/eval/coco_eval.h"
#include "trainer/eval/pr_curve_plot.h"
#include "trainer/ops/activation.h"
#include "trainer/ops/elementwise.h"
#include "trainer/tasks/coco_results.h"
#include "trainer/tasks/data_batch.h"
#include "trainer/tasks/input_config.h"

namespace trainer::tasks {
namespace fs = std::filesystem;

DetectionTask::DetectionTask(const config::TrainEvalPipelineConfig& config, const RunContext& run)
    : config_(config), ssd_(config_.model().ssd()), run_(run), model_(ssd_model_config(ssd_), run.seed),
      anchors_on_device_(model_.anchors().to(run.device)), assigner_(ssd_target_assigner_options(ssd_)),
      loss_options_(ssd_loss_options(ssd_)),
      postprocess_(ssd_postprocess_options(ssd_)) {
  models::validate(assigner_.matcher);
  // Class names for predict and the evaluator's categories: the eval reader's label map, else
  // the train reader's; unreadable or absent ones fall back to numeric ids.
  std::string why;
  for (Split split : {Split::Eval, Split::Train}) {
    if (names_) break;
    try {
      names_ = label_map(split);
    } catch (const Error& e) {
      if (why.empty()) why = e.what();
    }
  }
  if (!names_ && !why.empty()) log_warn("class names are numbers: ", why);
  model_.store().to(run.device);
}

Shape DetectionTask::input_shape() const {
  return {model_.config().image_height, model_.config().image_width, 3};
}

void DetectionTask::configure(train::TrainerOptions& o) const {
  // slim's l2_regularizer on convolution kernels only: no decay of biases or batchnorm.
  o.optimizer.weight_decay = ssd_weight_decay(ssd_);
  o.optimizer.decay_biases = false;
  o.optimizer.decay_norm_params = false;
}

Tensor DetectionTask::loss(Context& ctx, const train::TrainBatch& train_batch, int64_t step) {
  const DataBatch& staged = data_batch_of(train_batch);
  const data::Batch& batch = staged.batch;
  // Drop-connect's draws (EfficientNet): a sequence per step and rank, so a resumed run and every
  // rank's share of the batch draw as they would have.
  Philox rng(run_.seed, mix_stream({0x64726f70ull, static_cast<uint64_t>(step), static_cast<uint64_t>(run_.rank)}));
  ctx.rng = &rng;
  // On a GPU the forward pass is only queued here (its input copied a step ahead,
  // DataBatch::prefetch); the targets are assigned on the device after it, from the ground truth
  // uploaded in one copy (models/detectors/target_assigner.h).
  const models::SsdDetector::Output out = model_.forward(ctx, staged.images_on(ctx.device));
  ctx.rng = nullptr;  // rng dies with this call
  // Per-layer timing (benchmark.per_layer): the loss, target assignment included, is a row of its own.
  if (ctx.layer_times) ctx.layer_times->enter("loss");
  const size_t n = batch.annotations.size();
  TRAINER_CHECK(static_cast<int64_t>(n) == batch.images.dim(0), "detection batch: ", n, " annotation rows for ",
                batch.images.dim(0), " images");
  // Ground-truth views over flat per-image arrays.
  std::vector<std::vector<float>> boxes(n);
  std::vector<std::vector<int32_t>> labels(n);
  std::vector<std::vector<uint8_t>> crowd(n);
  std::vector<models::ImageGroundTruth> gt(n);
  for (size_t i = 0; i < n; ++i) {
    for (const data::BoxAnnotation& b : batch.annotations[i].boxes) {
      boxes[i].insert(boxes[i].end(), {b.ymin, b.xmin, b.ymax, b.xmax});
      labels[i].push_back(b.label);
      crowd[i].push_back(b.crowd);
    }
    gt[i] = {boxes[i].data(), labels[i].data(), crowd[i].data(), static_cast<int64_t>(labels[i].size())};
  }
  const models::BatchTargets targets =
      models::assign_targets_batch(anchors_on_device_, gt, ssd_.num_classes(), assigner_, ctx.stream);
  const models::SsdLoss l = models::ssd_loss(ctx, out.class_logits, out.box_codes, targets, loss_options_);
  last_classification_ = l.classification;
  last_localization_ = l.localization;
  Tensor total = ops::add(ctx, l.classification, l.localization);
  if (ctx.layer_times) ctx.layer_times->exit("loss", "SsdLoss");
  return total;
}

std::shared_ptr<const data::LabelMap> DetectionTask::label_map(Split split) const {
  const config::InputReader& r = input_reader(config_, split);
  if (r.label_map_path().empty()) return nullptr;
  return std::make_shared<data::LabelMap>(data::LabelMap::load(r.label_map_path()));
}

std::shared_ptr<data::Dataset> DetectionTask::dataset(Split split) const {
  const config::InputReader& r = input_reader(config_, split);
  switch (r.input_reader_case()) {
    case config::InputReader::kTfRecordInputReader: {
      data::DetectionTFRecordDatasetOptions o;
      o.num_classes = ssd_.num_classes();
      o.label_map = label_map(split);
      std::vector<std::string> files(r.tf_record_input_reader().input_path().begin(),
                                     r.tf_record_input_reader().input_path().end());
      return std::make_shared<data::DetectionTFRecordDataset>(files, o);
    }
    case config::InputReader::kCocoJsonInputReader: {
      data::CocoJsonDatasetOptions o;
      o.num_classes = ssd_.num_classes();
      o.label_map = label_map(split);
      return std::make_shared<data::CocoJsonDetectionDataset>(r.coco_json_input_reader().annotations_file(),
                                                              r.coco_json_input_reader().image_dir(), o);
    }
    case config::InputReader::kSyntheticInputReader: {
      data::SyntheticDetectionOptions o;
      o.size = static_cast<int64_t>(r.synthetic_input_reader().num_examples());
      o.height = static_cast<int>(model_.config().image_height);
      o.width = static_cast<int>(model_.config().image_width);
      o.num_classes = ssd_.num_classes();
      o.seed = run_.seed;
      return std::make_shared<data::SyntheticDetectionDataset>(o);
    }
    default:
      fail(reader_name(split), ": no data source for a detector (set tf_record_input_reader, coco_json_input_reader "
                               "or synthetic_input_reader)");
  }
}

std::unique_ptr<data::Loader> DetectionTask::loader(Split split, data::LoaderCursor start) const {
  auto transform = std::make_shared<data::DetectionTransform>(ssd_transform_options(config_, split == Split::Train));
  return std::make_unique<data::Loader>(dataset(split), transform, loader_options(config_, split, run_), start);
}

data::Batch DetectionTask::synthetic_batch(int64_t n) const {
  // The synthetic dataset's first n samples through the eval transform: real-looking targets
  // (a few boxes per image) at the network's input size.
  data::SyntheticDetectionOptions o;
  o.size = n;
  o.height = static_cast<int>(model_.config().image_height);
  o.width = static_cast<int>(model_.config().image_width);
  o.num_classes = ssd_.num_classes();
  o.seed = run_.seed;
  const data::SyntheticDetectionDataset ds(o);
  data::DetectionTransformOptions t = ssd_transform_options(config_, false);
  const data::DetectionTransform transform(t);
  const Shape s = transform.sample_shape();
  const DType dtype = run_.precision.activations();
  data::Batch b;
  b.images = Tensor::empty({n, s[0], s[1], s[2]}, dtype);
  b.labels = Tensor::full({n}, -1, DType::I32);
  b.annotations.resize(n);
  const size_t per = static_cast<size_t>(shape_numel(s)) * dtype_size(dtype);
  for (int64_t i = 0; i < n; ++i) {
    Philox rng(run_.seed, static_cast<uint64_t>(i));
    transform.apply(ds.read(i), rng, dtype, static_cast<char*>(b.images.raw()) + i * per, &b.annotations[i]);
    b.indices.push_back(i);
  }
  return b;
}

std::vector<std::vector<models::DetectedBox>> DetectionTask::detect(Context& ctx, const Tensor& images,
                                                                    const std::vector<data::ImageAnnotations>& rows) const {
  const models::SsdDetector::Output out = model_.forward(ctx, images.to(ctx.device));
  // TF clips to the true image (the padded input's top-left part) before keeping the best boxes.
  std::vector<std::array<float, 4>> windows;
  for (const data::ImageAnnotations& row : rows) windows.push_back(true_image_window(row));
  return models::postprocess_batch(ctx, out.class_logits, out.box_codes, anchors_on_device_, postprocess_,
                                   windows);
}

void DetectionTask::infer(Context& ctx, const data::Batch& batch) const {
  detect(ctx, batch.images, batch.annotations);
}

MetricMap DetectionTask::evaluate(const EvalOptions& options) {
  const std::unique_ptr<data::Loader> eval = loader(Split::Eval);
  Context ctx = run_.inference_context();
  CocoResults results;
  const int64_t limit = config_.eval_config().num_examples();  // 0: all
  // The first eval_config.num_visualizations images this process evaluates (under mpirun rank
  // 0's, the one that logs), drawn with their detections once the metrics are out.
  const bool pictures = options.log && options.log->has_sinks();
  const size_t num_pictures = pictures ? config_.eval_config().num_visualizations() : 0;
  std::vector<std::pair<int64_t, std::vector<models::DetectedBox>>> to_draw;  // dataset index, detections
  const auto start = std::chrono::steady_clock::now();
  while (auto batch = eval->next()) {
    const auto detections = detect(ctx, batch->images, batch->annotations);
    for (size_t i = 0; i < detections.size(); ++i) {
      if (limit > 0 && static_cast<int64_t>(results.image_ids().size()) >= limit) break;
      results.add(batch->annotations[i], detections[i]);
      if (to_draw.size() < num_pictures)
        to_draw.emplace_back(batch->indices[i], detections_in_original_image(detections[i], batch->annotations[i]));
    }
    if (limit > 0 && static_cast<int64_t>(results.image_ids().size()) >= limit) break;
  }
  const data::LoaderStats stats = eval->stats();
  if (stats.bad_samples > 0) log_warn("eval: ", stats.bad_samples, " unusable images left out");
  if (dist::Communicator* ranks = options.communicator; ranks && ranks->world_size() > 1) {
    // Every rank evaluated its shard; rank 0 gathers the images, ground truth and detections in
    // rank order (dataset order) and computes the metrics, exactly as one process would.
    const std::vector<std::string> shards = ranks->allgather(results.serialize());
    if (!ranks->is_root()) return {};
    CocoResults all;
    for (const std::string& shard : shards) all.append_serialized(shard, limit);
    results = std::move(all);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log_info("eval: ", results.image_ids().size(), " images, ", results.detections().size(), " detections in ", secs,
           " s");
  TRAINER_CHECK(!results.image_ids().empty(), "eval: the eval reader gave no images");

  // Ground truth: the COCO JSON itself when the eval reader reads one (its areas and crowd
  // regions as pycocotools sees them), else what the records hold. Evaluated on the images seen.
  const config::InputReader& r = input_reader(config_, Split::Eval);
  eval::CocoDataset gt = r.has_coco_json_input_reader()
                             ? eval::CocoDataset::load(r.coco_json_input_reader().annotations_file())
                             : results.ground_truth(names_.get(), ssd_.num_classes());
  eval::CocoEvalParams params = eval::CocoEvalParams::defaults(gt);
  params.img_ids = results.image_ids();
  const eval::CocoDataset dt = gt.load_res(results.detections());
  const eval::CocoEvalResult evaluated = eval::evaluate(gt, dt, params);
  const eval::CocoSummary summary = eval::summarize(evaluated);
  std::fputs(summary.text.c_str(), stdout);
  std::fflush(stdout);
  if (!options.output_dir.empty()) {
    fs::create_directories(options.output_dir);
    const std::string suffix = options.step >= 0 ? "-" + std::to_string(options.step) : "";
    const fs::path path = fs::path(options.output_dir) / ("detections" + suffix + ".json");
    std::ofstream(path) << results.detections_json();
    log_info("eval: detections written to ", path.string());
    // The curves behind AP, AP50 and AP75 (area all, 100 detections per image).
    const fs::path curves = fs::path(options.output_dir) / ("pr_curves" + suffix + ".png");
    const size_t images = results.image_ids().size();
    const std::string title = "precision-recall, " + std::to_string(images) + (images == 1 ? " image" : " images") +
                              (options.step >= 0 ? ", step " + std::to_string(options.step) : "");
    try {
      eval::write_pr_curves_plot(eval::coco_pr_curves(evaluated), title, curves.string());
      log_info("eval: precision-recall curves written to ", curves.string());
    } catch (const Error& e) {
      log_warn("eval: no precision-recall curves: ", e.what());
    }
  }
  // Tagged by position, so each tag's step slider in TensorBoard shows one image over the run.
  // A picture that cannot be made costs a warning, not the evaluation's metrics.
  for (size_t k = 0; k < to_draw.size(); ++k) {
    const std::string tag = "detections/" + std::to_string(k);
    try {
      const data::Sample sample = eval->dataset().read(to_draw[k].first);
      const data::Image picture = sample.encoded.empty()
                                      ? sample.image
                                      : data::decode_image(sample.encoded, sample.name, data::ColorMode::kRgb);
      options.log->image(options.step, tag, draw_boxes_png(picture, boxes_to_draw(to_draw[k].second)));
    } catch (const Error& e) {
      log_warn("eval: no picture ", tag, ": ", e.what());
    }
  }
  MetricMap m;
  for (size_t i = 0; i < summary.stats.size(); ++i) m[eval::kCocoStatNames[i]] = summary.stats[i];
  m["eval.images"] = static_cast<int64_t>(results.image_ids().size());
  return m;
}

std::string DetectionTask::class_name(int32_t id) const {
  if (names_ && names_->contains(id)) return names_->class_name(id);
  return std::to_string(id);
}

std::vector<DrawnBox> DetectionTask::boxes_to_draw(const std::vector<models::DetectedBox>& found) const {
  const float min_score = config_.eval_config().min_score_threshold();
  const size_t max_drawn = static_cast<size_t>(std::max(0, config_.eval_config().max_num_boxes_to_visualize()));
  std::vector<DrawnBox> drawn;
  for (const models::DetectedBox& d : found) {
    if (d.score < min_score || drawn.size() >= max_drawn) continue;
    char label[96];
    std::snprintf(label, sizeof label, "%s %.2f", class_name(d.class_id).c_str(), d.score);
    drawn.push_back({d.box[0], d.box[1], d.box[2], d.box[3], label, d.class_id});
  }
  return drawn;
}

int DetectionTask::predict(const std::vector<std::string>& files, const PredictOptions& options) {
  const data::DetectionTransform transform(ssd_transform_options(config_, false));
  const Shape s = transform.sample_shape();
  Context ctx = run_.inference_context();
  const float min_score = config_.eval_config().min_score_threshold();
  const std::string out_dir = options.output_dir.empty() ? "predictions" : options.output_dir;
  int failures = 0;
  for (const std::string& file : files) {
    try {
      data::Sample sample;
      sample.name = file;
      sample.encoded = data::read_file_bytes(file);
      Tensor x = Tensor::empty({1, s[0], s[1], s[2]}, DType::F32);
      data::ImageAnnotations image;
      Philox unused(0, 0);  // the eval transform draws nothing
      transform.apply(sample, unused, DType::F32, x.raw(), &image);
      // Normalised to the (possibly padded) input: back to the original image first.
      const std::vector<models::DetectedBox> found = detections_in_original_image(detect(ctx, x, {image})[0], image);
      int shown = 0;
      std::printf("%s: %dx%d\n", file.c_str(), image.original_width, image.original_height);
      for (const models::DetectedBox& d : found) {
        if (d.score < min_score) continue;
        const eval::BBox px = to_coco_box(d.box[0], d.box[1], d.box[2], d.box[3], image.original_width,
                                          image.original_height);
        std::printf("  %-16s %.3f  x %.1f y %.1f w %.1f h %.1f\n", class_name(d.class_id).c_str(), d.score, px.x, px.y,
                    px.w, px.h);
        ++shown;
      }
      if (shown == 0) std::printf("  no detection scores >= %g (eval_config.min_score_threshold)\n", min_score);
      fs::create_directories(out_dir);
      const fs::path out = fs::path(out_dir) / (fs::path(file).stem().string() + ".png");
      draw_boxes(data::decode_image(sample.encoded, file, data::ColorMode::kRgb), boxes_to_draw(found), out.string());
      std::printf("  drawn: %s\n", out.c_str());
    } catch (const Error& e) {
      std::fprintf(stderr, "%s\n", e.what());  // the data layer's messages name the file
      ++failures;
    }
  }
  std::fflush(stdout);
  return failures;
}

void DetectionTask::trace(LayerObserver& observer) {
  Tape unused;  // a tape (never run) keeps conv, batchnorm and activation as separate rows
  Context ctx = run_.inference_context();
  ctx.tape = &unused;
  ctx.observer = &observer;
  model_.forward(ctx, blank_batch(run_.precision.activations(), ctx.device));
}

void DetectionTask::record_inference(GraphRecorder& graph) {
  Context ctx = run_.recording_context(graph);
  const Tensor images = blank_batch(DType::F32, ctx.device);
  graph.input("images", images);
  const models::SsdDetector::Output out = model_.forward(ctx, images);
  // The raw predictions in the anchors' order with the anchors, and the same decoded as
  // models/detectors/postprocess.h does before NMS, which stays with the consumer.
  graph.output("box_codes", out.box_codes);
  graph.output("class_logits", out.class_logits);
  graph.constant_output("anchors", model_.anchors());
  graph.decoded_boxes_output("boxes", out.box_codes, model_.anchors(), postprocess_.box_coder);
  const Tensor logits = postprocess_.logit_scale == 1.f
                            ? out.class_logits
                            : ops::scale(ctx, out.class_logits, 1.f / postprocess_.logit_scale);
  graph.output("scores", ops::sigmoid(ctx, logits));
}

}  // namespace trainer::tasks
