// `sweep summary DIR`: one row per trial (or per group of trials), as a
// terminal table, CSV, JSON or Markdown.
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "core/json.h"
#include "core/number_format.h"
#include "core/points.h"
#include "core/results.h"
#include "core/terminal_text.h"
#include "sweep/commands.h"
#include "sweep/stats.h"
#include "sweep/table.h"

namespace claimsweep {
namespace {

// Numbers for eyes (the terminal table) keep 4 significant digits; every
// format a program reads (csv, json, markdown) carries the shortest text that
// reads back as the same double.
std::string Num(double v, bool exact) {
  if (std::isnan(v)) return "";
  return exact ? FormatDouble(v) : FormatRounded(v, 4);
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string x; std::getline(in, x, ',');) {
    if (!x.empty()) out.push_back(x);
  }
  return out;
}

// Width to fit: the terminal's when stdout is one, else $COLUMNS, else none.
size_t OutputWidth() {
  winsize ws{};
  if (::isatty(1) && ::ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS")) {
    int n = std::atoi(c);
    if (n > 0) return static_cast<size_t>(n);
  }
  return 0;
}

// Drops columns from the right until the table fits `width` (keeping at
// least the first two); says how many were left out.
std::string FitTable(Row header, std::vector<Row> rows, size_t width) {
  size_t dropped = 0;
  auto line_width = [&](const Row& h, const std::vector<Row>& rs) {
    size_t w = 0;
    for (size_t c = 0; c < h.size(); ++c) {
      size_t cw = h[c].size();
      for (const auto& r : rs) cw = std::max(cw, c < r.size() ? r[c].size() : 0);
      w += cw + (c + 1 < h.size() ? 2 : 0);
    }
    return w;
  };
  while (width > 0 && header.size() > 2 && line_width(header, rows) > width) {
    header.pop_back();
    for (auto& r : rows) {
      if (r.size() > header.size()) r.resize(header.size());
    }
    ++dropped;
  }
  std::string out = RenderTable(header, rows);
  if (dropped > 0) {
    out += "(" + std::to_string(dropped) + " more column" + (dropped == 1 ? "" : "s") +
           " do not fit the terminal: --format csv or json shows all)\n";
  }
  return out;
}

std::string RenderMarkdown(const Row& header, const std::vector<Row>& rows) {
  // Read by people (rendered or in a terminal): control characters shown
  // escaped, like the terminal table; `|` would end the cell.
  auto esc = [](const std::string& s) {
    std::string o;
    for (char c : TerminalSafe(s)) {
      if (c == '|')
        o += "\\|";
      else
        o += c;
    }
    return o;
  };
  std::string out = "|";
  for (const auto& h : header) out += " " + esc(h) + " |";
  out += "\n|";
  for (size_t i = 0; i < header.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& r : rows) {
    out += "|";
    for (const auto& c : r) out += " " + esc(c) + " |";
    out += "\n";
  }
  return out;
}

// One object a row, its keys in header order: a numeric column's cells as
// JSON numbers (the index printed 000012 as 12), null when empty or not finite
// (JSON has no NaN or infinity); the other columns' as strings. An absent cell
// (a parameter the trial's branch lacks) has no key.
void PrintJson(const Row& header, const std::vector<Row>& rows, const std::vector<bool>& numeric,
               const std::vector<std::vector<bool>>& absent) {
  JsonArrayWriter out(stdout);
  OrderedStruct row;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    row.Clear();
    for (size_t c = 0; c < header.size(); ++c) {
      const std::string& v = r[c];
      if (i < absent.size() && c < absent[i].size() && absent[i][c]) continue;
      if (!numeric[c]) {
        AddString(&row, header[c], v);
        continue;
      }
      char* end = nullptr;
      const double d = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0') {
        AddNull(&row, header[c]);
      } else {
        AddNumber(&row, header[c], d);
      }
    }
    out.Add(row);
  }
  out.Finish();
}

// The rows to print, and the notes that explain what they leave out.
struct Table {
  Row header;
  std::vector<Row> rows;
  std::vector<bool> numeric;             // per column: a JSON number
  std::vector<std::vector<bool>> absent;  // per row, per column: no value (not even empty)
  std::vector<std::string> notes;        // every format's (on stderr with csv and json)
  std::vector<std::string> table_notes;  // the table's and markdown's only
};

