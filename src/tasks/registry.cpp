// The task registry: one line per model type of the config's `model` oneof.
#include "trainer/tasks/classification_task.h"
#include "trainer/tasks/detection_task.h"
#include "trainer/tasks/task.h"

namespace trainer::tasks {

std::unique_ptr<Task> create_task(const config::TrainEvalPipelineConfig& config, const RunContext& run) {
  switch (config.model().model_case()) {
    case config::DetectionModel::kClassifier: return std::make_unique<ClassificationTask>(config, run);
    case config::DetectionModel::kSsd: return std::make_unique<DetectionTask>(config, run);
    default: break;
  }
  fail("the config's model has no task: set model { classifier { ... } } (classification) or model { ssd { ... } } "
       "(detection)");
}

}  // namespace trainer::tasks
