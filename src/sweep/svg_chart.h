// The report's markup primitives: HTML escaping and inline SVG charts
// (numeric, logarithmic and categorical axes; line charts). No external
// fetch, nothing but strings: `sweep report` and its tests draw with these.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace claimsweep {

// Escapes & < > " ' for element text and attribute values alike, and turns
// C0 control characters other than tab, newline and CR into U+FFFD.
std::string HtmlEscape(std::string_view s);

// Cuts `s` to at most `n` bytes on a UTF-8 character boundary, with an ellipsis.
std::string Shorten(const std::string& s, size_t n);
// The i-th colour of a ten-colour palette (repeating).
std::string Color(size_t i);

using ChartPoint = std::pair<double, double>;

struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  std::vector<std::pair<double, std::string>> ticks;  // position in data units, label
  std::string label;
  // Maps a data value to [0, 1] along the axis.
  double Frac(double v) const {
    if (log) return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    return (v - lo) / (hi - lo);
  }
};

// A linear or (for positive values spanning two decades or more, when
// allowed) logarithmic axis over finite `values`, with about five ticks.
Axis NumericAxis(const std::vector<double>& values, bool allow_log, bool pad,
                 const std::string& label);
// Categories at 0, 1, 2, ...
Axis CategoricalAxis(const std::vector<std::string>& cats, const std::string& label);

struct Series {
  std::string name;   // legend entry
  std::string title;  // tooltip
  std::vector<ChartPoint> points;
};

struct Chart {
  int width = 340, height = 210;
  std::string aria;  // what the chart shows, for screen readers and tests
  Axis x, y;
  std::vector<std::string> legend;  // names, in series order; empty: none
  static constexpr int kLeft = 58, kTop = 12, kBottom = 42, kLegendWidth = 130;
  int Right() const { return legend.empty() ? 12 : kLegendWidth; }
  double Px(double v) const { return kLeft + x.Frac(v) * (width - kLeft - Right()); }
  double Py(double v) const { return height - kBottom - y.Frac(v) * (height - kTop - kBottom); }
  bool Visible(const ChartPoint& p) const {
    return std::isfinite(p.first) && std::isfinite(p.second) && (!x.log || p.first > 0) &&
           (!y.log || p.second > 0);
  }
};

// The chart's frame: <svg>, grid, ticks, axis labels, legend (left open).
std::string SvgOpen(const Chart& c);
// Lines (a lone point is a dot); points with a NaN or infinite coordinate are
// skipped, so a gap in a curve joins its neighbours. Fits both axes to the data
// (and x to the marks). `marks`: vertical dashed lines at x positions, each
// with its label above it and as its tooltip (early stopping's rungs).
std::string LineChart(Chart c, const std::vector<Series>& series, bool with_legend,
                      const std::vector<std::pair<double, std::string>>& marks = {});

}  // namespace claimsweep
