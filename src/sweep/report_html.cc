#include "sweep/report_html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "core/asha_spec.h"
#include "core/json.h"
#include "core/layout.h"
#include "core/number_format.h"
#include "records.pb.h"
#include "sweep/stats.h"

namespace claimsweep {

namespace {

using Point = ChartPoint;

// Table cells: integers as integers, the rest with 4 significant digits.
std::string Num(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "" : (v > 0 ? "inf" : "-inf");
  return FormatRounded(v, 4);
}

// Sort keys in data-v: exact (the shortest text that reads back as the same
// double), empty for "no number" (sorted last).
std::string SortKey(double v) { return std::isfinite(v) ? FormatDouble(v) : ""; }

bool ParseNumber(const std::string& s, double* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  return *end == '\0' && std::isfinite(*v);
}

// ---- the report's sections -----------------------------------------------------

std::string ParamText(const SweepResults& res, const TrialRecord& t) {
  std::string s;
  for (size_t p = 0; p < res.param_names.size() && p < t.params.size(); ++p) {
    if (!HasParam(t, p)) continue;  // its branch has no such parameter
    s += (s.empty() ? "" : " ") + res.param_names[p] + "=" + t.params[p];
  }
  return s;
}

// The metric columns of the table: a train task's ~20 metrics are cut to the
// ones people compare (like `sweep summary`); a command's are all shown.
std::vector<std::string> TableMetrics(const SweepResults& res) {
  if (!res.spec.has_train()) return res.metric_names;
  std::vector<std::string> out;
  // Early stopping: its metric at each configuration's newest done rung.
  const std::string rung_metric =
      res.early_stopping ? res.spec.early_stopping().asha().metric() : std::string();
  if (!rung_metric.empty() && std::find(res.metric_names.begin(), res.metric_names.end(),
                                        rung_metric) != res.metric_names.end())
    out.push_back(rung_metric);
  for (const char* m : {"best_val_acc", "best_epoch", "final_val_acc", "final_val_loss", "test_acc",
                        "test_loss", "num_parameters", "train_seconds"}) {
    if (std::find(res.metric_names.begin(), res.metric_names.end(), m) != res.metric_names.end() &&
        m != rung_metric)
      out.push_back(m);
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

// The rows of the table: every trial, or (max_rows > 0) the trials that
// are not done first, then the done ones, each by index, up to max_rows.
std::vector<const TrialRecord*> TableRows(const SweepResults& res, size_t max_rows) {
  std::vector<const TrialRecord*> rows;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& t : res.trials) {
      if (max_rows > 0 && rows.size() >= max_rows) return rows;
      if (max_rows == 0 ? pass == 0 : (t.state == TrialState::kDone) == (pass == 1))
        rows.push_back(&t);
    }
  }
  return rows;
}

std::string ResultsTable(const SweepResults& res, size_t max_rows) {
  const std::vector<std::string> metrics = TableMetrics(res);
  bool any_problem = false;
  for (const auto& t : res.trials) any_problem |= !t.problem.empty();
  std::string h = "<table id=\"results\" class=\"sortable\"><thead><tr>";
  auto th = [&](const std::string& name, bool numeric) {
    h += std::string("<th") + (numeric ? " data-type=\"num\"" : "") + ">" + HtmlEscape(name) +
         "</th>";
  };
  th("index", true);
  th("state", false);
  if (res.early_stopping) {
    th("rung", true);
    th("epochs_done", true);
  }
  th("attempts", true);
  std::vector<bool> numeric_param(res.param_names.size(), true);
  for (const auto& t : res.trials) {
    for (size_t p = 0; p < t.params.size() && p < numeric_param.size(); ++p) {
      double v;
      if (HasParam(t, p) && !ParseNumber(t.params[p], &v)) numeric_param[p] = false;
    }
  }
  for (size_t p = 0; p < res.param_names.size(); ++p) th(res.param_names[p], numeric_param[p]);
  for (const auto& m : metrics) {
    const bool clash =
        std::find(res.param_names.begin(), res.param_names.end(), m) != res.param_names.end();
    th(clash ? m + "_metric" : m, true);
  }
  th("wall_seconds", true);
  th("last_attempt_seconds", true);
  if (any_problem) th("problem", false);
  h += "</tr></thead><tbody>\n";
  std::vector<const TrialRecord*> rows = TableRows(res, max_rows);
  if (max_rows > 0) {
    std::sort(rows.begin(), rows.end(),
              [](const TrialRecord* a, const TrialRecord* b) { return a->index < b->index; });
  }
  for (const TrialRecord* row : rows) {
    const TrialRecord& t = *row;
    const std::string state = TrialStateName(t.state);
    h += "<tr class=\"trial state-" + state + "\"><td data-v=\"" + std::to_string(t.index) + "\">" +
         TrialName(t.index) + "</td><td>" + state +
         (t.problem.empty() || t.state == TrialState::kBroken ? "" : " (broken)") +
         (IsDiverged(t) ? " (diverged)" : "") + "</td>";
    if (res.early_stopping) {
      for (int v : {t.rung, t.epochs_done}) {
        const std::string text = v >= 0 ? std::to_string(v) : "";
        h += "<td data-v=\"" + text + "\">" + text + "</td>";
      }
    }
    h +=
        "<td data-v=\"" + std::to_string(t.attempts) + "\">" + std::to_string(t.attempts) + "</td>";
    for (size_t p = 0; p < res.param_names.size(); ++p) {
      const std::string v = p < t.params.size() ? t.params[p] : "";
      h += "<td data-v=\"" + HtmlEscape(v) + "\">" + HtmlEscape(v) + "</td>";
    }
    // Only done trials are ranked: the others' metrics (a failed trial's
    // last metrics.csv row) are shown but sort after every done trial.
    // Early stopping: every configuration with a done rung (its metrics are
    // that rung's record's).
    const bool ranked = res.early_stopping ? t.epochs_done > 0 : t.state == TrialState::kDone;
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
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
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
    for (const auto& n : *group)
      series.push_back({n, TrialName(t.index) + " " + n, CurveColumn(t, n)});
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
    if (std::find(t.curve_columns.begin(), t.curve_columns.end(), "val_acc") !=
        t.curve_columns.end()) {
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
    series.push_back(
        {TrialName(t.index),
         TrialName(t.index) + " (" + TrialStateName(t.state) + ") " + ParamText(res, t),
         std::move(pts)});
  }
  Chart c;
  c.width = 760;
  c.height = 380;
  c.x.label = x_label;
  c.y.label = column;
  c.aria = column + " of every trial";
  std::string out = "<p>" + HtmlEscape(column) + " per " + HtmlEscape(x_label) +
                    ", one line per trial (" + std::to_string(series.size()) +
                    "); hover a line for its trial and parameters.</p>\n";
  // Early stopping: each configuration's curve stops at its rung's epochs;
  // dashed lines mark the rungs' budgets.
  std::vector<std::pair<double, std::string>> marks;
  if (res.early_stopping) {
    for (size_t k = 0; k < res.rungs.budgets.size(); ++k)
      marks.push_back({static_cast<double>(res.rungs.budgets[k]), "rung " + std::to_string(k)});
    out +=
        "<p class=\"note\">Dashed lines: the rungs' budgets (epochs). A configuration's "
        "curve stops at the epochs of the rung it reached.</p>\n";
  }
  out += LineChart(c, series, series.size() <= 12, marks) + "\n";
  if (left_out > 0)
    out += "<p class=\"note\">" + std::to_string(left_out) + " more trials not drawn.</p>\n";
  return out;
}

// The primary metric of done trials against each swept parameter.
std::string ParamCharts(const SweepResults& res, size_t max_dots) {
  const std::string metric = PrimaryMetric(res);
  if (metric.empty()) return "<p class=\"note\">No metrics yet.</p>\n";
  std::string out = "<p>" + HtmlEscape(metric) +
                    " of each done trial against each parameter.</p>\n<div class=\"charts\">";
  for (size_t p = 0; p < res.param_names.size(); ++p) {
    std::vector<const TrialRecord*> done;
    for (const auto& t : res.trials) {
      auto it = t.metrics.find(metric);
      if (t.state == TrialState::kDone && it != t.metrics.end() && std::isfinite(it->second) &&
          p < t.params.size() && HasParam(t, p)) {
        done.push_back(&t);
      }
    }
    if (max_dots > 0 && done.size() > max_dots) {
      // An even sample (every k-th by index), so the cloud keeps its shape.
      std::vector<const TrialRecord*> sample;
      for (size_t i = 0; i < max_dots; ++i) sample.push_back(done[i * done.size() / max_dots]);
      done.swap(sample);
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
      if (!numeric)
        x = static_cast<double>(std::find(cats.begin(), cats.end(), done[i]->params[p]) -
                                cats.begin());
      if (!c.Visible({x, ys[i]})) continue;
      svg += "<circle class=\"dot\" cx=\"" + FormatFixed(c.Px(x), 1) + "\" cy=\"" +
             FormatFixed(c.Py(ys[i]), 1) + "\" r=\"3.5\"><title>" +
             HtmlEscape(TrialName(done[i]->index) + " " + ParamText(res, *done[i]) + " " + metric +
                        "=" + Num(ys[i])) +
             "</title></circle>";
    }
    out += svg + "</svg>";
  }
  return out + "</div>\n";
}

// "<stage>: acc against epoch", one line per trial.
std::string StageCharts(const SweepResults& res, const std::vector<StageEvalCurves>& stages) {
  std::map<uint64_t, const TrialRecord*> trials;
  for (const auto& t : res.trials) trials[t.index] = &t;
  std::string out;
  for (const auto& st : stages) {
    std::vector<Series> series;
    size_t items = 0;
    for (const auto& [trial, pts] : st.acc) {
      auto it = trials.find(trial);
      const std::string params = it == trials.end() ? "" : " " + ParamText(res, *it->second);
      series.push_back({TrialName(trial), TrialName(trial) + params, pts});
      items += pts.size();
    }
    out += "<h3>" + HtmlEscape(st.stage) + "</h3>\n";
    if (series.empty()) {
      out += "<p class=\"note\">No item of stage " + HtmlEscape(st.stage) + " is done yet.</p>\n";
      continue;
    }
    Chart c;
    c.width = 760;
    c.height = 380;
    c.x.label = "epoch";
    c.y.label = "acc";
    c.aria = st.stage + ": acc against epoch";
    out += "<p>" + HtmlEscape(c.aria) + ", one line per trial (" + std::to_string(series.size()) +
           " trials, " + std::to_string(items) + " evaluated checkpoints).</p>\n";
    out += LineChart(c, series, series.size() <= 12) + "\n";
    if (st.unreadable > 0) {
      out += "<p class=\"note\">" + std::to_string(st.unreadable) +
             " result.json files of this stage could not be read (not drawn).</p>\n";
    }
  }
  return out;
}

// Early stopping: the rungs' configurations by state, and the compute used
// against training every configuration to the top rung's epochs.
std::string RungsSection(const SweepResults& res) {
  const RungScan& rs = res.rungs;
  if (rs.budgets.empty()) return "";
  std::string out =
      "<p>" + HtmlEscape(DescribeEarlyStopping(res.spec.early_stopping())) + ".</p>\n";
  out +=
      "<table id=\"rungs\"><thead><tr><th>rung</th><th>epochs</th><th>configurations</th>"
      "<th>done</th><th>running</th><th>not started</th><th>failed</th>"
      "<th>other</th></tr></thead><tbody>\n";
  for (const RungCounts& r : rs.rungs) {
    const uint64_t done = r.count(TrialState::kDone), running = r.count(TrialState::kRunning),
                   pending = r.count(TrialState::kPending), failed = r.count(TrialState::kFailed);
    const uint64_t other = r.configurations - done - running - pending - failed;
    out += "<tr class=\"rung\" data-rung=\"" + std::to_string(r.rung) + "\"><td>" +
           std::to_string(r.rung) + "</td><td>" + std::to_string(r.budget) + "</td><td>" +
           std::to_string(r.configurations) + "</td><td>" + std::to_string(done) + "</td><td>" +
           std::to_string(running) + "</td><td>" + std::to_string(pending) + "</td><td>" +
           std::to_string(failed) + "</td><td>" + std::to_string(other) + "</td></tr>\n";
  }
  out +=
      "</tbody></table>\n<p class=\"note\">Not started: at rung 0 the points no worker has "
      "claimed, above it the configurations promoted there that no worker has started. Other: "
      "interrupted, stale, stopped or broken.</p>\n";
  const uint64_t n = rs.reached.empty() ? 0 : rs.reached[0];
  out += "<p id=\"compute\">Compute used: " + std::to_string(rs.epochs_used) + " epochs of " +
         std::to_string(n) + "&times;" + std::to_string(rs.budgets.back()) + " = " +
         std::to_string(rs.epochs_exhaustive) + " (fraction " +
         FormatRounded(rs.compute_fraction, 4) +
         ") against training every configuration done at "
         "rung 0 to " +
         std::to_string(rs.budgets.back()) +
         " epochs. A promoted configuration resumes from its checkpoint and trains only the new "
         "epochs; running and failed rungs are not counted.</p>\n";
  return out;
}

std::string FailedTrials(const SweepResults& res) {
  std::string out;
  size_t n = 0;
  for (const auto& t : res.trials) {
    if (t.state != TrialState::kFailed) continue;
    ++n;
    out += "<div class=\"failed\" id=\"failed-" + TrialName(t.index) + "\"><h3>" +
           TrialName(t.index) + " <small>" + HtmlEscape(ParamText(res, t)) + " &middot; " +
           std::to_string(t.attempts) + " attempts</small></h3>";
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
svg.chart text.mark { fill: #666; }
table#rungs { border-collapse: collapse; font-size: 13px; }
#rungs th, #rungs td { border-bottom: 1px solid #ddd; padding: 2px 8px; text-align: right; }
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

std::vector<StageEvalCurves> LoadStageEvalCurves(Env* env, const std::string& sweep_dir,
                                                 const SweepSpec& spec) {
  constexpr uint64_t kMaxRecordBytes = 16 << 20;
  std::vector<StageEvalCurves> out;
  for (const auto& stage : spec.stage()) {
    if (stage.input_case() != Stage::kEachCheckpoint || !stage.has_eval()) continue;
    StageEvalCurves curves;
    curves.stage = stage.name();
    const SweepLayout layout = SweepLayout::ForStage(sweep_dir, stage.name());
    std::vector<std::string> names;
    env->ListDir(layout.trials_dir(), &names).IgnoreError();  // no item yet: none
    for (const auto& name : names) {
      uint64_t key = 0;
      if (!layout.ParseEntryName(name, &key)) continue;
      std::string text;
      Status s = env->ReadFileAtMost(layout.result_path(key), kMaxRecordBytes, &text);
      if (s.IsNotFound()) continue;  // not done
      TrialResult r;
      if (s.ok()) s = ParseRecord(text, layout.result_path(key), &r);
      auto acc = r.metrics().fields().find("acc");
      if (!s.ok() || acc == r.metrics().fields().end() || !acc->second.has_number_value()) {
        ++curves.unreadable;
        continue;
      }
      const double epoch = r.epoch() > 0 ? r.epoch() : ItemSub(key);
      curves.acc[ItemUpstream(key)].push_back({epoch, acc->second.number_value()});
    }
    for (auto& [trial, pts] : curves.acc) std::sort(pts.begin(), pts.end());
    out.push_back(std::move(curves));
  }
  return out;
}

std::string ReportStyle() { return kStyle; }

std::string RenderReportHtml(const SweepResults& res, const ReportOptions& o,
                             const std::vector<StageEvalCurves>& stages) {
  const std::string name = res.spec.name();
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      // Nothing may be fetched: the file must read the same offline and can't leak the sweep's
      // data.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
      "'unsafe-inline'; "
      "script-src 'unsafe-inline'\">\n"
      "<title>" +
      HtmlEscape(name) + " - claimsweep report</title>\n<style>" + kStyle +
      "</style></head>\n<body>\n";
  h += "<h1>Sweep " + HtmlEscape(name) + "</h1>\n<p class=\"meta\">Directory <code>" +
       HtmlEscape(res.dir) + "</code> &middot; " + std::to_string(res.num_points) +
       " points &middot; generated " + HtmlEscape(o.generated_at) +
       " by <code>sweep report</code></p>\n";
  h += "<div id=\"report-errors\" data-count=\"0\"></div>\n";
  h += RenderReportBody(res, o, stages);
  h += "<script>" + std::string(kScript) + "</script>\n</body></html>\n";
  return h;
}

std::string RenderReportBody(const SweepResults& res, const ReportOptions& o,
                             const std::vector<StageEvalCurves>& stages) {
  std::string h = "<p class=\"counts\">";
  for (int s = 0; s < kNumTrialStates; ++s) {
    if (static_cast<TrialState>(s) == TrialState::kBlocked) continue;  // a stage's items only
    const char* state = TrialStateName(static_cast<TrialState>(s));
    h += std::string("<span class=\"count\" data-state=\"") + state + "\">" + state + " <b>" +
         std::to_string(res.counts[static_cast<size_t>(s)]) + "</b></span>";
  }
  h += "</p>\n";

  h += "<h2>Results</h2>\n<p class=\"note\">Click a column header to sort; click again to reverse. "
       "Metrics rank "
       "done trials only: the others sort after them.</p>\n";
  if (res.unclaimed() > 0) {
    h += "<p class=\"note\" id=\"unlisted\">" + std::to_string(res.unclaimed()) +
         " pending points are not listed: no trial has claimed them, so they have no results "
         "(<code>sweep points</code> lists every point).</p>\n";
  }
  h += "<div class=\"tablewrap\">" + ResultsTable(res, o.max_table_rows) + "</div>\n";
  if (o.max_table_rows > 0 && res.trials.size() > o.max_table_rows) {
    h += "<p class=\"note\" id=\"rows-left-out\">" +
         std::to_string(res.trials.size() - o.max_table_rows) +
         " more done trials are not listed (the table shows the trials that are not done, then "
         "done ones by index, " +
         std::to_string(o.max_table_rows) +
         " rows in all; <code>sweep summary</code> lists every trial).</p>\n";
  }
  if (res.early_stopping) h += "<h2>Rungs</h2>\n" + RungsSection(res);
  h += "<h2>Validation curves</h2>\n" + OverlayChart(res, o);
  h += "<h2>Metric against parameters</h2>\n" + ParamCharts(res, o.max_param_dots);
  if (!stages.empty()) h += "<h2>Evaluated checkpoints</h2>\n" + StageCharts(res, stages);

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
    std::string summary =
        TrialName(t.index) + " " + TrialStateName(t.state) + " " + ParamText(res, t);
    auto it = t.metrics.find(primary);
    if (it != t.metrics.end()) summary += " " + primary + "=" + Num(it->second);
    // The first is open, so the page shows what a trial's curves look like.
    h += std::string("<details class=\"curves\"") + (drawn == 1 ? " open" : "") + "><summary>" +
         HtmlEscape(summary) + "</summary><div class=\"charts\">" + TrialCurves(res, t) +
         "</div></details>\n";
  }
  if (drawn == 0) h += "<p class=\"note\">No trial has written a metrics.csv yet.</p>\n";
  if (left_out > 0) {
    h += "<p class=\"note\">Curves of the first " + std::to_string(drawn) + " trials shown; " +
         std::to_string(left_out) + " more left out (each trial's metrics.csv has them).</p>\n";
  }

  h += "<h2>Failed trials</h2>\n" + FailedTrials(res);
  return h;
}

}  // namespace claimsweep
