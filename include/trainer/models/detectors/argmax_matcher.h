// matchers/argmax_matcher.py of the TF Object Detection API: each anchor (column of a
// similarity matrix) goes to the ground-truth row it is most similar to, if similar enough.
#pragma once

#include <cstdint>

namespace trainer::models {

// Match results per anchor: a ground-truth row >= 0, or one of these.
constexpr int32_t kUnmatched = -1;  // a negative (background) anchor
constexpr int32_t kIgnored = -2;    // neither positive nor negative: no loss at all

struct ArgmaxMatcherOptions {
  // The config's ignore_thresholds: true matches every column to its best row (no thresholds).
  bool ignore_thresholds = false;
  float matched_threshold = 0.5f;    // positive if the best similarity >= this
  float unmatched_threshold = 0.5f;  // must be <= matched_threshold
  // true: best < unmatched is negative and unmatched <= best < matched is ignored;
  // false: the other way round (then the thresholds must differ).
  bool negatives_lower_than_unmatched = true;
  // Each valid row claims the column it is most similar to, whatever the thresholds.
  bool force_match_for_each_row = true;
};

// Checks the constructor's rules; throws naming the offending values.
void validate(const ArgmaxMatcherOptions& o);

// similarity: [num_rows, num_cols] f32 (rows = ground truth, columns = anchors); valid_rows:
// [num_rows] or null for all valid; matches: [num_cols] out.
// As TensorFlow computes it:
// - Column c's best row is tf.argmax over the rows: the first row on ties (also when the best
//   similarity is 0). Invalid rows take part here; they only lose the right to force a match.
// - Thresholds turn the best value into kUnmatched / kIgnored as documented above.
// - force_match_for_each_row: row r's column is tf.argmax over the columns (the first column on
//   ties, so a row with no overlap anywhere forces column 0); that column takes row r whatever
//   the thresholds said. When several rows force the same column, the lowest row wins (TF takes
//   the argmax of a one-hot column); the other rows then have no forced column.
// - No rows: every column is kUnmatched.
// Similarities must not be NaN (IoUs of finite boxes never are).
void argmax_match(const float* similarity, int64_t num_rows, int64_t num_cols, const ArgmaxMatcherOptions& o,
                  const uint8_t* valid_rows, int32_t* matches);

}  // namespace trainer::models
