// The argmax matcher (models/detectors/argmax_matcher.h) on hand-made similarity matrices,
// each expected result read off matchers/argmax_matcher.py's rules.
#include <gtest/gtest.h>

#include <vector>

#include "trainer/core/error.h"
#include "trainer/models/detectors/argmax_matcher.h"

namespace trainer::models {
namespace {

std::vector<int32_t> match(const std::vector<float>& sim, int64_t rows, int64_t cols, const ArgmaxMatcherOptions& o,
                           const std::vector<uint8_t>& valid = {}) {
  std::vector<int32_t> m(static_cast<size_t>(cols), 99);
  argmax_match(sim.data(), rows, cols, o, valid.empty() ? nullptr : valid.data(), m.data());
  return m;
}

constexpr int32_t U = kUnmatched, I = kIgnored;

ArgmaxMatcherOptions thresholds(float matched, float unmatched, bool negatives_lower, bool force) {
  ArgmaxMatcherOptions o;
  o.matched_threshold = matched;
  o.unmatched_threshold = unmatched;
  o.negatives_lower_than_unmatched = negatives_lower;
  o.force_match_for_each_row = force;
  return o;
}

TEST(ArgmaxMatcher, ThresholdsNegativesBelowUnmatched) {
  // Column maxima 0.6 (row 1), 0.5 (row 0), 0.4, 0.3, 0.29; matched 0.5, unmatched 0.3:
  // >= 0.5 positive, [0.3, 0.5) ignored, < 0.3 negative.
  const std::vector<float> sim = {0.1f, 0.5f, 0.4f, 0.3f, 0.29f,  //
                                  0.6f, 0.2f, 0.1f, 0.0f, 0.0f};
  EXPECT_EQ(match(sim, 2, 5, thresholds(0.5f, 0.3f, true, false)), (std::vector<int32_t>{1, 0, I, I, U}));
}

TEST(ArgmaxMatcher, ThresholdsNegativesBetween) {
  // negatives_lower_than_unmatched false: [0.3, 0.5) negative, < 0.3 ignored.
  const std::vector<float> sim = {0.1f, 0.5f, 0.4f, 0.3f, 0.29f,  //
                                  0.6f, 0.2f, 0.1f, 0.0f, 0.0f};
  EXPECT_EQ(match(sim, 2, 5, thresholds(0.5f, 0.3f, false, false)), (std::vector<int32_t>{1, 0, U, U, I}));
}

TEST(ArgmaxMatcher, Ssd320EqualThresholdsHaveNoIgnoreZone) {
  const std::vector<float> sim = {0.5f, 0.49999997f, 0.7f};
  EXPECT_EQ(match(sim, 1, 3, thresholds(0.5f, 0.5f, true, false)), (std::vector<int32_t>{0, U, 0}));
}

TEST(ArgmaxMatcher, ForceMatchClaimsEachRowsBestColumn) {
  // Row 1's best similarity, 0.2 at column 3, is below every threshold; forcing makes it
  // positive anyway. Row 0 keeps its threshold match at column 0.
  const std::vector<float> sim = {0.8f, 0.1f, 0.0f, 0.1f,  //
                                  0.0f, 0.1f, 0.0f, 0.2f};
  EXPECT_EQ(match(sim, 2, 4, thresholds(0.5f, 0.5f, true, false)), (std::vector<int32_t>{0, U, U, U}));
  EXPECT_EQ(match(sim, 2, 4, thresholds(0.5f, 0.5f, true, true)), (std::vector<int32_t>{0, U, U, 1}));
  // A forced column wins over the thresholds' own match of another row.
  const std::vector<float> steal = {0.9f, 0.6f,  //
                                    0.0f, 0.3f};
  EXPECT_EQ(match(steal, 2, 2, thresholds(0.5f, 0.5f, true, true)), (std::vector<int32_t>{0, 1}));
}

TEST(ArgmaxMatcher, TwoRowsForcingOneColumnGoToTheLowerRow) {
  // Rows 1 and 2 both have their best at column 2; row 1 (the lower index) gets it and row 2
  // ends up without any match (its 0.3 elsewhere is below the threshold).
  const std::vector<float> sim = {0.9f, 0.0f, 0.0f, 0.0f,   //
                                  0.0f, 0.1f, 0.4f, 0.0f,   //
                                  0.0f, 0.0f, 0.45f, 0.3f};
  EXPECT_EQ(match(sim, 3, 4, thresholds(0.5f, 0.5f, true, true)), (std::vector<int32_t>{0, U, 1, U}));
}

TEST(ArgmaxMatcher, TiesGoToTheFirstIndex) {
  // Column 1: rows 0 and 1 tie at 0.7 -> row 0 (tf.argmax's first index). Column 2: row 1.
  const std::vector<float> sim = {0.2f, 0.7f, 0.1f,  //
                                  0.1f, 0.7f, 0.7f};
  EXPECT_EQ(match(sim, 2, 3, thresholds(0.5f, 0.5f, true, false)), (std::vector<int32_t>{U, 0, 1}));
  // Forcing: row 1's maximum 0.7 sits at columns 1 and 2; its first, column 1, is also row 0's
  // forced column, so row 0 keeps it; column 2 stays row 1's by threshold.
  EXPECT_EQ(match(sim, 2, 3, thresholds(0.5f, 0.5f, true, true)), (std::vector<int32_t>{U, 0, 1}));
}

TEST(ArgmaxMatcher, RowWithoutOverlapForcesColumnZero) {
  // tf.argmax of an all-zero row is 0: such a ground-truth box takes anchor 0.
  const std::vector<float> sim = {0.0f, 0.0f, 0.0f,  //
                                  0.0f, 0.9f, 0.0f};
  EXPECT_EQ(match(sim, 2, 3, thresholds(0.5f, 0.5f, true, true)), (std::vector<int32_t>{0, 1, U}));
}

TEST(ArgmaxMatcher, InvalidRowsDoNotForce) {
  const std::vector<float> sim = {0.0f, 0.3f, 0.0f,  //
                                  0.2f, 0.0f, 0.0f};
  EXPECT_EQ(match(sim, 2, 3, thresholds(0.5f, 0.5f, true, true), {1, 0}), (std::vector<int32_t>{U, 0, U}));
  EXPECT_EQ(match(sim, 2, 3, thresholds(0.5f, 0.5f, true, true), {0, 1}), (std::vector<int32_t>{1, U, U}));
}

TEST(ArgmaxMatcher, NoRowsMeansAllUnmatched) {
  EXPECT_EQ(match({}, 0, 4, thresholds(0.5f, 0.5f, true, true)), (std::vector<int32_t>{U, U, U, U}));
}

TEST(ArgmaxMatcher, IgnoreThresholdsMatchesEveryColumn) {
  ArgmaxMatcherOptions o;
  o.ignore_thresholds = true;
  o.force_match_for_each_row = false;
  const std::vector<float> sim = {0.0f, 0.3f, 0.01f,  //
                                  0.0f, 0.2f, 0.02f};
  EXPECT_EQ(match(sim, 2, 3, o), (std::vector<int32_t>{0, 0, 1}));
}

TEST(ArgmaxMatcher, RejectsInconsistentThresholds) {
  EXPECT_THROW(validate(thresholds(0.4f, 0.5f, true, true)), Error);
  EXPECT_THROW(validate(thresholds(0.5f, 0.5f, false, true)), Error);
  EXPECT_NO_THROW(validate(thresholds(0.5f, 0.5f, true, true)));
}

}  // namespace
}  // namespace trainer::models
