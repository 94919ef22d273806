// `sweep status DIR` and `sweep points DIR`.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "core/asha_spec.h"
#include "core/json.h"
#include "core/number_format.h"
#include "core/rung_scan.h"
#include "core/rungs.h"
#include "core/slurm.h"
#include "core/spec.h"
#include "core/stage_scan.h"
#include "core/sweep_points.h"
#include "core/sweep_scan.h"
#include "core/terminal_text.h"
#include "output.pb.h"
#include "records.pb.h"
#include "sweep/commands.h"
#include "sweep/table.h"

namespace claimsweep {
namespace {

// Display order: what needs attention first.
int Priority(TrialState s) {
  switch (s) {
    case TrialState::kRunning: return 0;
    case TrialState::kBroken: return 1;
    case TrialState::kStale: return 2;
    case TrialState::kInterrupted: return 3;
    case TrialState::kFailed: return 4;
    case TrialState::kStopped: return 5;
    case TrialState::kDone: return 6;
    case TrialState::kBlocked: return 7;
    case TrialState::kPending: return 8;
  }
  return 9;
}

// One double field per state, named as the state (json_output_test), in
// StatusJson or StageStatusJson.
void SetCounts(const std::array<uint64_t, kNumTrialStates>& counts, google::protobuf::Message* m) {
  const google::protobuf::Descriptor* d = m->GetDescriptor();
  for (int st = 0; st < kNumTrialStates; ++st) {
    m->GetReflection()->SetDouble(m,
                                  d->FindFieldByName(TrialStateName(static_cast<TrialState>(st))),
                                  static_cast<double>(counts[st]));
  }
}

void AddItemProblem(google::protobuf::ListValue* list, uint64_t key, const std::string& problem) {
  auto& f = *list->add_values()->mutable_struct_value()->mutable_fields();
  f["item"].set_string_value(ItemName(key));
  f["problem"].set_string_value(ValidUtf8(problem));
}

// output.proto's StageStatusJson: a stage's counts, its running items' logs,
// every broken and every blocked item.
StageStatusJson StageToJson(const StageScan& st, const std::string& root) {
  const SweepLayout layout = SweepLayout::ForStage(root, st.name);
  StageStatusJson j;
  j.set_stage(ValidUtf8(st.name));
  j.set_kind(StageKindName(st.kind));
  j.set_input(ValidUtf8(st.input));
  j.set_total(static_cast<double>(st.total));
  SetCounts(st.counts, &j);
  for (const ScannedItem& it : st.items) {
    const TrialState s = it.derived.state;
    if (s == TrialState::kRunning) {
      ItemLog* l = j.add_logs();
      l->set_item(ItemName(it.key));
      l->set_attempt(it.derived.latest_attempt);
      l->set_log(ValidUtf8(layout.log_path(it.key, it.derived.latest_attempt)));
    } else if (s == TrialState::kBroken) {
      AddItemProblem(j.mutable_broken_items(), it.key, it.derived.problem);
    } else if (s == TrialState::kBlocked) {
      AddItemProblem(j.mutable_blocked_items(), it.key, it.derived.problem);
    }
  }
  return j;
}

// output.proto's StatusJson: the counts, every broken trial, the running
// ones' logs, then each stage's object.
StatusJson StatusToJson(const SweepScan& scan, const SweepLayout& layout,
                        const std::vector<StageScan>& stages) {
  StatusJson j;
  j.set_total(static_cast<double>(scan.total));
  SetCounts(scan.counts, &j);
  for (const ScannedTrial& t : scan.trials) {
    if (t.derived.state == TrialState::kRunning) {
      RunningLog* l = j.add_logs();
      l->set_index(static_cast<double>(t.index));
      l->set_attempt(t.derived.latest_attempt);
      l->set_log(ValidUtf8(layout.log_path(t.index, t.derived.latest_attempt)));
    } else if (t.derived.state == TrialState::kBroken) {
      auto& f = *j.mutable_broken_trials()->add_values()->mutable_struct_value()->mutable_fields();
      f["index"].set_number_value(static_cast<double>(t.index));
      f["problem"].set_string_value(ValidUtf8(t.derived.problem));
    }
  }
  for (const StageScan& st : stages) *j.add_stages() = StageToJson(st, layout.root());
  return j;
}

// output.proto's EarlyStoppingStatusJson.
EarlyStoppingStatusJson RungsToJson(const RungScan& rs, const SweepSpec& spec) {
  EarlyStoppingStatusJson j;
  j.set_rule(ValidUtf8(DescribeEarlyStopping(spec.early_stopping())));
  for (const RungCounts& r : rs.rungs) {
    RungStatusJson* o = j.add_rungs();
    o->set_rung(r.rung);
    o->set_epochs(r.budget);
    o->set_configurations(static_cast<double>(r.configurations));
    SetCounts(r.counts, o);
  }
  j.set_epochs_used(static_cast<double>(rs.epochs_used));
  j.set_epochs_exhaustive(static_cast<double>(rs.epochs_exhaustive));
  j.set_compute_fraction(rs.compute_fraction);
  return j;
}

// "compute: 63 of 243 epochs (0.2593 of training each of the 27 configurations
// done at rung 0 to 9 epochs)".
std::string ComputeLine(const RungScan& rs) {
  const uint64_t n = rs.reached.empty() ? 0 : rs.reached[0];
  return "compute: " + std::to_string(rs.epochs_used) + " of " +
         std::to_string(rs.epochs_exhaustive) + " epochs (" +
         FormatRounded(rs.compute_fraction, 4) + " of training each of the " + std::to_string(n) +
         " configurations done at rung 0 to " + std::to_string(rs.budgets.back()) + " epochs)";
}

// "pending 3  running 1  ...": every state's count (blocked only for stages:
// a trial never is).
std::string CountLine(const std::array<uint64_t, kNumTrialStates>& counts, bool stage) {
  std::string line;
  for (int st = 0; st < kNumTrialStates; ++st) {
    if (!stage && static_cast<TrialState>(st) == TrialState::kBlocked) continue;
    line += std::string(line.empty() ? "" : "  ") + TrialStateName(static_cast<TrialState>(st)) +
            " " + std::to_string(counts[st]);
  }
  return line;
}

constexpr uint64_t kMaxOwnerBytes = 1 << 16;  // owner.json is ~300 bytes

// What a row shows of an entry (a trial, or an item with `layout` a stage's)
// beyond the scan: a done entry's attempts (the scan only stat'ed its
// result) and the latest attempt's owner.
void RowFacts(Env* env, const SweepLayout& layout, const ClaimPolicy& policy, uint64_t index,
              DerivedState* d, AttemptOwner* owner) {
  if (d->state == TrialState::kDone && d->latest_attempt == 0) {
    TrialSnapshot snap;
    // Its result is whole (the scan stat'ed it): a bad entry beside it does
    // not unmake the row's state, which the counts above already hold.
    ReadTrialSnapshot(env, layout, index, &snap).IgnoreError();
    const DerivedState full = DeriveState(snap, policy, 0);
    if (full.state == TrialState::kDone) *d = full;
  }
  std::string text;
  const std::string owner_path = layout.owner_path(index, d->latest_attempt);
  if (d->state != TrialState::kBroken && d->latest_attempt > 0 &&
      env->ReadFileAtMost(owner_path, kMaxOwnerBytes, &text).ok()) {
    Status ps = ParseRecord(text, owner_path, owner);
    if (ps.code() == Status::Code::kUnsupported)
      std::fprintf(stderr, "sweep: warning: %s\n", ps.message().c_str());
    if (!ps.ok()) owner->Clear();
  }
}

// Running entries whose Slurm job is gone (killed, node lost) before their
// lease expired: squeue is asked once, only if some running entry has a job.
class JobCheck {
 public:
  // "-", the job id, or "<id> (gone)".
  std::string Job(const AttemptOwner& owner, TrialState state) {
    std::string job = owner.slurm_job_id().empty() ? "-" : owner.slurm_job_id();
    if (state == TrialState::kRunning && !owner.slurm_job_id().empty() &&
        owner.uid() == static_cast<uint32_t>(::getuid())) {
      if (!asked_) {
        asked_ = true;
        answered_ = ListLiveJobs(&live_).ok();
      }
      if (answered_ && live_.count(owner.slurm_job_id()) == 0) {
        job += " (gone)";
        ++gone_;
      }
    }
    return job;
  }
  void PrintNote(const char* what) const {
    if (gone_ == 0) return;
    std::printf(
        "%d running %s%s to a Slurm job that no longer exists (gone): the next `trial` in a job "
        "takes %s over at once; otherwise %s stale when the lease expires.\n",
        gone_, what, gone_ == 1 ? " belongs" : "s belong", gone_ == 1 ? "it" : "them",
        gone_ == 1 ? "it turns" : "they turn");
  }

