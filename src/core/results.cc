#include "core/results.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/asha_spec.h"
#include "core/json.h"
#include "core/layout.h"
#include "core/metrics_csv.h"
#include "core/rungs.h"
#include "core/spec.h"
#include "core/sweep_points.h"
#include "core/sweep_scan.h"
#include "core/train_config.h"
#include "records.pb.h"

namespace claimsweep {
namespace {

// A record is a few KB; a bigger one is not ours (and is not read whole).
constexpr uint64_t kMaxRecordBytes = 16 << 20;
// metrics.csv is one row per epoch; past this it is not a learning curve (and
// is not read whole: a runaway command must not exhaust our memory).
constexpr uint64_t kMaxMetricsCsvBytes = 64 << 20;

void NumericMetrics(const google::protobuf::Struct& s, std::map<std::string, double>* out) {
  for (const auto& [k, v] : s.fields()) {
    if (v.kind_case() == google::protobuf::Value::kNumberValue) {
      (*out)[k] = v.number_value();
    } else if (v.kind_case() == google::protobuf::Value::kStringValue) {
      // protobuf's JSON printer writes non-finite numbers as these strings: a
      // NaN loss is a result to show (as NaN), not a metric to drop.
      const std::string& t = v.string_value();
      if (t == "NaN") (*out)[k] = std::nan("");
      if (t == "Infinity") (*out)[k] = HUGE_VAL;
      if (t == "-Infinity") (*out)[k] = -HUGE_VAL;
    }
  }
}

std::string Tail(const std::string& text, int lines) {
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int n = 0; n < lines && pos > 0; ++n) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    pos = nl;
  }
  return pos == 0 ? text : text.substr(pos + 1);
}

void AddProblem(TrialRecord* t, const std::string& what) {
  t->problem += (t->problem.empty() ? "" : "; ") + what;
}

// The trial's parameters are its record's (what the trial ran with): each
// value that differs from the frozen spec's point (already in t->params) is
// taken from the record and named in `problem`. Records without params
// (none are written so) leave the spec's point.
void TakeRecordParams(const TrialResult& r, const std::string& path,
                      const std::vector<std::string>& names, TrialRecord* t) {
  if (r.params().empty()) return;
  std::string diff;
  for (size_t k = 0; k < names.size() && k < t->params.size(); ++k) {
    auto it = r.params().find(names[k]);
    const bool in_spec = t->has_param[k];
    if (it == r.params().end() && !in_spec) continue;
    if (it != r.params().end() && in_spec && it->second == t->params[k]) continue;
    diff += diff.empty() ? "" : ", ";
    if (it == r.params().end()) {
      diff += names[k] + " missing (spec " + t->params[k] + ")";
      continue;
    }
    diff += names[k] + " " + it->second + " (spec " + (in_spec ? t->params[k] : "has none") + ")";
    t->params[k] = it->second;
    t->has_param[k] = true;
  }
  if (!diff.empty())
    AddProblem(t, path + ": parameters differ from the frozen spec's point: " + diff);
}

// What a record says about the trial. `done`: it is the trial's result.json.
void TakeRecord(const TrialResult& r, const std::string& path, bool done,
                const std::vector<std::string>& names, TrialRecord* t) {
  NumericMetrics(r.metrics(), &t->metrics);
  // The latest record's: result.json for a done trial, else the latest
  // attempt's failure or release record (the trial's time so far).
  t->last_attempt_seconds = r.duration_seconds();
  // total_seconds is 0 in records written before it existed: the last attempt
  // is all we know (for a done trial; an unfinished one's is left empty).
  t->wall_seconds = r.total_seconds() > 0 ? r.total_seconds() : done ? r.duration_seconds() : -1;
  t->host = r.host();
  t->job_id = r.slurm_job_id();
  t->spec_version = r.spec_version();
  t->outcome_message = r.message();
  TakeRecordParams(r, path, names, t);
}

