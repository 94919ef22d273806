#include "sweep/report_html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "core/layout.h"
#include "sweep/stats.h"

namespace claimsweep {

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\t': case '\n': case '\r': out += c; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += "\xEF\xBF\xBD";  // U+FFFD: NUL and friends are parse errors in HTML
        } else {
          out += c;
        }
    }
  }
  return out;
}

namespace {

using Point = std::pair<double, double>;

std::string Fmt(const char* format, double v) {
  char b[64];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

// Table cells: integers as integers, the rest with 4 significant digits.
std::string Num(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "" : (v > 0 ? "inf" : "-inf");
  if (v == std::floor(v) && std::fabs(v) < 1e15) return Fmt("%.0f", v);
  return Fmt("%.4g", v);
}

// Sort keys in data-v: full precision, empty for "no number" (sorted last).
std::string SortKey(double v) { return std::isfinite(v) ? Fmt("%.17g", v) : ""; }

bool ParseNumber(const std::string& s, double* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  return *end == '\0' && std::isfinite(*v);
}

// Cuts `s` to at most `n` bytes on a UTF-8 character boundary, with an ellipsis.
std::string Shorten(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  size_t cut = n;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "\xE2\x80\xA6";
}

const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
std::string Color(size_t i) { return kPalette[i % 10]; }

// ---- axes --------------------------------------------------------------------

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

std::string TickLabel(double v, double step) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1e6 || a < 1e-4) return Fmt("%.2g", v);
  int decimals = step >= 1 ? 0 : std::min(6, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

// A linear or (for positive values spanning two decades or more, when
// allowed) logarithmic axis over finite `values`, with about five ticks.
Axis NumericAxis(const std::vector<double>& values, bool allow_log, bool pad, const std::string& label) {
  Axis a;
  a.label = label;
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (allow_log && lo > 0 && hi / lo >= 100) {
    a.log = true;
    a.lo = std::pow(10, std::floor(std::log10(lo)));
    a.hi = std::pow(10, std::ceil(std::log10(hi)));
    for (double e = std::log10(a.lo); e <= std::log10(a.hi) + 1e-9; e += 1) {
      a.ticks.push_back({std::pow(10, e), Fmt("1e%.0f", e)});
    }
    return a;
  }
  if (hi == lo) {
    const double d = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= d;
    hi += d;
  } else if (pad) {
    const double d = (hi - lo) * 0.05;
    lo -= d;
    hi += d;
  }
  const double raw = (hi - lo) / 5;
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  a.lo = lo;
  a.hi = hi;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    const double v = std::fabs(t) < step * 1e-9 ? 0 : t;
    a.ticks.push_back({v, TickLabel(v, step)});
  }
  return a;
}

// Categories at 0, 1, 2, ...
Axis CategoricalAxis(const std::vector<std::string>& cats, const std::string& label) {
  Axis a;
  a.label = label;
  a.lo = -0.5;
  a.hi = static_cast<double>(cats.size()) - 0.5;
  if (cats.empty()) a.hi = 0.5;
  for (size_t i = 0; i < cats.size(); ++i) a.ticks.push_back({static_cast<double>(i), Shorten(cats[i], 12)});
  return a;
}

// ---- charts ------------------------------------------------------------------

struct Series {
  std::string name;   // legend entry
  std::string title;  // tooltip
  std::vector<Point> points;
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
  bool Visible(const Point& p) const {
    return std::isfinite(p.first) && std::isfinite(p.second) && (!x.log || p.first > 0) && (!y.log || p.second > 0);
  }
};

std::string SvgOpen(const Chart& c) {
  std::string s = "<svg class=\"chart\" width=\"" + std::to_string(c.width) + "\" height=\"" + std::to_string(c.height) +
                  "\" viewBox=\"0 0 " + std::to_string(c.width) + " " + std::to_string(c.height) +
                  "\" role=\"img\" aria-label=\"" + HtmlEscape(c.aria) + "\">";
  const double x0 = Chart::kLeft, x1 = c.width - c.Right(), y0 = c.height - Chart::kBottom, y1 = Chart::kTop;
  s += "<g class=\"axes\">";
  for (const auto& [v, label] : c.y.ticks) {
    const double py = c.Py(v);
    s += "<line class=\"grid\" x1=\"" + Fmt("%.1f", x0) + "\" x2=\"" + Fmt("%.1f", x1) + "\" y1=\"" + Fmt("%.1f", py) +
         "\" y2=\"" + Fmt("%.1f", py) + "\"/>";
    s += "<text class=\"tick\" x=\"" + Fmt("%.1f", x0 - 4) + "\" y=\"" + Fmt("%.1f", py + 3.5) +
         "\" text-anchor=\"end\">" + HtmlEscape(label) + "</text>";
  }
  for (const auto& [v, label] : c.x.ticks) {
    const double px = c.Px(v);
    s += "<line class=\"tickmark\" x1=\"" + Fmt("%.1f", px) + "\" x2=\"" + Fmt("%.1f", px) + "\" y1=\"" +
         Fmt("%.1f", y0) + "\" y2=\"" + Fmt("%.1f", y0 + 4) + "\"/>";
    s += "<text class=\"tick\" x=\"" + Fmt("%.1f", px) + "\" y=\"" + Fmt("%.1f", y0 + 15) +
         "\" text-anchor=\"middle\">" + HtmlEscape(label) + "</text>";
  }
  s += "<line class=\"axis\" x1=\"" + Fmt("%.1f", x0) + "\" x2=\"" + Fmt("%.1f", x1) + "\" y1=\"" + Fmt("%.1f", y0) +
       "\" y2=\"" + Fmt("%.1f", y0) + "\"/>";
  s += "<line class=\"axis\" x1=\"" + Fmt("%.1f", x0) + "\" x2=\"" + Fmt("%.1f", x0) + "\" y1=\"" + Fmt("%.1f", y0) +
       "\" y2=\"" + Fmt("%.1f", y1) + "\"/>";
  s += "<text class=\"label\" x=\"" + Fmt("%.1f", (x0 + x1) / 2) + "\" y=\"" + std::to_string(c.height - 6) +
       "\" text-anchor=\"middle\">" + HtmlEscape(c.x.label) + "</text>";
  s += "<text class=\"label\" transform=\"translate(12," + Fmt("%.1f", (y0 + y1) / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">" + HtmlEscape(c.y.label) + "</text>";
  for (size_t i = 0; i < c.legend.size(); ++i) {
    const double ly = Chart::kTop + 8 + 15 * static_cast<double>(i);
    if (ly > c.height - Chart::kBottom) break;
    s += "<line x1=\"" + Fmt("%.1f", x1 + 8) + "\" x2=\"" + Fmt("%.1f", x1 + 24) + "\" y1=\"" + Fmt("%.1f", ly) +
         "\" y2=\"" + Fmt("%.1f", ly) + "\" stroke=\"" + Color(i) + "\" stroke-width=\"2\"/>";
    s += "<text class=\"legend\" x=\"" + Fmt("%.1f", x1 + 28) + "\" y=\"" + Fmt("%.1f", ly + 3.5) + "\">" +
         HtmlEscape(Shorten(c.legend[i], 16)) + "<title>" + HtmlEscape(c.legend[i]) + "</title></text>";
  }
  return s + "</g>";
}

// Lines (a lone point is a dot); points with a NaN or infinite coordinate are
// skipped, so a gap in a curve joins its neighbours.
std::string LineChart(Chart c, const std::vector<Series>& series, bool with_legend) {
  std::vector<double> xs, ys;
  for (const auto& s : series) {
    for (const auto& p : s.points) {
      if (std::isfinite(p.first) && std::isfinite(p.second)) xs.push_back(p.first), ys.push_back(p.second);
    }
  }
  c.x = NumericAxis(xs, false, false, c.x.label);
  c.y = NumericAxis(ys, false, true, c.y.label);
  if (with_legend) {
    for (const auto& s : series) c.legend.push_back(s.name);
  }
  std::string out = SvgOpen(c);
  for (size_t i = 0; i < series.size(); ++i) {
    std::string pts;
    size_t n = 0;
    Point last;
    for (const auto& p : series[i].points) {
      if (!c.Visible(p)) continue;
      pts += Fmt("%.1f", c.Px(p.first)) + "," + Fmt("%.1f", c.Py(p.second)) + " ";
      last = p;
      ++n;
    }
    if (n == 0) continue;
    const std::string title = "<title>" + HtmlEscape(series[i].title) + "</title>";
    if (n == 1) {
      out += "<circle class=\"series\" cx=\"" + Fmt("%.1f", c.Px(last.first)) + "\" cy=\"" + Fmt("%.1f", c.Py(last.second)) +
             "\" r=\"3\" fill=\"" + Color(i) + "\">" + title + "</circle>";
    } else {
      pts.pop_back();
      out += "<polyline class=\"series\" fill=\"none\" stroke=\"" + Color(i) + "\" points=\"" + pts + "\">" + title +
             "</polyline>";
    }
  }
  return out + "</svg>";
}

// ---- the report's sections -----------------------------------------------------

std::string ParamText(const SweepResults& res, const TrialRecord& t) {
  std::string s;
  for (size_t p = 0; p < res.param_names.size() && p < t.params.size(); ++p) {
    s += (p ? " " : "") + res.param_names[p] + "=" + t.params[p];
  }
  return s;
}

// The metric columns of the table: a train task's ~20 metrics are cut to the
// ones people compare (like `sweep summary`); a command's are all shown.
std::vector<std::string> TableMetrics(const SweepResults& res) {
  if (!res.spec.has_train()) return res.metric_names;
  std::vector<std::string> out;
  for (const char* m : {"best_val_acc", "best_epoch", "final_val_acc", "final_val_loss", "test_acc", "test_loss",
                        "num_parameters", "train_seconds"}) {
    if (std::find(res.metric_names.begin(), res.metric_names.end(), m) != res.metric_names.end()) out.push_back(m);
  }
  return out;
}

// best_val_acc (train tasks), else val_acc, else the first metric that is
// not a curve's x column (a command's `epoch` says nothing about the point).
// It ranks done trials only (in the charts and the table's sort order).
std::string PrimaryMetric(const SweepResults& res) {
  const auto& m = res.metric_names;
  for (const char* name : {"best_val_acc", "val_acc"}) {
    if (std::find(m.begin(), m.end(), name) != m.end()) return name;
  }
  std::set<std::string> x_columns;
  for (const auto& t : res.trials) {
    if (!t.curve_columns.empty()) x_columns.insert(t.curve_columns[0]);
  }
  for (const auto& name : m) {
    if (!x_columns.count(name) && !IsXColumn(name)) return name;
  }
  return m.empty() ? "" : m.front();
}

std::string ResultsTable(const SweepResults& res) {
  const std::vector<std::string> metrics = TableMetrics(res);
  bool any_problem = false;
  for (const auto& t : res.trials) any_problem |= !t.problem.empty();
  std::string h = "<table id=\"results\" class=\"sortable\"><thead><tr>";
  auto th = [&](const std::string& name, bool numeric) {
    h += std::string("<th") + (numeric ? " data-type=\"num\"" : "") + ">" + HtmlEscape(name) + "</th>";
  };
  th("index", true);
  th("state", false);
  th("attempts", true);
  std::vector<bool> numeric_param(res.param_names.size(), true);
  for (const auto& t : res.trials) {
    for (size_t p = 0; p < t.params.size() && p < numeric_param.size(); ++p) {
      double v;
      if (!ParseNumber(t.params[p], &v)) numeric_param[p] = false;
    }
  }
  for (size_t p = 0; p < res.param_names.size(); ++p) th(res.param_names[p], numeric_param[p]);
  for (const auto& m : metrics) {
    const bool clash = std::find(res.param_names.begin(), res.param_names.end(), m) != res.param_names.end();
    th(clash ? m + "_metric" : m, true);
  }
  th("wall_seconds", true);
  th("last_attempt_seconds", true);
  if (any_problem) th("problem", false);
  h += "</tr></thead><tbody>\n";
  for (const auto& t : res.trials) {
    const std::string state = TrialStateName(t.state);
    h += "<tr class=\"trial state-" + state + "\"><td data-v=\"" + std::to_string(t.index) + "\">" + TrialName(t.index) +
         "</td><td>" + state + (t.problem.empty() || t.state == TrialState::kBroken ? "" : " (broken)") + "</td><td data-v=\"" +
         std::to_string(t.attempts) + "\">" + std::to_string(t.attempts) + "</td>";
    for (size_t p = 0; p < res.param_names.size(); ++p) {
      const std::string v = p < t.params.size() ? t.params[p] : "";
      h += "<td data-v=\"" + HtmlEscape(v) + "\">" + HtmlEscape(v) + "</td>";
    }
    // Only done trials are ranked: the others' metrics (a failed trial's
    // last metrics.csv row) are shown but sort after every done trial.
    const bool ranked = t.state == TrialState::kDone;
    for (const auto& m : metrics) {
      auto it = t.metrics.find(m);
      const double v = it == t.metrics.end() ? NAN : it->second;
      h += "<td data-v=\"" + (ranked ? SortKey(v) : "") + "\">" + Num(v) + "</td>";
    }
    for (double secs : {t.wall_seconds, t.last_attempt_seconds}) {
      const double v = secs >= 0 ? secs : NAN;
      h += "<td data-v=\"" + SortKey(v) + "\">" + Num(v) + "</td>";
    }
    if (any_problem) h += "<td class=\"problem\">" + HtmlEscape(t.problem) + "</td>";
    h += "</tr>\n";
  }
  return h + "</tbody></table>\n";
}

// The column of `t`'s curve named `name`, against its first column.
std::vector<Point> CurveColumn(const TrialRecord& t, const std::string& name) {
  std::vector<Point> pts;
  for (size_t c = 1; c < t.curve_columns.size(); ++c) {
    if (t.curve_columns[c] != name) continue;
    for (const auto& row : t.curve) {
      if (c < row.size()) pts.push_back({row[0], row[c]});
    }
  }
  return pts;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// One trial's charts: losses, accuracies, and (command tasks) the other columns.
std::string TrialCurves(const SweepResults& res, const TrialRecord& t) {
  std::vector<std::string> loss, acc, other;
  for (size_t c = 1; c < t.curve_columns.size(); ++c) {
    const std::string& n = t.curve_columns[c];
    bool any = false;
    for (const auto& row : t.curve) any |= c < row.size() && std::isfinite(row[c]);
    if (!any) continue;
    if (EndsWith(n, "loss")) {
      loss.push_back(n);
    } else if (EndsWith(n, "acc") || EndsWith(n, "accuracy")) {
      acc.push_back(n);
    } else if (!res.spec.has_train()) {
      other.push_back(n);  // a train task's lr, timings and throughput stay in metrics.csv
    }
  }
  std::string out;
  for (const auto* group : {&loss, &acc, &other}) {
    if (group->empty()) continue;
    std::vector<Series> series;
    for (const auto& n : *group) series.push_back({n, TrialName(t.index) + " " + n, CurveColumn(t, n)});
    Chart c;
    c.x.label = t.curve_columns[0];
    c.y.label = group == &loss ? "loss" : group == &acc ? "accuracy" : "value";
    c.aria = TrialName(t.index) + " " + c.y.label + " per " + c.x.label;
    out += LineChart(c, series, true);
  }
  return out.empty() ? "<p class=\"note\">No numeric columns in metrics.csv.</p>" : out;
}

std::string OverlayChart(const SweepResults& res, const ReportOptions& o) {
  std::string column;
  for (const auto& t : res.trials) {
    if (std::find(t.curve_columns.begin(), t.curve_columns.end(), "val_acc") != t.curve_columns.end()) {
      column = "val_acc";
      break;
    }
  }
  if (column.empty()) {
    for (const auto& t : res.trials) {
      if (t.curve_columns.size() >= 2 && !t.curve.empty()) {
        column = t.curve_columns.back();
        break;
      }
    }
  }
  if (column.empty()) return "<p class=\"note\">No trial has written a metrics.csv yet.</p>\n";
  std::vector<Series> series;
  std::string x_label;
  size_t left_out = 0;
  for (const auto& t : res.trials) {
    std::vector<Point> pts = CurveColumn(t, column);
    if (pts.empty()) continue;
    if (series.size() >= o.max_overlay_trials) {
      ++left_out;
      continue;
    }
    if (x_label.empty()) x_label = t.curve_columns[0];
    series.push_back({TrialName(t.index), TrialName(t.index) + " (" + TrialStateName(t.state) + ") " + ParamText(res, t),
                      std::move(pts)});
  }
  Chart c;
  c.width = 760;
  c.height = 380;
  c.x.label = x_label;
  c.y.label = column;
  c.aria = column + " of every trial";
  std::string out = "<p>" + HtmlEscape(column) + " per " + HtmlEscape(x_label) + ", one line per trial (" +
                    std::to_string(series.size()) + "); hover a line for its trial and parameters.</p>\n";
  out += LineChart(c, series, series.size() <= 12) + "\n";
  if (left_out > 0) out += "<p class=\"note\">" + std::to_string(left_out) + " more trials not drawn.</p>\n";
  return out;
}

// The primary metric of done trials against each swept parameter.
std::string ParamCharts(const SweepResults& res) {
  const std::string metric = PrimaryMetric(res);
  if (metric.empty()) return "<p class=\"note\">No metrics yet.</p>\n";
  std::string out = "<p>" + HtmlEscape(metric) + " of each done trial against each parameter.</p>\n<div class=\"charts\">";
  for (size_t p = 0; p < res.param_names.size(); ++p) {
    std::vector<const TrialRecord*> done;
    for (const auto& t : res.trials) {
      auto it = t.metrics.find(metric);
      if (t.state == TrialState::kDone && it != t.metrics.end() && std::isfinite(it->second) && p < t.params.size()) {
        done.push_back(&t);
      }
    }
    bool numeric = true;
    std::vector<double> xs, ys;
    for (const auto* t : done) {
      double v;
      numeric &= ParseNumber(t->params[p], &v);
      xs.push_back(v);
      ys.push_back(t->metrics.at(metric));
    }
    Chart c;
    c.width = 360;
    c.height = 240;
    c.aria = metric + " against " + res.param_names[p];
    std::vector<std::string> cats;
    if (numeric) {
      c.x = NumericAxis(xs, true, true, res.param_names[p]);
    } else {
      std::set<std::string> seen;
      for (const auto* t : done) {
        if (seen.insert(t->params[p]).second) cats.push_back(t->params[p]);
      }
      c.x = CategoricalAxis(cats, res.param_names[p]);
    }
    c.y = NumericAxis(ys, false, true, metric);
    std::string svg = SvgOpen(c);
    for (size_t i = 0; i < done.size(); ++i) {
      double x = xs[i];
      if (!numeric) x = static_cast<double>(std::find(cats.begin(), cats.end(), done[i]->params[p]) - cats.begin());
      if (!c.Visible({x, ys[i]})) continue;
      svg += "<circle class=\"dot\" cx=\"" + Fmt("%.1f", c.Px(x)) + "\" cy=\"" + Fmt("%.1f", c.Py(ys[i])) +
             "\" r=\"3.5\"><title>" +
             HtmlEscape(TrialName(done[i]->index) + " " + ParamText(res, *done[i]) + " " + metric + "=" + Num(ys[i])) +
             "</title></circle>";
    }
    out += svg + "</svg>";
  }
  return out + "</div>\n";
}

std::string FailedTrials(const SweepResults& res) {
  std::string out;
  size_t n = 0;
  for (const auto& t : res.trials) {
    if (t.state != TrialState::kFailed) continue;
    ++n;
    out += "<div class=\"failed\" id=\"failed-" + TrialName(t.index) + "\"><h3>" + TrialName(t.index) + " <small>" +
           HtmlEscape(ParamText(res, t)) + " &middot; " + std::to_string(t.attempts) + " attempts</small></h3>";
    if (!t.outcome_message.empty()) out += "<p>" + HtmlEscape(t.outcome_message) + "</p>";
    out += t.log_tail.empty() ? std::string("<p class=\"note\">No log.</p>")
                              : "<pre class=\"log\">" + HtmlEscape(t.log_tail) + "</pre>";
    out += "</div>\n";
  }
  return n == 0 ? "<p class=\"note\">No failed trials.</p>\n" : out;
}

const char kStyle[] = R"css(
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { margin-bottom: 0.2em; }
.meta { color: #555; margin-top: 0; }
.counts span { display: inline-block; margin-right: 1.2em; }
.counts b { font-size: 1.2em; }
table#results { border-collapse: collapse; font-size: 13px; }
#results th, #results td { border-bottom: 1px solid #ddd; padding: 2px 8px; text-align: left; white-space: nowrap; }
#results th.sortable-ready { cursor: pointer; user-select: none; background: #f3f3f3; }
#results th[aria-sort=ascending]::after { content: " \25B2"; }
#results th[aria-sort=descending]::after { content: " \25BC"; }
#results td.problem { color: #b00; white-space: normal; }
tr.state-failed td:nth-child(2) { color: #b00; }
tr.state-done td:nth-child(2) { color: #070; }
.tablewrap { overflow-x: auto; max-height: 32em; overflow-y: auto; }
svg.chart { background: #fff; margin: 4px 8px 4px 0; }
svg.chart .grid { stroke: #eee; }
svg.chart .axis, svg.chart .tickmark { stroke: #444; }
svg.chart text { font: 10px sans-serif; fill: #333; }
svg.chart text.label { font-size: 11px; }
svg.chart polyline.series { stroke-width: 1.6; }
svg.chart polyline.series:hover { stroke-width: 3.5; }
svg.chart circle.dot { fill: #1f77b4; fill-opacity: 0.7; }
.charts { display: flex; flex-wrap: wrap; }
details { margin: 2px 0; }
summary { cursor: pointer; }
pre.log { background: #f6f6f6; padding: 6px; overflow-x: auto; max-height: 24em; }
.note { color: #777; }
#report-errors { color: #b00; }
)css";

// Sorts the results table; reports its own errors into #report-errors and
// marks the body ready when it has set up, so a headless browser can check it.
const char kScript[] = R"js(
(function () {
  var errors = document.getElementById('report-errors');
  function record(msg) {
    errors.setAttribute('data-count', String(Number(errors.getAttribute('data-count')) + 1));
    var line = document.createElement('div');
    line.textContent = 'report script error: ' + msg;
    errors.appendChild(line);
  }
  window.onerror = function (msg, src, line) { record(msg + ' (line ' + line + ')'); };
  function sortBy(table, col, th) {
    var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
    var heads = table.tHead.rows[0].cells;
    for (var i = 0; i < heads.length; i++) heads[i].removeAttribute('aria-sort');
    th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
    var numeric = th.getAttribute('data-type') === 'num';
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (r, i) {
      var cell = r.cells[col];
      var key = cell ? (cell.hasAttribute('data-v') ? cell.getAttribute('data-v') : cell.textContent) : '';
      if (numeric) key = key === '' ? NaN : Number(key);
      return { row: r, key: key, i: i };
    });
    rows.sort(function (a, b) {
      var an = numeric ? isNaN(a.key) : a.key === '', bn = numeric ? isNaN(b.key) : b.key === '';
      if (an || bn) return an === bn ? a.i - b.i : (an ? 1 : -1);  // missing values last, either way
      var c = numeric ? a.key - b.key : String(a.key).localeCompare(String(b.key));
      return c !== 0 ? dir * c : a.i - b.i;
    });
    rows.forEach(function (r) { body.appendChild(r.row); });
  }
  try {
    var tables = document.querySelectorAll('table.sortable');
    for (var t = 0; t < tables.length; t++) {
      (function (table) {
        var heads = table.tHead.rows[0].cells;
        for (var c = 0; c < heads.length; c++) {
          (function (th, col) {
            th.classList.add('sortable-ready');
            th.tabIndex = 0;
            th.title = 'sort by ' + th.textContent;
            th.addEventListener('click', function () { sortBy(table, col, th); });
            th.addEventListener('keydown', function (e) { if (e.key === 'Enter') sortBy(table, col, th); });
          })(heads[c], c);
        }
      })(tables[t]);
    }
    document.body.setAttribute('data-ready', '1');
  } catch (e) {
    record(e && e.message ? e.message : String(e));
  }
})();
)js";

}  // namespace

std::string RenderReportHtml(const SweepResults& res, const ReportOptions& o) {
  const std::string name = res.spec.name();
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      // Nothing may be fetched: the file must read the same offline and can't leak the sweep's data.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
      "script-src 'unsafe-inline'\">\n"
      "<title>" + HtmlEscape(name) + " - claimsweep report</title>\n<style>" + kStyle + "</style></head>\n<body>\n";
  h += "<h1>Sweep " + HtmlEscape(name) + "</h1>\n<p class=\"meta\">Directory <code>" + HtmlEscape(res.dir) +
       "</code> &middot; " + std::to_string(res.num_points) + " points &middot; generated " +
       HtmlEscape(o.generated_at) + " by <code>sweep report</code></p>\n";
  h += "<div id=\"report-errors\" data-count=\"0\"></div>\n<p class=\"counts\">";
  for (int s = 0; s < kNumTrialStates; ++s) {
    const char* state = TrialStateName(static_cast<TrialState>(s));
    h += std::string("<span class=\"count\" data-state=\"") + state + "\">" + state + " <b>" +
         std::to_string(res.counts[static_cast<size_t>(s)]) + "</b></span>";
  }
  h += "</p>\n";

  h += "<h2>Results</h2>\n<p class=\"note\">Click a column header to sort; click again to reverse. Metrics rank "
       "done trials only: the others sort after them.</p>\n";
  if (res.unclaimed() > 0) {
    h += "<p class=\"note\" id=\"unlisted\">" + std::to_string(res.unclaimed()) +
         " pending points are not listed: no trial has claimed them, so they have no results "
         "(<code>sweep points</code> lists every point).</p>\n";
  }
  h += "<div class=\"tablewrap\">" + ResultsTable(res) + "</div>\n";
  h += "<h2>Validation curves</h2>\n" + OverlayChart(res, o);
  h += "<h2>Metric against parameters</h2>\n" + ParamCharts(res);

  h += "<h2>Learning curves</h2>\n";
  size_t drawn = 0, left_out = 0;
  const std::string primary = PrimaryMetric(res);
  for (const auto& t : res.trials) {
    if (t.curve.empty() || t.curve_columns.size() < 2) continue;
    if (drawn >= o.max_curve_trials) {
      ++left_out;
      continue;
    }
    ++drawn;
    std::string summary = TrialName(t.index) + " " + TrialStateName(t.state) + " " + ParamText(res, t);
    auto it = t.metrics.find(primary);
    if (it != t.metrics.end()) summary += " " + primary + "=" + Num(it->second);
    // The first is open, so the page shows what a trial's curves look like.
    h += std::string("<details class=\"curves\"") + (drawn == 1 ? " open" : "") + "><summary>" + HtmlEscape(summary) +
         "</summary><div class=\"charts\">" + TrialCurves(res, t) + "</div></details>\n";
  }
  if (drawn == 0) h += "<p class=\"note\">No trial has written a metrics.csv yet.</p>\n";
  if (left_out > 0) {
    h += "<p class=\"note\">Curves of the first " + std::to_string(drawn) + " trials shown; " + std::to_string(left_out) +
         " more left out (each trial's metrics.csv has them).</p>\n";
  }

  h += "<h2>Failed trials</h2>\n" + FailedTrials(res);
  h += "<script>" + std::string(kScript) + "</script>\n</body></html>\n";
  return h;
}

}  // namespace claimsweep
