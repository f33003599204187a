// Object detection with a single-shot detector (model.ssd): NVIDIA's SSD320 v1.2 and the TF
// Object Detection API's RetinaNet configs. Loss: target assignment (argmax matcher, Faster R-CNN
// coder) with sigmoid focal and smooth-L1 losses normalised by the batch's positives; eval:
// detections in original-image pixels scored by the in-process pycocotools-exact evaluator;
// predict: detections printed and drawn on the picture.
#pragma once

#include <memory>

#include "trainer/data/label_map.h"
#include "trainer/models/detectors/ssd.h"
#include "trainer/tasks/draw_detections.h"
#include "trainer/tasks/ssd_config.h"
#include "trainer/tasks/task.h"

namespace trainer::tasks {

class DetectionTask final : public Task {
 public:
  DetectionTask(const config::TrainEvalPipelineConfig& config, const RunContext& run);

  nn::ParameterStore& store() override { return model_.store(); }
  std::string architecture() const override { return model_.architecture(); }
  Tensor loss(Context& ctx, const train::TrainBatch& batch, int64_t step) override;
  std::vector<std::string> loss_term_names() const override { return {"classification", "localization"}; }
  std::vector<Tensor> last_loss_terms() const override { return {last_classification_, last_localization_}; }

  std::string kind() const override { return "detection"; }
  Shape input_shape() const override;
  void configure(train::TrainerOptions& options) const override;
  std::unique_ptr<data::Loader> loader(Split split, data::LoaderCursor start = {}) const override;
  data::Batch synthetic_batch(int64_t batch_size) const override;
  void infer(Context& ctx, const data::Batch& batch) const override;
  MetricMap evaluate(const EvalOptions& options) override;
  int predict(const std::vector<std::string>& files, const PredictOptions& options) override;
  void trace(LayerObserver& observer) override;
  void record_inference(GraphRecorder& graph) override;

  const models::SsdDetector& model() const { return model_; }
  // Detections of a batch (eval-mode forward + post-processing), boxes normalised to the
  // network input (= the source image, the resizer keeps no aspect ratio).
  // rows: the images' annotations (where each image is in its padded input), or empty.
  std::vector<std::vector<models::DetectedBox>> detect(Context& ctx, const Tensor& images,
                                                       const std::vector<data::ImageAnnotations>& rows = {}) const;

 private:
  std::shared_ptr<data::Dataset> dataset(Split split) const;
  std::shared_ptr<const data::LabelMap> label_map(Split split) const;
  std::string class_name(int32_t id) const;
  // What predict and the eval pictures draw: detections (boxes normalised to the original
  // image) scoring eval_config.min_score_threshold or more, at most max_num_boxes_to_visualize,
  // labelled "<class> <score>".
  std::vector<DrawnBox> boxes_to_draw(const std::vector<models::DetectedBox>& found) const;

  config::TrainEvalPipelineConfig config_;
  const config::Ssd& ssd_;
  RunContext run_;
  models::SsdDetector model_;
  // model_.anchors() on run.device, uploaded once: target assignment and post-processing read them
  Tensor anchors_on_device_;
  models::TargetAssignerOptions assigner_;
  models::SsdLossOptions loss_options_;
  models::PostprocessOptions postprocess_;
  Tensor last_classification_, last_localization_;  // the terms of the last loss()
  std::shared_ptr<const data::LabelMap> names_;  // for printing: the eval or train label map
};

}  // namespace trainer::tasks
