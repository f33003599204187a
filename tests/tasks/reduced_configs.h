// The small detector configs the emulated-CUDA task tests run (tests/tasks/cuda_step_test.cpp,
// cuda_detect_test.cpp): the overfit tests' models at 128 pixels, so that a step on the CUDA
// emulator takes seconds.
#pragma once

#include <cstdlib>
#include <string>

#include "trainer/config/config.h"

namespace trainer::tasks::test_configs {

// A file of the source tree (ctest sets TRAINER_SOURCE_DIR; else relative to the working folder).
inline std::string source(const std::string& path) {
  const char* root = std::getenv("TRAINER_SOURCE_DIR");
  return (root ? std::string(root) + "/" : std::string()) + path;
}

// The overfit test's reduced SSD (ResNet-FPN, weight-shared heads, focal loss, background slot)
// at 128x128.
inline config::TrainEvalPipelineConfig reduced_ssd() {
  config::TrainEvalPipelineConfig c = config::load_pipeline_config(source("tests/tasks/data/coco_overfit.pbtxt"));
  config::apply_override(c, "model { ssd { image_resizer { fixed_shape_resizer { height: 128 width: 128 } } } }",
                         "reduced_ssd");
  return c;
}

// The overfit test's reduced EfficientDet (EfficientNet-B0 at half width and depth, a 2-layer
// BiFPN, depthwise heads, no background class slot), 128 on the long side, padded square.
inline config::TrainEvalPipelineConfig reduced_efficientdet() {
  config::TrainEvalPipelineConfig c =
      config::load_pipeline_config(source("tests/tasks/data/efficientdet_overfit.pbtxt"));
  config::apply_override(c,
                         "model { ssd { image_resizer { keep_aspect_ratio_resizer { min_dimension: 128 "
                         "max_dimension: 128 pad_to_max_dimension: true } } } }",
                         "reduced_efficientdet");
  return c;
}

}  // namespace trainer::tasks::test_configs