// Fills everything but index and the spec's params for one claimed trial.
void LoadTrial(Env* env, const SweepLayout& layout, const SweepSpec& spec, int64_t now_ns,
               const LoadOptions& opt, const std::vector<std::string>& names, TrialRecord* t) {
  const ClaimPolicy& policy = spec.claim();
  const std::string trial_dir = layout.trial_dir(t->index);
  // Fast path, most trials of a big sweep: a readable result.json means done
  // whatever else the directory holds; its attempt number is the attempts.
  {
    std::string text;
    TrialResult r;
    if (env->ReadFileAtMost(layout.result_path(t->index), kMaxRecordBytes, &text).ok() &&
        ParseRecord(text, layout.result_path(t->index), &r).ok()) {
      t->state = TrialState::kDone;
      t->attempts = r.attempt();
      TakeRecord(r, layout.result_path(t->index), true, names, t);
      if (opt.curves) {
        const std::string csv = MetricsCsvPath(spec, layout, t->index);
        if (env->ReadFileAtMost(csv, kMaxMetricsCsvBytes, &text).ok()) {
          Status s = ParseMetricsCsv(text, csv, &t->curve_columns, &t->curve);
          t->csv_rows = static_cast<int>(t->curve.size());
          if (!s.ok()) AddProblem(t, s.ToString());
        }
      }
      return;
    }
  }
  TrialSnapshot snap;
  Status s = ReadTrialSnapshot(env, layout, t->index, &snap);
  if (!s.ok()) {
    t->problem = s.ToString();
    return;
  }
  DerivedState d = DeriveState(snap, policy, now_ns);
  t->state = d.state;
  t->attempts = d.latest_attempt;
  t->failures = d.failures;
  if (d.state == TrialState::kPending) return;
  if (d.state == TrialState::kBroken) t->problem = d.problem;
  // The result of a done trial; else the latest attempt's failure or release record.
  std::string record_path;
  if (snap.has_result) {
    record_path = layout.result_path(t->index);
  } else if (d.latest_attempt > 0) {
    for (const auto& a : snap.attempts) {
      if (a.number != d.latest_attempt) continue;
      if (a.failed) record_path = layout.failed_path(t->index, a.number);
      if (a.released) record_path = layout.released_path(t->index, a.number);
    }
  }
  if (!record_path.empty()) {
    std::string text;
    TrialResult r;
    s = env->ReadFileAtMost(record_path, kMaxRecordBytes, &text);
    if (s.ok()) s = ParseRecord(text, record_path, &r);
    if (!s.ok()) {
      t->problem = text.empty() && s.ok() ? record_path + ": empty" : s.ToString();
    } else {
      TakeRecord(r, record_path, snap.has_result, names, t);
    }
  }
  // Running (or interrupted) trials: their progress so far is metrics.csv.
  const bool need_csv = opt.curves || (!snap.has_result && t->metrics.empty());
  if (need_csv) {
    std::string text;
    const std::string csv = MetricsCsvPath(spec, layout, t->index);
    s = env->ReadFileAtMost(csv, kMaxMetricsCsvBytes, &text);
    if (s.ok()) {
      s = ParseMetricsCsv(text, csv, &t->curve_columns, &t->curve);
      t->csv_rows = static_cast<int>(t->curve.size());
      if (!s.ok() && t->problem.empty()) t->problem = s.ToString();
      if (t->metrics.empty() && !t->curve.empty()) {
        for (size_t c = 0; c < t->curve_columns.size(); ++c) {
          if (!std::isnan(t->curve.back()[c])) t->metrics[t->curve_columns[c]] = t->curve.back()[c];
        }
      }
      if (!opt.curves) {
        t->curve.clear();
        t->curve_columns.clear();
      }
    } else if (!s.IsNotFound() && t->problem.empty()) {
      t->problem = s.ToString();
    }
  }
  if (opt.log_tails && d.state == TrialState::kFailed && d.latest_attempt > 0) {
    std::string text;
    s = env->ReadFileTail(layout.log_path(t->index, d.latest_attempt), 1 << 20, &text);
    if (s.ok()) {
      t->log_tail = Tail(text, opt.log_tail_lines);
    } else if (!s.IsNotFound() && t->problem.empty()) {
      t->problem = s.ToString();
    }
  }
}