 private:
  std::set<std::string> live_;
  bool asked_ = false, answered_ = false;
  int gone_ = 0;
};

std::string HeartbeatText(const DerivedState& d) {
  return d.heartbeat_age_s >= 0 ? FormatFixed(d.heartbeat_age_s, 0) + "s ago" : "-";
}

// The columns every row of `status --limit` has, for a trial or an item:
// name, state, attempt, failures, host, job, heartbeat.
Row StateRow(const std::string& name, const DerivedState& d, const AttemptOwner& owner,
             JobCheck* jobs) {
  return {name,
          TrialStateName(d.state),
          std::to_string(d.latest_attempt),
          std::to_string(d.failures),
          owner.host(),
          jobs->Job(owner, d.state),
          HeartbeatText(d)};
}

}  // namespace

// A broken trial's reason, one per line below the table (all of them in json).
void PrintBroken(const SweepScan& scan) {
  const uint64_t n = scan.counts[static_cast<int>(TrialState::kBroken)];
  if (n == 0) return;
  std::printf(
      "\n%llu broken trial%s: claimsweep never claims, follows or reads such entries; move the "
      "named entry "
      "away (or `sweep reset` the trial) to run the point again\n",
      static_cast<unsigned long long>(n), n == 1 ? "" : "s");
  int shown = 0;
  for (const ScannedTrial& t : scan.trials) {
    if (t.derived.state != TrialState::kBroken) continue;
    if (++shown > 20) {
      std::printf("  ... %llu more (sweep status --format json lists all)\n",
                  static_cast<unsigned long long>(n - 20));
      break;
    }
    std::printf("  %s  %s\n", TrialName(t.index).c_str(), t.derived.problem.c_str());
  }
}

// One cell per parameter name: the point's value, empty where its branch
// has no such parameter.
void AppendValues(const std::vector<std::string>& names, const Point& pt, Row* row) {
  for (const auto& n : names) {
    const std::string* v = pt.Find(n);
    row->push_back(v != nullptr ? *v : "");
  }
}

namespace {

// `sweep status DIR --stage S`: the stage's counts, then one row per item
// known by name (pending ones last), with its upstream point's values.
int PrintStage(Env* env, const OpenedSweep& sw, const std::string& dir, const StageScan& st,
               int limit) {
  const SweepPoints& ps = *sw.points;
  const SweepLayout layout = SweepLayout::ForStage(dir, st.name);
  const bool upstream = st.kind != StageKind::kAfterAll;
  std::printf("stage '%s' of sweep '%s' in %s (%s of %s): %llu item%s\n%s\n",
              TerminalSafe(st.name).c_str(), TerminalSafe(sw.spec.name()).c_str(), dir.c_str(),
              StageKindName(st.kind), TerminalSafe(st.input).c_str(),
              static_cast<unsigned long long>(st.total), st.total == 1 ? "" : "s",
              CountLine(st.counts, true).c_str());
  if (st.items.empty()) return 0;
  std::vector<ScannedItem> rows = st.items;
  std::stable_sort(rows.begin(), rows.end(), [](const ScannedItem& a, const ScannedItem& b) {
    return Priority(a.derived.state) < Priority(b.derived.state);
  });
  const size_t shown = limit > 0 ? std::min(rows.size(), static_cast<size_t>(limit)) : rows.size();
  // A rung's queue (early stopping) is no spec stage: its work is the sweep's task.
  const Stage* def = FindStage(sw.spec, st.name);
  const SweepSpec task = def != nullptr ? StageTaskSpec(sw.spec, *def) : sw.spec;
  JobCheck jobs;
  Row header = {"item", "state", "attempt", "failures", "host", "job", "heartbeat"};
  if (upstream) header.push_back("trial");
  if (st.kind == StageKind::kEachCheckpoint) header.push_back("epoch");
  if (upstream) {
    for (const auto& n : ps.names()) header.push_back(n);
  }
  header.push_back("problem");
  std::vector<Row> table;
  std::string logs;
  for (size_t r = 0; r < shown; ++r) {
    ScannedItem it = rows[r];
    AttemptOwner owner;
    if (it.has_dir) RowFacts(env, layout, task.claim(), it.key, &it.derived, &owner);
    if (it.derived.state == TrialState::kRunning) {
      logs += "  " + ItemName(it.key) + "  " + layout.log_path(it.key, it.derived.latest_attempt) +
              "\n";
    }
    Row row = StateRow(ItemName(it.key), it.derived, owner, &jobs);
    if (upstream) row.push_back(std::to_string(ItemUpstream(it.key)));
    if (st.kind == StageKind::kEachCheckpoint) row.push_back(std::to_string(ItemSub(it.key)));
    if (upstream) AppendValues(ps.names(), ps.At(ItemUpstream(it.key)), &row);
    row.push_back(it.derived.problem);
    table.push_back(std::move(row));
  }
  std::printf("\n%s", RenderTable(header, table).c_str());
  if (!logs.empty()) std::printf("\nlogs of running items:\n%s", logs.c_str());
  jobs.PrintNote("item");
  if (shown < rows.size()) {
    std::printf("... %zu more (sweep status --stage %s --limit 0 shows all)\n", rows.size() - shown,
                TerminalSafe(st.name).c_str());
  }
  return 0;
}

}  // namespace

int CmdStatus(const std::string& dir, const std::string& format, int limit,
              const std::string& stage) {
  OpenedSweep sw;
  if (!OpenSweep(dir, &sw)) return kExitUsage;
  Env* env = sw.env.get();
  const SweepSpec* spec = &sw.spec;
  const SweepPoints* ps = &*sw.points;
  // Early stopping: `--stage rung-<k>` is rung k's queue (k >= 1).
  const bool early_stopping = HasRungs(*spec);
  const size_t num_rungs =
      early_stopping ? AshaRungBudgets(spec->early_stopping().asha()).size() : 0;
  uint32_t rung_k = 0;
  const bool rung_stage =
      early_stopping && ParseRungStageName(stage, &rung_k) && rung_k < num_rungs;
  if (!stage.empty() && FindStage(*spec, stage) == nullptr && !rung_stage) {
    std::string rung_names;
    for (uint32_t k = 1; k < num_rungs; ++k)
      rung_names += (rung_names.empty() ? "; rungs: " : ", ") + RungStageName(k);
    return UsageError("--stage " + stage + ": the sweep has no such stage (stages: " +
                      StageNamesText(*spec) + rung_names + ")");
  }
  SweepLayout layout(dir);
  SweepScan scan;
  Status s = ScanSweep(env, layout, *spec, ps->size(), &scan);
  if (!s.ok()) return Failure(s.ToString());
  std::vector<StageScan> stages;
  if (spec->stage_size() > 0) {
    bool from_fs = false;
    const int64_t now_ns = ScanClock(env, layout, &from_fs);
    s = ScanStages(env, dir, *spec, scan, ps->size(), ps->version(), now_ns, &stages);
    if (!s.ok()) return Failure(s.ToString());
  }
  RungScan rungs;
  if (early_stopping) {
    bool from_fs = false;
    const int64_t now_ns = ScanClock(env, layout, &from_fs);
    std::vector<std::pair<uint64_t, TrialState>> claimed;
    for (const ScannedTrial& t : scan.trials) claimed.push_back({t.index, t.derived.state});
    s = ScanRungs(env, dir, *spec, claimed, ps->size(), now_ns, &rungs);
    if (!s.ok()) return Failure(s.ToString());
  }
  const StageScan* one = nullptr;
  for (const StageScan& st : stages) {
    if (st.name == stage) one = &st;
  }
  StageScan rung_scan;  // --stage rung-<k>: its items, as an each_trial stage's
  if (rung_stage) {
    bool from_fs = false;
    const int64_t now_ns = ScanClock(env, layout, &from_fs);
    std::vector<RungEntry> entries;
    s = ScanRungEntries(env, dir, *spec, rung_k, ps->size(), now_ns, &entries);
    if (!s.ok()) return Failure(s.ToString());
    rung_scan.name = stage;
    rung_scan.kind = StageKind::kEachTrial;
    rung_scan.input = rung_k == 1 ? "trials" : RungStageName(rung_k - 1);
    for (const RungEntry& e : entries) {
      ScannedItem it;
      it.key = RungKey(rung_k, e.config);
      it.derived = e.scanned.derived;
      it.has_dir = e.has_dir;
      ++rung_scan.counts[static_cast<int>(it.derived.state)];
      rung_scan.items.push_back(std::move(it));
    }
    rung_scan.total = rung_scan.items.size();
    one = &rung_scan;
  }

  if (format == "json") {
    std::string out;
    if (one != nullptr) {
      AppendJson(StageToJson(*one, dir), &out);
    } else {
      StatusJson j = StatusToJson(scan, layout, stages);
      if (early_stopping) *j.mutable_early_stopping() = RungsToJson(rungs, *spec);
      AppendJson(j, &out);
    }
    std::printf("%s\n", out.c_str());
    return 0;
  }
  if (one != nullptr) return PrintStage(env, sw, dir, *one, limit);

  std::string versions;
  if (ps->version() > 1) {
    versions = " (spec version " + std::to_string(ps->version()) + ", extended from " +
               std::to_string(ps->base_space().size()) + " points by `sweep extend`)";
  }
  std::printf("sweep '%s' in %s: %llu points%s\n", TerminalSafe(spec->name()).c_str(), dir.c_str(),
              static_cast<unsigned long long>(scan.total), versions.c_str());
  std::printf("%s\n", CountLine(scan.counts, false).c_str());
  for (const StageScan& st : stages) {
    std::printf("stage %s (%s of %s): %llu item%s  %s\n", TerminalSafe(st.name).c_str(),
                StageKindName(st.kind), TerminalSafe(st.input).c_str(),
                static_cast<unsigned long long>(st.total), st.total == 1 ? "" : "s",
                CountLine(st.counts, true).c_str());
    if (st.counts[static_cast<int>(TrialState::kBlocked)] +
            st.counts[static_cast<int>(TrialState::kBroken)] >
        0)
      std::printf("  (`sweep status --stage %s` says why items are blocked or broken)\n",
                  TerminalSafe(st.name).c_str());
  }
  if (early_stopping) {
    // Configurations per rung: a trial is rung 0; rung k >= 1 is its queue.
    std::printf("early stopping: %s\n",
                TerminalSafe(DescribeEarlyStopping(spec->early_stopping())).c_str());
    bool attention = false;  // above rung 0: its rows and logs are not the trials' below
    for (const RungCounts& r : rungs.rungs) {
      std::printf("  %s\n", RungLine(r).c_str());
      const uint64_t notable = r.count(TrialState::kRunning) + r.count(TrialState::kFailed) +
                               r.count(TrialState::kBroken) + r.count(TrialState::kStale);
      attention |= r.rung > 0 && notable > 0;
    }
    std::printf("  %s\n", ComputeLine(rungs).c_str());
    if (attention)
      std::printf(
          "  (`sweep status --stage rung-<k>` lists rung k's configurations, the running "
          "ones' logs)\n");
  }
  if (!scan.clock_from_filesystem) {
    std::printf("(lease ages use this machine's clock: %s is not writable)\n",
                layout.tmp_dir().c_str());
  }
  if (scan.trials.empty()) return 0;

  std::vector<ScannedTrial> rows = scan.trials;
  std::stable_sort(rows.begin(), rows.end(), [](const ScannedTrial& a, const ScannedTrial& b) {
    return Priority(a.derived.state) < Priority(b.derived.state);
  });
  size_t shown = limit > 0 ? std::min(rows.size(), static_cast<size_t>(limit)) : rows.size();
  JobCheck jobs;
  Row header = {"index", "state", "attempt", "failures", "host", "job", "heartbeat"};
  for (const auto& n : ps->names()) header.push_back(n);
  std::vector<Row> table;
  std::string logs;
  for (size_t r = 0; r < shown; ++r) {
    ScannedTrial t = rows[r];
    if (t.derived.state == TrialState::kRunning) {
      logs += "  " + TrialName(t.index) + "  " +
              layout.log_path(t.index, t.derived.latest_attempt) + "\n";
    }
    AttemptOwner owner;
    RowFacts(env, layout, spec->claim(), t.index, &t.derived, &owner);
    Row row = StateRow(TrialName(t.index), t.derived, owner, &jobs);
    AppendValues(ps->names(), ps->At(t.index), &row);
    table.push_back(row);
  }
  std::printf("\n%s", RenderTable(header, table).c_str());
  if (!logs.empty())
    std::printf("\nlogs of running trials (sweep log IDX --follow):\n%s", logs.c_str());
  jobs.PrintNote("trial");
  if (shown < rows.size()) {
    std::printf("... %zu more (sweep status --limit 0 shows all)\n", rows.size() - shown);
  }
  PrintBroken(scan);
  return 0;
}

int CmdPoints(const std::string& dir, const std::string& format) {
  std::unique_ptr<Env> env = NewSweepEnv(dir);
  auto ps = ReadSweepPoints(env.get(), dir);
  if (!ps.ok()) return UsageError(ps.status().message());
  if (format == "json") {
    // One message per point: a sweep of 2^32 points never is one message.
    JsonArrayWriter out(stdout);
    OrderedStruct point;
    for (uint64_t i = 0; i < ps->size(); ++i) {
      point.Clear();
      AddNumber(&point, "index", static_cast<double>(i));
      for (const auto& [k, v] : ps->At(i).values) AddString(&point, k, v);
      out.Add(point);
    }
    out.Finish();
    return 0;
  }
  Row header = {"index"};
  for (const auto& n : ps->names()) header.push_back(n);
  std::vector<Row> rows;
  for (uint64_t i = 0; i < ps->size(); ++i) {
    Row r = {std::to_string(i)};
    AppendValues(ps->names(), ps->At(i), &r);
    rows.push_back(std::move(r));
  }
  std::fputs((format == "csv" ? RenderCsv(header, rows) : RenderTable(header, rows)).c_str(),
             stdout);
  return 0;
}

}  // namespace claimsweep
