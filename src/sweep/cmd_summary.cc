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

#include "core/points.h"
#include "core/results.h"
#include "sweep/commands.h"
#include "sweep/table.h"

namespace claimsweep {
namespace {

std::string Num(double v) {
  if (std::isnan(v)) return "";
  char b[32];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(b, sizeof b, "%.0f", v);
  } else {
    std::snprintf(b, sizeof b, "%.4g", v);
  }
  return b;
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
  auto esc = [](const std::string& s) {
    std::string o;
    for (char c : s) {
      if (c == '|') o += "\\|";
      else if (c == '\n') o += ' ';
      else o += c;
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

std::string RenderJson(const Row& header, const std::vector<Row>& rows, const std::vector<bool>& numeric) {
  std::string out = "[\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    out += "  {";
    for (size_t c = 0; c < header.size(); ++c) {
      const std::string& v = rows[r][c];
      std::string value = JsonString(v);
      if (numeric[c]) {  // a JSON number: no leading zeros (the index is printed 000012)
        char* end = nullptr;
        const double d = std::strtod(v.c_str(), &end);
        char b[32];
        std::snprintf(b, sizeof b, "%.15g", d);
        value = v.empty() || *end != '\0' || !std::isfinite(d) ? "null" : b;
      }
      out += (c ? "," : "") + JsonString(header[c]) + ":" + value;
    }
    out += r + 1 < rows.size() ? "},\n" : "}\n";
  }
  return out + "]\n";
}

// Percentile bootstrap of the mean: 2,000 resamples from a fixed seed, so
// the same results print the same interval.
std::pair<double, double> BootstrapCi(const std::vector<double>& xs) {
  if (xs.size() < 2) return {std::nan(""), std::nan("")};
  uint64_t state = 0x9e3779b97f4a7c15ULL ^ xs.size();
  auto next = [&state] {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  constexpr int kResamples = 2000;
  std::vector<double> means(kResamples);
  for (int b = 0; b < kResamples; ++b) {
    double sum = 0;
    for (size_t i = 0; i < xs.size(); ++i) sum += xs[next() % xs.size()];
    means[b] = sum / static_cast<double>(xs.size());
  }
  std::sort(means.begin(), means.end());
  return {means[static_cast<size_t>(0.025 * kResamples)], means[static_cast<size_t>(0.975 * kResamples) - 1]};
}

struct Stats {
  size_t n = 0;
  double mean = NAN, std = NAN, min = NAN, max = NAN, lo = NAN, hi = NAN;
};

Stats Describe(const std::vector<double>& xs) {
  Stats s;
  s.n = xs.size();
  if (xs.empty()) return s;
  double sum = 0;
  for (double x : xs) sum += x;
  s.mean = sum / static_cast<double>(xs.size());
  double ss = 0;
  for (double x : xs) ss += (x - s.mean) * (x - s.mean);
  s.std = xs.size() > 1 ? std::sqrt(ss / static_cast<double>(xs.size() - 1)) : NAN;
  s.min = *std::min_element(xs.begin(), xs.end());
  s.max = *std::max_element(xs.begin(), xs.end());
  std::tie(s.lo, s.hi) = BootstrapCi(xs);
  return s;
}

}  // namespace

int CmdSummary(const SummaryOptions& o) {
  std::unique_ptr<Env> env = NewSweepEnv(o.dir);
  SweepResults res;
  Status s = LoadResults(env.get(), o.dir, LoadOptions(), &res);
  if (!s.ok()) return UsageError(s.ToString());

  // Broken files never stop the summary: name them.
  int broken = 0;
  for (const auto& t : res.trials) {
    if (t.problem.empty()) continue;
    if (++broken <= 20) std::fprintf(stderr, "sweep: warning: trial %s: %s\n", TrialName(t.index).c_str(), t.problem.c_str());
  }
  if (broken > 20) std::fprintf(stderr, "sweep: warning: ... and %d more trials with unreadable files\n", broken - 20);

  auto param_col = [&](const std::string& name) -> int {
    for (size_t i = 0; i < res.param_names.size(); ++i) {
      if (res.param_names[i] == name) return static_cast<int>(i);
    }
    return -1;
  };
  // --where name=value (several: all must hold); `state` is a name too.
  std::vector<const TrialRecord*> rows;
  std::vector<std::pair<int, std::string>> filters;  // column (-1: state), value
  for (const auto& w : o.where) {
    size_t eq = w.find('=');
    if (eq == std::string::npos) return UsageError("--where '" + w + "': write NAME=VALUE, e.g. --where model=resnet_cifar");
    std::string name = w.substr(0, eq);
    int c = param_col(name);
    if (c < 0 && name != "state") {
      std::string known;
      for (const auto& p : res.param_names) known += " " + p;
      return UsageError("--where: no parameter '" + name + "' (parameters:" + known + ", or state)");
    }
    filters.push_back({c, w.substr(eq + 1)});
  }
  for (const auto& t : res.trials) {
    bool keep = true;
    for (const auto& [c, v] : filters) {
      const std::string& have = c < 0 ? std::string(TrialStateName(t.state)) : t.params[static_cast<size_t>(c)];
      if (have != v) keep = false;
    }
    if (keep) rows.push_back(&t);
  }
  std::vector<std::string> metrics = o.metrics.empty() ? res.metric_names : SplitComma(o.metrics);
  if (o.metrics.empty() && res.spec.has_train() && (o.format == "table" || o.format == "markdown")) {
    // A train task records ~20 metrics; the table shows the ones people
    // compare (csv and json have them all).
    std::vector<std::string> main_ones;
    for (const char* m : {"best_val_acc", "best_epoch", "final_val_acc", "final_val_loss", "test_acc", "test_loss",
                          "num_parameters", "images_per_s"}) {
      if (std::find(metrics.begin(), metrics.end(), m) != metrics.end()) main_ones.push_back(m);
    }
    if (!o.sort.empty() && std::find(main_ones.begin(), main_ones.end(), o.sort) == main_ones.end() &&
        std::find(metrics.begin(), metrics.end(), o.sort) != metrics.end()) {
      main_ones.insert(main_ones.begin(), o.sort);
    }
    metrics = main_ones;
  }
  // A metric named like a parameter (a train task's `lr` column) gets a suffix.
  auto metric_header = [&](const std::string& m) { return param_col(m) >= 0 ? m + "_metric" : m; };
  if (!o.sort.empty() && std::find(res.metric_names.begin(), res.metric_names.end(), o.sort) == res.metric_names.end() &&
      !(o.sort == "wall_seconds" || param_col(o.sort) >= 0)) {
    std::string known;
    for (const auto& m : res.metric_names) known += " " + m;
    return UsageError("--sort: no metric '" + o.sort + "' in this sweep (metrics:" + known + ")");
  }

  Row header;
  std::vector<Row> out;
  std::vector<bool> numeric;
  if (!o.group_by.empty()) {
    std::vector<int> cols;
    for (const auto& g : SplitComma(o.group_by)) {
      int c = param_col(g);
      if (c < 0) return UsageError("--group-by: no parameter '" + g + "'");
      cols.push_back(c);
      header.push_back(g);
      numeric.push_back(false);
    }
    std::map<std::vector<std::string>, std::vector<const TrialRecord*>> groups;
    for (const auto* t : rows) {
      std::vector<std::string> key;
      for (int c : cols) key.push_back(t->params[static_cast<size_t>(c)]);
      groups[key].push_back(t);
    }
    header.push_back("n");
    numeric.push_back(true);
    for (const auto& m : metrics) {
      for (const char* stat : {"mean", "std", "min", "max", "ci95_lo", "ci95_hi"}) {
        header.push_back(metric_header(m) + "_" + stat);
        numeric.push_back(true);
      }
    }
    std::vector<std::pair<double, Row>> sorted;
    for (const auto& [key, members] : groups) {
      Row r = key;
      size_t n_done = 0;
      for (const auto* t : members) n_done += t->state == TrialState::kDone;
      r.push_back(std::to_string(n_done));
      double sort_key = NAN;
      for (const auto& m : metrics) {
        std::vector<double> xs;
        for (const auto* t : members) {
          auto it = t->metrics.find(m);
          if (t->state == TrialState::kDone && it != t->metrics.end() && !std::isnan(it->second)) xs.push_back(it->second);
        }
        Stats st = Describe(xs);
        if (m == o.sort) sort_key = st.mean;
        for (double v : {st.mean, st.std, st.min, st.max, st.lo, st.hi}) r.push_back(Num(v));
      }
      sorted.push_back({sort_key, std::move(r)});
    }
    if (!o.sort.empty()) {
      std::stable_sort(sorted.begin(), sorted.end(), [&](const auto& a, const auto& b) {
        if (std::isnan(a.first) != std::isnan(b.first)) return std::isnan(b.first);
        return o.desc ? a.first > b.first : a.first < b.first;
      });
    }
    for (auto& [k, r] : sorted) out.push_back(std::move(r));
  } else {
    header = {"index", "state", "attempts"};
    numeric = {true, false, true};
    for (const auto& p : res.param_names) {
      header.push_back(p);
      numeric.push_back(false);
    }
    for (const auto& m : metrics) {
      header.push_back(metric_header(m));
      numeric.push_back(true);
    }
    header.push_back("wall_seconds");
    numeric.push_back(true);
    auto key = [&](const TrialRecord* t) -> double {
      if (o.sort == "wall_seconds") return t->wall_seconds >= 0 ? t->wall_seconds : NAN;
      auto it = t->metrics.find(o.sort);
      return it == t->metrics.end() ? NAN : it->second;
    };
    if (!o.sort.empty()) {
      const int pc = param_col(o.sort);
      std::stable_sort(rows.begin(), rows.end(), [&](const TrialRecord* a, const TrialRecord* b) {
        if (pc >= 0) {  // numerically when both values are numbers
          const std::string &x = a->params[pc], &y = b->params[pc];
          char *ex = nullptr, *ey = nullptr;
          const double dx = std::strtod(x.c_str(), &ex), dy = std::strtod(y.c_str(), &ey);
          if (!x.empty() && !y.empty() && *ex == '\0' && *ey == '\0') return o.desc ? dx > dy : dx < dy;
          return o.desc ? x > y : x < y;
        }
        double x = key(a), y = key(b);
        if (std::isnan(x) != std::isnan(y)) return std::isnan(y);  // trials without the metric last
        return o.desc ? x > y : x < y;
      });
    }
    for (const auto* t : rows) {
      Row r = {TrialName(t->index), std::string(TrialStateName(t->state)) + (t->problem.empty() ? "" : " (broken)"),
               std::to_string(t->attempts)};
      for (const auto& v : t->params) r.push_back(v);
      for (const auto& m : metrics) {
        auto it = t->metrics.find(m);
        r.push_back(it == t->metrics.end() ? "" : Num(it->second));
      }
      r.push_back(t->wall_seconds >= 0 ? Num(t->wall_seconds) : "");
      out.push_back(std::move(r));
    }
  }
  if (o.top > 0 && out.size() > static_cast<size_t>(o.top)) out.resize(static_cast<size_t>(o.top));

  std::string text;
  if (o.format == "csv") {
    text = RenderCsv(header, out);
  } else if (o.format == "json") {
    text = RenderJson(header, out, numeric);
  } else if (o.format == "markdown") {
    text = RenderMarkdown(header, out);
  } else {
    text = FitTable(header, out, OutputWidth());
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace claimsweep
