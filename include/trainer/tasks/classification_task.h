// Image classification (model.classifier): softmax cross-entropy with label smoothing and
// NVIDIA's mixup; top-1/top-5 accuracy; predict prints the top-5 classes.
#pragma once

#include "trainer/models/classifier.h"
#include "trainer/tasks/task.h"

namespace trainer::tasks {

// model.classifier as a models::ClassifierConfig.
models::ClassifierConfig classifier_config(const config::Classifier& c);

class ClassificationTask final : public Task {
 public:
  ClassificationTask(const config::TrainEvalPipelineConfig& config, const RunContext& run);

  nn::ParameterStore& store() override { return model_.store(); }
  std::string architecture() const override { return model_.architecture(); }
  Tensor loss(Context& ctx, const train::TrainBatch& batch, int64_t step) override;

  std::string kind() const override { return "classification"; }
  Shape input_shape() const override;
  void configure(train::TrainerOptions& options) const override;
  std::unique_ptr<data::Loader> loader(Split split, data::LoaderCursor start = {}) const override;
  data::Batch synthetic_batch(int64_t batch_size) const override;
  void infer(Context& ctx, const data::Batch& batch) const override;
  MetricMap evaluate(const EvalOptions& options) override;
  int predict(const std::vector<std::string>& files, const PredictOptions& options) override;
  void trace(LayerObserver& observer) override;
  void record_inference(GraphRecorder& graph) override;

  const models::Classifier& model() const { return model_; }
  // The per-image preprocessing of a split (predict and the export test use the eval one).
  std::shared_ptr<data::ImageTransform> transform(Split split) const;

 private:
  std::shared_ptr<data::Dataset> dataset(Split split) const;
  std::vector<std::string> class_names() const;

  config::TrainEvalPipelineConfig config_;
  const config::Classifier& classifier_;
  RunContext run_;
  models::Classifier model_;
};

}  // namespace trainer::tasks