struct Columns {
  const SweepResults& res;
  std::vector<std::string> metrics;
  int Param(const std::string& name) const {
    for (size_t i = 0; i < res.param_names.size(); ++i) {
      if (res.param_names[i] == name) return static_cast<int>(i);
    }
    return -1;
  }
  // A metric named like a parameter (a train task's `lr` column) gets a suffix.
  std::string MetricHeader(const std::string& m) const { return Param(m) >= 0 ? m + "_metric" : m; }
  void Add(Table* t, const std::string& name, bool numeric) const {
    t->header.push_back(name);
    t->numeric.push_back(numeric);
  }
};

std::string Known(const std::vector<std::string>& names) {
  std::string known;
  for (const auto& n : names) known += " " + n;
  return names.empty() ? " none yet" : known;
}

// The metric columns: --metrics (each must exist), else all; a train task's
// table and markdown show the ones people compare (csv and json have them all).
Status PickMetrics(const SummaryOptions& o, const SweepResults& res,
                   std::vector<std::string>* out) {
  const auto& all = res.metric_names;
  if (!o.metrics.empty()) {
    *out = SplitComma(o.metrics);
    for (const auto& m : *out) {
      if (std::find(all.begin(), all.end(), m) == all.end()) {
        return Status::InvalidArgument("--metrics: no metric '" + m +
                                       "' in this sweep's results (metrics:" + Known(all) + ")");
      }
    }
    return Status::OK();
  }
  *out = all;
  if (!res.spec.has_train() || !(o.format == "table" || o.format == "markdown"))
    return Status::OK();
  std::vector<std::string> main_ones;
  for (const char* m : {"best_val_acc", "best_epoch", "final_val_acc", "final_val_loss", "test_acc",
                        "test_loss", "num_parameters", "images_per_s"}) {
    if (std::find(all.begin(), all.end(), m) != all.end()) main_ones.push_back(m);
  }
  // Early stopping: its rung metric (val_acc at the rung's epochs) is what ranks.
  const std::string rung_metric =
      res.early_stopping ? res.spec.early_stopping().asha().metric() : std::string();
  if (!rung_metric.empty() &&
      std::find(main_ones.begin(), main_ones.end(), rung_metric) == main_ones.end() &&
      std::find(all.begin(), all.end(), rung_metric) != all.end()) {
    main_ones.insert(main_ones.begin(), rung_metric);
  }
  if (!o.sort.empty() && std::find(main_ones.begin(), main_ones.end(), o.sort) == main_ones.end() &&
      std::find(all.begin(), all.end(), o.sort) != all.end()) {
    main_ones.insert(main_ones.begin(), o.sort);
  }
  *out = main_ones;
  return Status::OK();
}

bool IsTimeColumn(const std::string& name) {
  return name == "wall_seconds" || name == "last_attempt_seconds";
}

