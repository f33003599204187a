#include "trainer/eval/line_plot.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "trainer/core/error.h"

namespace trainer::eval {
namespace {

// matplotlib's default colour cycle ("tab10"), as BGR: ten colours that stay apart on white.
const cv::Scalar kColours[] = {{180, 119, 31}, {14, 127, 255}, {44, 160, 44},  {40, 39, 214},   {189, 103, 148},
                               {75, 86, 140},  {194, 119, 227}, {127, 127, 127}, {34, 189, 188}, {207, 190, 23}};
const cv::Scalar kBlack(0, 0, 0), kGrid(230, 230, 230), kLegendEdge(204, 204, 204), kWhite(255, 255, 255);
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
constexpr double kTickScale = 0.45, kLabelScale = 0.55, kTitleScale = 0.65;
constexpr int kLineShift = 4;  // polylines' fractional bits: sub-pixel positions for smooth lines

struct Text {
  cv::Size size;
  int baseline = 0;
};
Text measure(const std::string& s, double scale, int thickness = 1) {
  Text t;
  t.size = cv::getTextSize(s, kFont, scale, thickness, &t.baseline);
  return t;
}

// Writes `s` with its box's top-left corner at `top_left`.
void put(cv::Mat& canvas, const std::string& s, cv::Point top_left, double scale, int thickness = 1) {
  const Text t = measure(s, scale, thickness);
  cv::putText(canvas, s, {top_left.x, top_left.y + t.size.height}, kFont, scale, kBlack, thickness, cv::LINE_AA);
}

// One axis: its range in plot coordinates (log10 of the value on a log axis) and its ticks.
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  std::vector<double> ticks;  // plot coordinates
  std::vector<std::string> labels;
};

// 1, 2 or 5 times a power of ten, the smallest such step >= `step`.
double nice_step(double step) {
  const double decade = std::pow(10.0, std::floor(std::log10(step)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * decade >= step * (1 - 1e-9)) return m * decade;
  return 10 * decade;
}

std::string format_linear(double v, double step) {
  char buf[32];
  if (std::abs(v) < step * 1e-6) v = 0;  // -0.0 and 1e-17 read as 0
  const double largest = std::max(std::abs(v), step);
  if (largest >= 1e6 || step < 1e-4) std::snprintf(buf, sizeof buf, "%.3g", v);
  else std::snprintf(buf, sizeof buf, "%.*f", std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9))), v);
  return buf;
}

// Linear ticks at a 1-2-5 step, the finest whose labels keep `gap` pixels apart along an axis
// `pixels` long (`horizontal`: labels side by side, else stacked).
void linear_ticks(Axis& axis, double value_lo, double value_hi, int pixels, bool horizontal,
                  double (*to_plot)(double)) {
  const int gap = horizontal ? 16 : 10;
  for (double step = nice_step((value_hi - value_lo) / 12);; step = nice_step(step * 1.5)) {
    axis.ticks.clear();
    axis.labels.clear();
    int needed = 0;
    const double first = std::ceil(value_lo / step - 1e-9) * step;
    for (int i = 0;; ++i) {
      const double v = first + i * step;
      if (v > value_hi + step * 1e-9) break;
      axis.ticks.push_back(to_plot(v));
      axis.labels.push_back(format_linear(v, step));
      const Text t = measure(axis.labels.back(), kTickScale);
      needed += (horizontal ? t.size.width : t.size.height + t.baseline) + gap;
    }
    if (needed <= pixels || axis.ticks.size() <= 2) return;
  }
}

double identity(double v) { return v; }
double log10_of(double v) { return std::log10(v); }

