#include "trainer/models/detectors/argmax_matcher.h"

#include <algorithm>
#include <vector>

namespace trainer::models {

void argmax_match(const float* sim, int64_t rows, int64_t cols, const ArgmaxMatcherOptions& o,
                  const uint8_t* valid_rows, int32_t* matches) {
  validate(o);
  if (rows == 0) {
    std::fill(matches, matches + cols, kUnmatched);
    return;
  }
  // Best row per column, rows outer so the inner loop runs along contiguous memory. A later
  // row must be strictly better to win: tf.argmax returns the first maximum.
  std::vector<float> best(sim, sim + cols);
  std::fill(matches, matches + cols, 0);
  for (int64_t r = 1; r < rows; ++r) {
    const float* row = sim + r * cols;
    for (int64_t c = 0; c < cols; ++c)
      if (row[c] > best[c]) {
        best[c] = row[c];
        matches[c] = static_cast<int32_t>(r);
      }
  }
  if (!o.ignore_thresholds) {
    const int32_t below = o.negatives_lower_than_unmatched ? kUnmatched : kIgnored;
    const int32_t between = o.negatives_lower_than_unmatched ? kIgnored : kUnmatched;
    for (int64_t c = 0; c < cols; ++c) {
      if (o.unmatched_threshold > best[c])
        matches[c] = below;
      else if (o.matched_threshold > best[c])
        matches[c] = between;
    }
  }
  if (o.force_match_for_each_row) {
    // Rows from last to first, so that where several rows force one column the lowest row is
    // written last and wins, as TF's argmax over the one-hot column picks it.
    for (int64_t r = rows - 1; r >= 0; --r) {
      if (valid_rows && !valid_rows[r]) continue;
      const float* row = sim + r * cols;
      int64_t best_col = 0;
      for (int64_t c = 1; c < cols; ++c)
        if (row[c] > row[best_col]) best_col = c;
      if (cols > 0) matches[best_col] = static_cast<int32_t>(r);
    }
  }
}

}  // namespace trainer::models
