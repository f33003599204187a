// matchers/argmax_matcher.py of the TF Object Detection API: each anchor (column of a
// similarity matrix) goes to the ground-truth row it is most similar to, if similar enough.
#pragma once

#include <cstdint>

#include "trainer/kernels/target_assign_options.h"

namespace trainer::models {

// The options, their check and the match codes are the kernels' (one definition for both
// backends: kernels/target_assign_options.h).
using trainer::ArgmaxMatcherOptions;
using trainer::kIgnored;
using trainer::kUnmatched;
using trainer::validate;

// similarity: [num_rows, num_cols] f32 (rows = ground truth, columns = anchors); valid_rows:
// [num_rows] or null for all valid; matches: [num_cols] out.
// As TensorFlow computes it:
// - Column c's best row is tf.argmax over the rows: the first row on ties (also when the best
//   similarity is 0). Invalid rows take part here; they only lose the right to force a match.
// - Thresholds turn the best value into kUnmatched / kIgnored as ArgmaxMatcherOptions documents.
// - force_match_for_each_row: row r's column is tf.argmax over the columns (the first column on
//   ties, so a row with no overlap anywhere forces column 0); that column takes row r whatever
//   the thresholds said. When several rows force the same column, the lowest row wins (TF takes
//   the argmax of a one-hot column); the other rows then have no forced column.
// - No rows: every column is kUnmatched.
// Similarities must not be NaN (IoUs of finite boxes never are).
void argmax_match(const float* similarity, int64_t num_rows, int64_t num_cols, const ArgmaxMatcherOptions& o,
                  const uint8_t* valid_rows, int32_t* matches);

}  // namespace trainer::models
