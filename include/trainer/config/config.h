// The pipeline config: the TF Object Detection API's TrainEvalPipelineConfig in protobuf text
// format (src/config/README.md) plus trainer's own sections. The schema is
// src/config/proto/trainer/config/*.proto; the generated classes live in namespace
// trainer::config next to these functions.
//
// A run does, in this order:
//   auto config = load_pipeline_config(path, overrides);   // parse, merge, resolve defaults
//   validate(config, path);                                 // unimplemented fields, bad values
//   log(to_text(config));                                   // and save it beside checkpoints
#pragma once

#include <string>
#include <vector>

#include "trainer/config/pipeline.pb.h"

namespace trainer::config {

// Reads the text-format config at `path`, merges every override on top in order (see
// apply_override), then resolve_defaults. Errors (trainer::Error) name the place:
// "FILE:LINE:COL: message" for the file, "<override N>:LINE:COL: message" for the N-th
// override (1-based), both 1-based like compilers. Does not validate.
TrainEvalPipelineConfig load_pipeline_config(const std::string& path,
                                             const std::vector<std::string>& overrides = {});

// Parses a whole config from text; `source_name` stands for the file name in errors.
TrainEvalPipelineConfig parse_pipeline_text(const std::string& text,
                                            const std::string& source_name);

// Merges text proto `override_text` into `config`. Singular fields it sets replace the base's,
// nested messages merge field by field, choosing another case of a oneof drops the old case,
// and a repeated field it mentions REPLACES the base's list: `--override
// 'train_input_reader { tf_record_input_reader { input_path: "/data/train-*" } }'` points
// the reader at one new pattern instead of adding a second one (protobuf's own merge would
// append). An override cannot empty a list or unset a field.
void apply_override(TrainEvalPipelineConfig& config, const std::string& override_text,
                    const std::string& source_name);

// Fills what the schema cannot default because it is a repeated field: a classifier's
// preprocessing mean and stddev, when both are empty and input_channels is 3, become NVIDIA's
// ImageNet values. Idempotent; load_pipeline_config calls it.
void resolve_defaults(TrainEvalPipelineConfig& config);

// Everything wrong with `config`, one line each ("PATH: what"), in schema order:
//   - valid fields that trainer does not implement yet, by path (indices 0-based:
//     "train_config.data_augmentation_options[1].random_crop_image"), from the table in
//     src/config/implemented.cpp. A model that is not implemented yet is the only line, since
//     nothing else matters until it exists;
//   - bad values, e.g. "train_config.batch_size: must be > 0, got 0".
// Empty when the config can run.
std::vector<std::string> validation_problems(const TrainEvalPipelineConfig& config);

// Throws trainer::Error "SOURCE: problem; problem; ..." (one line) unless
// validation_problems(config) is empty.
void validate(const TrainEvalPipelineConfig& config, const std::string& source_name = "config");

// The config as text format that load_pipeline_config reads back to an equal message: set
// fields only, repeated numbers as [a, b, c], floats in the shortest form that reads back
// exactly.
std::string to_text(const TrainEvalPipelineConfig& config);

}  // namespace trainer::config