// Early stopping: `t` (its rung-0 trial, loaded) becomes configuration
// `cr` over every rung: its state at its rung, its newest done rung's record.
void TakeRungs(Env* env, const SweepLayout& root, const ConfigRung& cr, const LoadOptions& opt,
               const std::vector<std::string>& names, TrialRecord* t) {
  t->rung = static_cast<int>(cr.rung);
  t->epochs_done = cr.epochs_done;
  if (cr.rung == 0) return;  // its trial is all there is
  const uint64_t c = t->index;
  double wall = t->state == TrialState::kDone ? std::max(0.0, t->wall_seconds) : 0;
  for (int k = 1; k <= cr.done_rung; ++k) {
    const SweepLayout q = RungQueue(root, static_cast<uint32_t>(k));
    const std::string path = q.result_path(RungKey(static_cast<uint32_t>(k), c));
    std::string text;
    TrialResult r;
    Status s = env->ReadFileAtMost(path, kMaxRecordBytes, &text);
    if (s.ok()) s = ParseRecord(text, path, &r);
    if (!s.ok()) {
      AddProblem(t, s.ToString());
      continue;
    }
    wall += r.total_seconds() > 0 ? r.total_seconds() : r.duration_seconds();
    if (k == cr.done_rung) {
      t->metrics.clear();
      TakeRecord(r, path, true, names, t);
      t->attempts = r.attempt();
    }
  }
  t->wall_seconds = wall;
  t->state = cr.state;
  // A done entry's scan only stat'ed its result: its record has the attempts.
  if (cr.state != TrialState::kDone) t->attempts = cr.attempts;
  t->failures = 0;
  if (cr.state != TrialState::kFailed && cr.state != TrialState::kDone) {
    t->outcome_message.clear();
    t->log_tail.clear();
  }
  if (cr.state != TrialState::kFailed || cr.attempts == 0) return;
  // Failed at its rung: that rung's latest attempt says why.
  const SweepLayout q = RungQueue(root, cr.rung);
  const uint64_t key = RungKey(cr.rung, c);
  std::string text;
  TrialResult r;
  if (env->ReadFileAtMost(q.failed_path(key, cr.attempts), kMaxRecordBytes, &text).ok() &&
      ParseRecord(text, q.failed_path(key, cr.attempts), &r).ok()) {
    t->outcome_message = r.message();
  }
  t->log_tail.clear();
  if (opt.log_tails && env->ReadFileTail(q.log_path(key, cr.attempts), 1 << 20, &text).ok()) {
    t->log_tail = Tail(text, opt.log_tail_lines);
  }
}

}  // namespace

Status LoadResults(Env* env, const std::string& sweep_dir, const LoadOptions& opt,
                   SweepResults* out) {
  *out = SweepResults();
  out->dir = sweep_dir;
  auto ps = ReadSweepPoints(env, sweep_dir);
  if (!ps.ok()) return ps.status();
  out->spec = ps->spec();
  out->points = std::make_shared<const SweepPoints>(std::move(*ps));
  out->param_names = out->points->names();
  SweepLayout layout(sweep_dir);
  SweepSpec task = out->spec;  // whose claim policy and metrics.csv place apply
  const Stage* stage = nullptr;
  if (!opt.stage.empty()) {
    stage = FindStage(out->spec, opt.stage);
    if (stage == nullptr) {
      return Status::InvalidArgument(
          "--stage " + opt.stage +
          ": the sweep has no such stage (stages: " + StageNamesText(out->spec) + ")");
    }
    layout = SweepLayout::ForStage(sweep_dir, stage->name());
    task = StageTaskSpec(out->spec, *stage);
    out->stage = stage->name();
    out->stage_kind = KindOf(*stage);
    if (out->stage_kind == StageKind::kAfterAll) out->param_names.clear();  // no upstream point
  }

  bool from_fs = false;
  const int64_t now_ns = ScanClock(env, layout, &from_fs);
  std::vector<uint64_t> claimed;
  if (stage == nullptr) {
    CS_RETURN_IF_ERROR(ListClaimedIndices(env, layout, out->points->size(), &claimed));
  } else {
    CS_RETURN_IF_ERROR(
        ListStageItems(env, layout, *stage, out->points->size(), out->points->version(), &claimed));
  }
  const bool has_point = stage == nullptr || out->stage_kind != StageKind::kAfterAll;

  // Only claimed trials: a pending point has nothing on disk to read.
  out->num_points = stage == nullptr ? out->points->size() : claimed.size();
  out->trials.resize(claimed.size());
  // In parallel: each costs a few small reads.
  ParallelFor(claimed.size(), opt.threads, 64, [&](size_t k) {
    TrialRecord& t = out->trials[k];
    t.index = claimed[k];
    const Point pt =
        has_point ? out->points->At(stage == nullptr ? t.index : ItemUpstream(t.index)) : Point();
    for (const auto& name : out->param_names) {
      const std::string* v = pt.Find(name);
      t.params.push_back(v != nullptr ? *v : "");
      t.has_param.push_back(v != nullptr);
    }
    LoadTrial(env, layout, task, now_ns, opt, out->param_names, &t);
  });

  if (stage == nullptr && HasRungs(out->spec)) {
    out->early_stopping = true;
    std::vector<std::pair<uint64_t, TrialState>> claimed_states;
    for (const auto& t : out->trials) claimed_states.push_back({t.index, t.state});
    CS_RETURN_IF_ERROR(
        ScanRungs(env, sweep_dir, out->spec, claimed_states, out->num_points, now_ns, &out->rungs));
    ParallelFor(out->trials.size(), opt.threads, 64, [&](size_t k) {
      TrialRecord& t = out->trials[k];
      const ConfigRung* cr = out->rungs.Find(t.index);
      if (cr != nullptr) TakeRungs(env, layout, *cr, opt, out->param_names, &t);
    });
  }

  std::set<std::string> metric_names;
  for (auto& t : out->trials) {
    // One line per problem (protobuf's JSON errors span lines, with a caret).
    for (char& c : t.problem) c = c == '\n' ? ' ' : c;
    while (!t.problem.empty() && (t.problem.back() == ' ' || t.problem.back() == '^'))
      t.problem.pop_back();
    ++out->counts[static_cast<int>(t.state)];
    for (const auto& [k, v] : t.metrics) metric_names.insert(k);
  }
  out->counts[static_cast<int>(TrialState::kPending)] += out->unclaimed();
  out->metric_names.assign(metric_names.begin(), metric_names.end());
  return Status::OK();
}