// One row per trial. Sorting by a metric or a time ranks done trials only:
// the others (a failed trial's last metrics.csv row is no result) follow them.
Table TrialTable(const SummaryOptions& o, const Columns& cols, std::vector<const TrialRecord*> rows,
                 bool exact) {
  Table t;
  // A stage's items: named, with their upstream trial and epoch; all done.
  const bool items = !cols.res.stage.empty();
  const bool upstream = items && cols.res.stage_kind != StageKind::kAfterAll;
  const bool epochs = items && cols.res.stage_kind == StageKind::kEachCheckpoint;
  if (items) {
    cols.Add(&t, "item", false);
    if (upstream) cols.Add(&t, "trial", true);
    if (epochs) cols.Add(&t, "epoch", true);
  } else {
    cols.Add(&t, "index", true);
    cols.Add(&t, "state", false);
  }
  // Early stopping: a row is a configuration over its rungs (results.h).
  const bool rungs = !items && cols.res.early_stopping;
  if (rungs) {
    cols.Add(&t, "rung", true);
    cols.Add(&t, "epochs_done", true);
  }
  cols.Add(&t, "attempts", true);
  // An extended sweep: which version of the spec each trial ran under.
  const bool versions = cols.res.points != nullptr && cols.res.points->version() > 1;
  if (versions) cols.Add(&t, "spec_version", true);
  for (const auto& p : cols.res.param_names) cols.Add(&t, p, false);
  for (const auto& m : cols.metrics) cols.Add(&t, cols.MetricHeader(m), true);
  cols.Add(&t, "wall_seconds", true);
  cols.Add(&t, "last_attempt_seconds", true);
  auto key = [&](const TrialRecord* r) -> double {
    if (items && o.sort == "trial") return ItemUpstream(r->index);
    if (items && o.sort == "epoch") return ItemSub(r->index);
    if (rungs && o.sort == "rung") return r->rung;
    if (rungs && o.sort == "epochs_done") return r->epochs_done;
    // Early stopping ranks every configuration with a done rung (its metrics
    // are that rung's record's), whatever it does at its rung now.
    if (rungs ? r->epochs_done <= 0 : r->state != TrialState::kDone) return NAN;
    if (o.sort == "wall_seconds") return r->wall_seconds >= 0 ? r->wall_seconds : NAN;
    if (o.sort == "last_attempt_seconds")
      return r->last_attempt_seconds >= 0 ? r->last_attempt_seconds : NAN;
    auto it = r->metrics.find(o.sort);
    return it == r->metrics.end() ? NAN : it->second;
  };
  if (!o.sort.empty()) {
    const int pc = cols.Param(o.sort);
    std::stable_sort(rows.begin(), rows.end(), [&](const TrialRecord* a, const TrialRecord* b) {
      if (pc >= 0) {  // numerically when both values are numbers
        const std::string &x = a->params[pc], &y = b->params[pc];
        return o.desc ? ValueLess(y, x) : ValueLess(x, y);
      }
      const double x = key(a), y = key(b);
      if (std::isnan(x) != std::isnan(y)) return std::isnan(y);  // unranked trials last
      // Early stopping, by a metric: the configurations that trained more
      // epochs first (a metric compares at equal epochs), then the metric.
      if (rungs && !IsTimeColumn(o.sort) && o.sort != "rung" && o.sort != "epochs_done" &&
          a->epochs_done != b->epochs_done)
        return a->epochs_done > b->epochs_done;
      return o.desc ? x > y : x < y;
    });
  }
  auto seconds = [&](double v) { return v >= 0 ? Num(v, exact) : ""; };
  for (const auto* r : rows) {
    Row row;
    if (items) {
      row.push_back(ItemName(r->index));
      if (upstream) row.push_back(std::to_string(ItemUpstream(r->index)));
      if (epochs) row.push_back(std::to_string(ItemSub(r->index)));
    } else {
      row.push_back(TrialName(r->index));
      row.push_back(std::string(TrialStateName(r->state)) +
                    (r->problem.empty() || r->state == TrialState::kBroken ? "" : " (broken)") +
                    (IsDiverged(*r) ? " (diverged)" : ""));
    }
    if (rungs) {
      row.push_back(r->rung >= 0 ? std::to_string(r->rung) : "");
      row.push_back(r->epochs_done >= 0 ? std::to_string(r->epochs_done) : "");
    }
    row.push_back(std::to_string(r->attempts));
    if (versions) row.push_back(r->spec_version > 0 ? std::to_string(r->spec_version) : "");
    std::vector<bool> absent(row.size(), false);
    for (size_t k = 0; k < r->params.size(); ++k) {
      row.push_back(r->params[k]);
      absent.push_back(!HasParam(*r, k));
    }
    t.absent.push_back(std::move(absent));
    for (const auto& m : cols.metrics) {
      auto it = r->metrics.find(m);
      row.push_back(it == r->metrics.end() ? "" : Num(it->second, exact));
    }
    row.push_back(seconds(r->wall_seconds));
    row.push_back(seconds(r->last_attempt_seconds));
    t.rows.push_back(std::move(row));
  }
  return t;
}