// Log-axis ticks: at every decade when the range spans a few, else at 1, 2 and 5 times them (or
// every digit); a range narrower than that gets linear ticks placed on the log scale.
void log_ticks(Axis& axis, int pixels) {
  const std::vector<std::vector<double>> mantissas = {{1}, {1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
  for (const std::vector<double>& ms : mantissas) {
    axis.ticks.clear();
    axis.labels.clear();
    for (double d = std::floor(axis.lo); d <= std::ceil(axis.hi); ++d)
      for (double m : ms) {
        const double v = m * std::pow(10.0, d);
        const double at = std::log10(v);
        if (at < axis.lo - 1e-9 || at > axis.hi + 1e-9) continue;
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", v);
        axis.ticks.push_back(at);
        axis.labels.push_back(buf);
      }
    const int per_label = measure("0", kTickScale).size.height * 2 + 4;
    if (axis.ticks.size() >= 3 && static_cast<int>(axis.ticks.size()) * per_label <= pixels) return;
    if (axis.ticks.size() >= 3) break;  // finer mantissas would only crowd more
  }
  if (axis.ticks.size() >= 3) {
    // The crowded set: keep every decade only.
    std::vector<double> ticks;
    std::vector<std::string> labels;
    for (size_t i = 0; i < axis.ticks.size(); ++i)
      if (std::abs(axis.ticks[i] - std::round(axis.ticks[i])) < 1e-9) {
        ticks.push_back(axis.ticks[i]);
        labels.push_back(axis.labels[i]);
      }
    if (ticks.size() >= 2) {
      axis.ticks = ticks;
      axis.labels = labels;
      return;
    }
  }
  linear_ticks(axis, std::pow(10.0, axis.lo), std::pow(10.0, axis.hi), pixels, false, log10_of);
}

// The axis range: the explicit limits where given, else the data's range plus 5 % on each side
// (matplotlib's margins); a flat or empty range is widened so it can be drawn.
void set_range(Axis& axis, double data_lo, double data_hi, std::optional<double> lo, std::optional<double> hi) {
  const auto plot = [&](double v) { return axis.log ? std::log10(v) : v; };
  if (data_lo > data_hi) {  // no data
    data_lo = axis.log ? 0.1 : 0;
    data_hi = axis.log ? 10 : 1;
  }
  const double dl = plot(data_lo), dh = plot(data_hi);
  const double margin = dh > dl ? 0.05 * (dh - dl) : 0;
  axis.lo = lo ? plot(*lo) : dl - margin;
  axis.hi = hi ? plot(*hi) : dh + margin;
  if (!(axis.hi > axis.lo)) {
    const double half = axis.log ? 0.5 : std::max(std::abs(axis.lo) * 0.1, 0.5);
    if (!lo) axis.lo -= half;
    if (!hi || !(axis.hi > axis.lo)) axis.hi = axis.lo + 2 * half;
  }
}

// The legend's entries' box at one of the plot area's corners, where it covers the fewest
// points of the lines (matplotlib's loc="best", in its order of preference).
cv::Rect legend_place(cv::Size box, cv::Size area, const std::vector<std::vector<cv::Point2d>>& lines) {
  const int pad = 10;
  const cv::Rect candidates[] = {{area.width - box.width - pad, pad, box.width, box.height},
                                 {pad, pad, box.width, box.height},
                                 {pad, area.height - box.height - pad, box.width, box.height},
                                 {area.width - box.width - pad, area.height - box.height - pad, box.width, box.height}};
  cv::Rect best = candidates[0];
  long fewest = -1;
  for (const cv::Rect& r : candidates) {
    // Lines just outside the box count too: a legend that touches a line reads as part of it.
    const cv::Rect near(r.x - 8, r.y - 8, r.width + 16, r.height + 16);
    long covered = 0;
    for (const auto& line : lines)
      for (size_t i = 0; i + 1 < line.size(); ++i) {
        // Samples along each segment, every few pixels: a long segment crossing the box counts.
        const cv::Point2d d = line[i + 1] - line[i];
        const int n = 1 + static_cast<int>(std::hypot(d.x, d.y) / 4);
        for (int j = 0; j < n; ++j) {
          const cv::Point2d p = line[i] + d * (static_cast<double>(j) / n);
          if (near.contains(cv::Point(static_cast<int>(p.x), static_cast<int>(p.y)))) ++covered;
        }
      }
    if (fewest < 0 || covered < fewest) {
      fewest = covered;
      best = r;
    }
  }
  return best;
}

}  // namespace

void write_line_plot(const LinePlot& plot, const std::string& path) {
  TRAINER_CHECK(plot.width >= 320 && plot.height >= 240, "line plot ", path, ": ", plot.width, "x", plot.height,
                " is too small to draw (at least 320x240)");
  for (const PlotSeries& s : plot.series)
    TRAINER_CHECK(s.x.size() == s.y.size(), "line plot ", path, ": series '", s.label, "' has ", s.x.size(),
                  " x values but ", s.y.size(), " y values");
  Axis x_axis, y_axis;
  y_axis.log = plot.log_y;
  auto usable = [&](double x, double y) { return std::isfinite(x) && std::isfinite(y) && (!plot.log_y || y > 0); };
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const PlotSeries& s : plot.series)
    for (size_t i = 0; i < s.x.size(); ++i)
      if (usable(s.x[i], s.y[i])) {
        x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
        y_lo = std::min(y_lo, s.y[i]), y_hi = std::max(y_hi, s.y[i]);
      }
  set_range(x_axis, x_lo, x_hi, plot.x_min, plot.x_max);
  set_range(y_axis, y_lo, y_hi, plot.y_min, plot.y_max);

  // Vertical layout first (it does not depend on the ticks), then the y ticks, whose labels'
  // width sets the left margin, then the x ticks on the width left.
  const Text tick_text = measure("0", kTickScale);
  const Text label_text = measure("Xg", kLabelScale);
  const Text title_text = measure(plot.title.empty() ? "Xg" : plot.title, kTitleScale, 2);
  const int tick_len = 5, gap = 6;
  const int top = plot.title.empty() ? 20 : title_text.size.height + title_text.baseline + 24;
  const int bottom = tick_len + gap + tick_text.size.height + tick_text.baseline +
                     (plot.x_label.empty() ? 14 : gap * 2 + label_text.size.height + label_text.baseline + 8);
  const int area_height = plot.height - top - bottom;
  if (y_axis.log) log_ticks(y_axis, area_height);
  else linear_ticks(y_axis, y_axis.lo, y_axis.hi, area_height, false, identity);
  int widest = 0;
  for (const std::string& l : y_axis.labels) widest = std::max(widest, measure(l, kTickScale).size.width);
  const int left = tick_len + gap + widest +
                   (plot.y_label.empty() ? 14 : gap * 2 + label_text.size.height + label_text.baseline + 8);
  const int right = 30;  // room for half of the last x label
  const cv::Rect area(left, top, plot.width - left - right, area_height);
  TRAINER_CHECK(area.width > 50 && area.height > 50, "line plot ", path, ": ", plot.width, "x", plot.height,
                " leaves no room for the plot beside its labels");
  linear_ticks(x_axis, x_axis.lo, x_axis.hi, area.width, true, identity);

  const auto px = [&](double x) { return (x - x_axis.lo) / (x_axis.hi - x_axis.lo) * (area.width - 1); };
  const auto py = [&](double y) {
    return (1 - ((y_axis.log ? std::log10(y) : y) - y_axis.lo) / (y_axis.hi - y_axis.lo)) * (area.height - 1);
  };
  cv::Mat canvas(plot.height, plot.width, CV_8UC3, kWhite);
  cv::Mat inside = canvas(area);

  // Grid, then the lines (clipped to the plot area by drawing into its view), then the frame.
  for (double t : x_axis.ticks) {
    const int x = static_cast<int>(std::lround((t - x_axis.lo) / (x_axis.hi - x_axis.lo) * (area.width - 1)));
    cv::line(inside, {x, 0}, {x, area.height - 1}, kGrid, 1);
  }
  for (double t : y_axis.ticks) {
    const int y = static_cast<int>(std::lround((1 - (t - y_axis.lo) / (y_axis.hi - y_axis.lo)) * (area.height - 1)));
    cv::line(inside, {0, y}, {area.width - 1, y}, kGrid, 1);
  }
  std::vector<std::vector<cv::Point2d>> all_lines;
  for (size_t s = 0; s < plot.series.size(); ++s) {
    const PlotSeries& series = plot.series[s];
    std::vector<std::vector<cv::Point>> pieces(1);
    for (size_t i = 0; i < series.x.size(); ++i) {
      if (!usable(series.x[i], series.y[i])) {
        if (!pieces.back().empty()) pieces.emplace_back();
        continue;
      }
      const cv::Point2d p(px(series.x[i]), py(series.y[i]));
      if (all_lines.size() <= s) all_lines.resize(s + 1);
      all_lines[s].push_back(p);
      // Far outside the area (an explicit range that cuts the data): clamp, OpenCV clips the rest.
      const double limit = 4.0 * (plot.width + plot.height);
      pieces.back().emplace_back(static_cast<int>(std::lround(std::clamp(p.x, -limit, limit) * (1 << kLineShift))),
                                 static_cast<int>(std::lround(std::clamp(p.y, -limit, limit) * (1 << kLineShift))));
    }
    const cv::Scalar colour = kColours[s % std::size(kColours)];
    for (const std::vector<cv::Point>& piece : pieces) {
      if (piece.size() == 1) cv::circle(inside, piece[0], 2 << kLineShift, colour, cv::FILLED, cv::LINE_AA, kLineShift);
      else if (piece.size() > 1) cv::polylines(inside, piece, false, colour, 2, cv::LINE_AA, kLineShift);
    }
  }
  cv::rectangle(canvas, {area.x - 1, area.y - 1}, {area.x + area.width, area.y + area.height}, kBlack, 1);

  // Ticks and their labels.
  for (size_t i = 0; i < x_axis.ticks.size(); ++i) {
    const int x = area.x + static_cast<int>(std::lround((x_axis.ticks[i] - x_axis.lo) /
                                                        (x_axis.hi - x_axis.lo) * (area.width - 1)));
    const int y = area.y + area.height;
    cv::line(canvas, {x, y}, {x, y + tick_len}, kBlack, 1);
    const Text t = measure(x_axis.labels[i], kTickScale);
    put(canvas, x_axis.labels[i], {x - t.size.width / 2, y + tick_len + gap}, kTickScale);
  }
  for (size_t i = 0; i < y_axis.ticks.size(); ++i) {
    const int y = area.y + static_cast<int>(std::lround((1 - (y_axis.ticks[i] - y_axis.lo) /
                                                                 (y_axis.hi - y_axis.lo)) * (area.height - 1)));
    cv::line(canvas, {area.x - 1 - tick_len, y}, {area.x - 1, y}, kBlack, 1);
    const Text t = measure(y_axis.labels[i], kTickScale);
    put(canvas, y_axis.labels[i], {area.x - 1 - tick_len - gap - t.size.width, y - t.size.height / 2}, kTickScale);
  }

  // Titles: the plot's centred above the area, the x axis's below its labels, the y axis's
  // turned a quarter left of its labels.
  if (!plot.title.empty()) {
    const Text t = measure(plot.title, kTitleScale, 2);
    put(canvas, plot.title, {area.x + (area.width - t.size.width) / 2, (top - t.size.height - t.baseline) / 2},
        kTitleScale, 2);
  }
  if (!plot.x_label.empty()) {
    const Text t = measure(plot.x_label, kLabelScale);
    put(canvas, plot.x_label,
        {area.x + (area.width - t.size.width) / 2,
         area.y + area.height + tick_len + gap * 3 + tick_text.size.height + tick_text.baseline},
        kLabelScale);
  }
  if (!plot.y_label.empty()) {
    const Text t = measure(plot.y_label, kLabelScale);
    cv::Mat strip(t.size.height + t.baseline + 2, t.size.width + 2, CV_8UC3, kWhite);
    put(strip, plot.y_label, {1, 1}, kLabelScale);
    cv::Mat turned;
    cv::rotate(strip, turned, cv::ROTATE_90_COUNTERCLOCKWISE);
    const int x = std::max(0, area.x - 1 - tick_len - gap * 3 - widest - turned.cols);
    const int y = std::clamp(area.y + (area.height - turned.rows) / 2, 0, plot.height - turned.rows);
    if (turned.rows <= plot.height) turned.copyTo(canvas(cv::Rect(x, y, turned.cols, turned.rows)));
  }

  // The legend: a framed white box with a short line and the label of each series that has one.
  std::vector<size_t> listed;
  for (size_t s = 0; s < plot.series.size(); ++s)
    if (!plot.series[s].label.empty()) listed.push_back(s);
  if (!listed.empty()) {
    const int sample = 28, pad = 8, row = tick_text.size.height + tick_text.baseline + 8;
    int text_width = 0;
    for (size_t s : listed) text_width = std::max(text_width, measure(plot.series[s].label, kTickScale).size.width);
    const cv::Size box(pad + sample + pad + text_width + pad, pad + row * static_cast<int>(listed.size()) + pad - 8);
    const cv::Rect at = legend_place(box, area.size(), all_lines);
    // A white box at 80 % opacity (matplotlib's framealpha): lines behind it stay visible.
    cv::Mat behind = inside(at);
    cv::addWeighted(behind, 0.2, cv::Mat(behind.size(), behind.type(), kWhite), 0.8, 0, behind);
    cv::rectangle(inside, at, kLegendEdge, 1);
    for (size_t i = 0; i < listed.size(); ++i) {
      const int y = at.y + pad + static_cast<int>(i) * row;
      const int mid = y + tick_text.size.height / 2 + 1;
      cv::line(inside, {at.x + pad, mid}, {at.x + pad + sample, mid}, kColours[listed[i] % std::size(kColours)], 2,
               cv::LINE_AA);
      put(inside, plot.series[listed[i]].label, {at.x + pad + sample + pad, y}, kTickScale);
    }
  }

  bool written = false;
  try {
    written = cv::imwrite(path, canvas);
  } catch (const cv::Exception& e) {
    fail("cannot write the plot ", path, ": ", e.what());
  }
  TRAINER_CHECK(written, "cannot write the plot ", path, " (check the folder, and that the name ends in .png)");
}

}  // namespace trainer::eval