Status RefreshTrials(Env* env, const LoadOptions& opt, const std::vector<uint64_t>& indices,
                     SweepResults* res) {
  if (!opt.stage.empty() || !res->stage.empty())
    return Status::InvalidArgument("RefreshTrials reads the sweep's trials, not a stage's items");
  const SweepLayout layout(res->dir);
  bool from_fs = false;
  const int64_t now_ns = ScanClock(env, layout, &from_fs);
  std::vector<TrialRecord> fresh(indices.size());
  ParallelFor(indices.size(), opt.threads, 64, [&](size_t k) {
    TrialRecord& t = fresh[k];
    t.index = indices[k];
    const Point pt = res->points->At(t.index);
    for (const auto& name : res->param_names) {
      const std::string* v = pt.Find(name);
      t.params.push_back(v != nullptr ? *v : "");
      t.has_param.push_back(v != nullptr);
    }
    LoadTrial(env, layout, res->spec, now_ns, opt, res->param_names, &t);
    for (char& c : t.problem) c = c == '\n' ? ' ' : c;
    while (!t.problem.empty() && (t.problem.back() == ' ' || t.problem.back() == '^'))
      t.problem.pop_back();
  });
  for (TrialRecord& t : fresh) {
    auto it = std::lower_bound(res->trials.begin(), res->trials.end(), t.index,
                               [](const TrialRecord& r, uint64_t i) { return r.index < i; });
    if (it != res->trials.end() && it->index == t.index) {
      *it = std::move(t);
    } else {
      res->trials.insert(it, std::move(t));
    }
  }
  res->counts = {};
  std::set<std::string> metric_names;
  for (const auto& t : res->trials) {
    ++res->counts[static_cast<int>(t.state)];
    for (const auto& [k, v] : t.metrics) metric_names.insert(k);
  }
  res->counts[static_cast<int>(TrialState::kPending)] += res->unclaimed();
  res->metric_names.assign(metric_names.begin(), metric_names.end());
  return Status::OK();
}

int EpochsToRun(const SweepResults& res, const TrialRecord& t) {
  if (t.rung >= 0 && res.spec.early_stopping().has_asha()) {
    const std::vector<int> budgets = AshaRungBudgets(res.spec.early_stopping().asha());
    if (static_cast<size_t>(t.rung) < budgets.size()) return budgets[static_cast<size_t>(t.rung)];
  }
  if (!res.spec.has_train() || !res.points) return 0;
  auto cfg = TrainTaskForPoint(res.spec.train(), res.points->At(t.index));
  return cfg.ok() ? cfg->epochs() : 0;
}

}  // namespace claimsweep