// One row per group of done trials: n and, per metric that is a measurement
// (not an x column), mean, std, min, max and the 95% CI (n >= kMinCiSamples).
// Groups sort by their key (numbers as numbers), or by a metric's mean.
Status GroupTable(const SummaryOptions& o, const Columns& cols,
                  const std::vector<const TrialRecord*>& rows, bool exact, Table* t) {
  std::vector<int> key_cols;
  for (const auto& g : SplitComma(o.group_by)) {
    const int c = cols.Param(g);
    if (c < 0) return Status::InvalidArgument("--group-by: no parameter '" + g + "'");
    key_cols.push_back(c);
    cols.Add(t, g, false);
  }
  std::vector<std::string> metrics;
  for (const auto& m : cols.metrics) {
    if (!IsXColumn(m)) metrics.push_back(m);
  }
  if (!o.metrics.empty() && metrics.empty()) {
    return Status::InvalidArgument("--metrics " + o.metrics +
                                   ": epoch, step and best_epoch are positions, not measurements; "
                                   "--group-by gives no statistics for them");
  }
  cols.Add(t, "n", true);
  for (const auto& m : metrics) {
    for (const char* stat : {"mean", "std", "min", "max", "ci95_lo", "ci95_hi"}) {
      cols.Add(t, cols.MetricHeader(m) + "_" + stat, true);
    }
  }
  // A trial whose branch lacks a key parameter is in the group of the empty value.
  std::map<std::vector<std::string>, std::vector<const TrialRecord*>> groups;
  std::map<std::vector<std::string>, std::vector<bool>> absent_key;
  for (const auto* r : rows) {
    std::vector<std::string> key;
    std::vector<bool> absent;
    for (int c : key_cols) {
      key.push_back(r->params[static_cast<size_t>(c)]);
      absent.push_back(!HasParam(*r, static_cast<size_t>(c)));
    }
    groups[key].push_back(r);
    absent_key.emplace(key, absent);
  }
  struct Group {
    std::vector<std::string> key;
    double sort_key = NAN;
    Row row;
    std::vector<bool> absent;
  };
  std::vector<Group> sorted;
  bool small = false;
  for (const auto& [key, members] : groups) {
    Group g{key, NAN, key, absent_key[key]};
    size_t n_done = 0;
    for (const auto* r : members) n_done += r->state == TrialState::kDone;
    small |= n_done < kMinCiSamples;
    g.row.push_back(std::to_string(n_done));
    for (const auto& m : metrics) {
      std::vector<double> xs;
      for (const auto* r : members) {
        auto it = r->metrics.find(m);
        if (r->state == TrialState::kDone && it != r->metrics.end() && !std::isnan(it->second))
          xs.push_back(it->second);
      }
      const Stats st = Describe(xs);
      if (m == o.sort) g.sort_key = st.mean;
      for (double v : {st.mean, st.std, st.min, st.max, st.ci95_lo, st.ci95_hi})
        g.row.push_back(Num(v, exact));
    }
    sorted.push_back(std::move(g));
  }
  const bool by_metric = !o.sort.empty() && cols.Param(o.sort) < 0;
  const bool desc_key = o.desc && !o.sort.empty() && !by_metric;
  std::sort(sorted.begin(), sorted.end(), [&](const Group& a, const Group& b) {
    const auto &x = desc_key ? b.key : a.key, &y = desc_key ? a.key : b.key;
    return std::lexicographical_compare(x.begin(), x.end(), y.begin(), y.end(), ValueLess);
  });
  if (by_metric) {
    std::stable_sort(sorted.begin(), sorted.end(), [&](const Group& a, const Group& b) {
      if (std::isnan(a.sort_key) != std::isnan(b.sort_key)) return std::isnan(b.sort_key);
      return o.desc ? a.sort_key > b.sort_key : a.sort_key < b.sort_key;
    });
  }
  for (auto& g : sorted) {
    t->rows.push_back(std::move(g.row));
    t->absent.push_back(std::move(g.absent));
  }
  if (small && !metrics.empty()) {
    t->table_notes.push_back("ci95 is empty for groups of fewer than " +
                             std::to_string(kMinCiSamples) +
                             " done trials: a 95% CI needs n >= " + std::to_string(kMinCiSamples));
  }
  return Status::OK();
}

// Broken files never stop the summary: name them.
void WarnProblems(const SweepResults& res) {
  int broken = 0;
  for (const auto& t : res.trials) {
    if (t.problem.empty()) continue;
    if (++broken <= 20)
      std::fprintf(stderr, "sweep: warning: %s: %s\n",
                   (res.stage.empty() ? "trial " + TrialName(t.index)
                                      : "item " + res.stage + "/" + ItemName(t.index))
                       .c_str(),
                   t.problem.c_str());
  }
  if (broken > 20)
    std::fprintf(stderr, "sweep: warning: ... and %d more trials with problems\n", broken - 20);
}

}  // namespace

