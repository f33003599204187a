// model_dir/loss.png: the training loss (the total and each named term) against the step over
// the whole run, drawn from model_dir/loss_history.csv (train/loss_history.h). Written after
// every checkpoint and by eval mode.
#pragma once

#include <optional>
#include <string>

namespace trainer::cli {

inline constexpr const char* kLossCurveFile = "loss.png";

// Draws the curve when model_dir holds a loss history with rows; returns the picture's path,
// or nothing when there is no history yet. A history or picture that cannot be read or written
// is a warning: the run goes on without its picture.
std::optional<std::string> write_loss_curve(const std::string& model_dir);

}  // namespace trainer::cli