int CmdSummary(const SummaryOptions& o) {
  if (o.top != -1 && o.top <= 0)
    return UsageError("--top " + std::to_string(o.top) +
                      ": K must be at least 1 (leave --top out for all rows)");
  std::unique_ptr<Env> env = NewSweepEnv(o.dir);
  SweepResults res;
  LoadOptions load;
  load.stage = o.stage;
  Status s = LoadResults(env.get(), o.dir, load, &res);
  if (!s.ok()) return UsageError(s.ToString());
  WarnProblems(res);
  if (!res.stage.empty()) {
    // A stage's summary is its results: the done items (`sweep status
    // --stage` shows the others).
    std::vector<TrialRecord> done;
    for (auto& t : res.trials) {
      if (t.state == TrialState::kDone) done.push_back(std::move(t));
    }
    res.trials = std::move(done);
    res.num_points = res.trials.size();
  }

  Columns cols{res, {}};
  // --where name=value (several: all must hold); `state` is a name too.
  std::vector<std::pair<int, std::string>> filters;  // column (-1: state), value
  bool state_filter_excludes_pending = false;
  for (const auto& w : o.where) {
    size_t eq = w.find('=');
    if (eq == std::string::npos)
      return UsageError("--where '" + w + "': write NAME=VALUE, e.g. --where model=resnet_cifar");
    std::string name = w.substr(0, eq);
    int c = cols.Param(name);
    if (c < 0 && name != "state") {
      return UsageError("--where: no parameter '" + name +
                        "' (parameters:" + Known(res.param_names) + ", or state)");
    }
    filters.push_back({c, w.substr(eq + 1)});
    if (c < 0 && w.substr(eq + 1) != "pending") state_filter_excludes_pending = true;
  }
  std::vector<const TrialRecord*> rows;
  for (const auto& t : res.trials) {
    bool keep = true;
    for (const auto& [c, v] : filters) {
      const std::string& have =
          c < 0 ? std::string(TrialStateName(t.state)) : t.params[static_cast<size_t>(c)];
      // A trial whose branch lacks the parameter matches no value of it.
      if (have != v || (c >= 0 && !HasParam(t, static_cast<size_t>(c)))) keep = false;
    }
    if (keep) rows.push_back(&t);
  }
  s = PickMetrics(o, res, &cols.metrics);
  if (!s.ok()) return UsageError(s.message());
  if (!o.sort.empty() &&
      std::find(res.metric_names.begin(), res.metric_names.end(), o.sort) ==
          res.metric_names.end() &&
      !(IsTimeColumn(o.sort) || cols.Param(o.sort) >= 0) &&
      !(!res.stage.empty() && (o.sort == "trial" || o.sort == "epoch")) &&
      !(res.early_stopping && (o.sort == "rung" || o.sort == "epochs_done"))) {
    return UsageError("--sort: no metric '" + o.sort +
                      "' in this sweep (metrics:" + Known(res.metric_names) +
                      "; or a parameter, wall_seconds, last_attempt_seconds)");
  }

  const bool exact = o.format != "table";
  Table table;
  if (!o.group_by.empty()) {
    s = GroupTable(o, cols, rows, exact, &table);
    if (!s.ok()) return UsageError(s.message());
  } else {
    table = TrialTable(o, cols, std::move(rows), exact);
    if (res.unclaimed() > 0 && !state_filter_excludes_pending) {
      table.notes.push_back(
          std::to_string(res.unclaimed()) + " of " + std::to_string(res.num_points) +
          " points are pending and not listed: no trial has claimed them, so they have no "
          "results; `sweep points " +
          o.dir + "` lists every point");
    }
  }
  if (o.top > 0 && table.rows.size() > static_cast<size_t>(o.top)) {
    table.rows.resize(static_cast<size_t>(o.top));
    if (table.absent.size() > table.rows.size()) table.absent.resize(table.rows.size());
  }

  std::string text;
  if (o.format == "csv") {
    text = RenderCsv(table.header, table.rows);
  } else if (o.format == "json") {
    PrintJson(table.header, table.rows, table.numeric, table.absent);
  } else if (o.format == "markdown") {
    text = RenderMarkdown(table.header, table.rows);
  } else {
    text = FitTable(table.header, table.rows, OutputWidth());
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  // Notes go with a table people read; a file programs read stays pure data.
  const bool to_stdout = o.format == "table" || o.format == "markdown";
  if (to_stdout)
    table.notes.insert(table.notes.end(), table.table_notes.begin(), table.table_notes.end());
  for (const auto& note : table.notes) {
    if (to_stdout) {
      std::printf("%s(%s)\n", o.format == "markdown" ? "\n" : "", note.c_str());
    } else {
      std::fprintf(stderr, "sweep: note: %s\n", note.c_str());
    }
  }
  return 0;
}

}  // namespace claimsweep
