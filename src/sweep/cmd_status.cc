// `sweep status DIR` and `sweep points DIR`.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "core/json.h"
#include "core/number_format.h"
#include "core/slurm.h"
#include "core/spec.h"
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

std::string Seconds(double s) { return FormatFixed(s, 0) + "s"; }

// output.proto's StatusJson: the counts, every broken trial, the running ones' logs.
StatusJson StatusToJson(const SweepScan& scan, const SweepLayout& layout) {
  StatusJson j;
  j.set_total(static_cast<double>(scan.total));
  const google::protobuf::Descriptor* d = j.GetDescriptor();
  for (int st = 0; st < kNumTrialStates;
       ++st) {  // a field per state, named as the state (json_output_test)
    j.GetReflection()->SetDouble(&j,
                                 d->FindFieldByName(TrialStateName(static_cast<TrialState>(st))),
                                 static_cast<double>(scan.counts[st]));
  }
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
  return j;
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

constexpr uint64_t kMaxOwnerBytes = 1 << 16;  // owner.json is ~300 bytes

int CmdStatus(const std::string& dir, const std::string& format, int limit) {
  OpenedSweep sw;
  if (!OpenSweep(dir, &sw)) return kExitUsage;
  Env* env = sw.env.get();
  const SweepSpec* spec = &sw.spec;
  const SweepPoints* ps = &*sw.points;
  SweepLayout layout(dir);
  SweepScan scan;
  Status s = ScanSweep(env, layout, *spec, ps->size(), &scan);
  if (!s.ok()) return Failure(s.ToString());

  if (format == "json") {
    std::string out;
    AppendJson(StatusToJson(scan, layout), &out);
    std::printf("%s\n", out.c_str());
    return 0;
  }

  std::string versions;
  if (ps->version() > 1) {
    versions = " (spec version " + std::to_string(ps->version()) + ", extended from " +
               std::to_string(ps->base_space().size()) + " points by `sweep extend`)";
  }
  std::printf("sweep '%s' in %s: %llu points%s\n", TerminalSafe(spec->name()).c_str(),
              dir.c_str(), static_cast<unsigned long long>(scan.total), versions.c_str());
  std::string line;
  for (int st = 0; st < kNumTrialStates; ++st) {
    line += std::string(line.empty() ? "" : "  ") + TrialStateName(static_cast<TrialState>(st)) +
            " " + std::to_string(scan.counts[st]);
  }
  std::printf("%s\n", line.c_str());
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
  // Running trials whose Slurm job is gone (killed, node lost) before their
  // lease expired: asked of squeue once, only if some running trial has a job.
  std::set<std::string> live_jobs;
  bool asked_slurm = false, slurm_answered = false;
  int gone = 0;
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
    if (t.derived.state == TrialState::kDone && t.derived.latest_attempt == 0) {
      // The scan knew only that result.json exists; the row shows the attempts.
      TrialSnapshot snap;
      // Its result is whole (the scan stat'ed it): a bad entry beside it does
      // not unmake the row's state, which the counts above already hold.
      ReadTrialSnapshot(env, layout, t.index, &snap).IgnoreError();
      const DerivedState d = DeriveState(snap, spec->claim(), 0);
      if (d.state == TrialState::kDone) t.derived = d;
    }
    AttemptOwner owner;
    std::string text;
    const std::string owner_path = layout.owner_path(t.index, t.derived.latest_attempt);
    if (t.derived.state != TrialState::kBroken && t.derived.latest_attempt > 0 &&
        env->ReadFileAtMost(owner_path, kMaxOwnerBytes, &text).ok()) {
      Status ps = ParseRecord(text, owner_path, &owner);
      if (ps.code() == Status::Code::kUnsupported)
        std::fprintf(stderr, "sweep: warning: %s\n", ps.message().c_str());
      if (!ps.ok()) owner.Clear();
    }
    std::string job = owner.slurm_job_id().empty() ? "-" : owner.slurm_job_id();
    if (t.derived.state == TrialState::kRunning && !owner.slurm_job_id().empty() &&
        owner.uid() == static_cast<uint32_t>(::getuid())) {
      if (!asked_slurm) {
        asked_slurm = true;
        slurm_answered = ListLiveJobs(&live_jobs).ok();
      }
      if (slurm_answered && live_jobs.count(owner.slurm_job_id()) == 0) {
        job += " (gone)";
        ++gone;
      }
    }
    Row row = {TrialName(t.index),
               TrialStateName(t.derived.state),
               std::to_string(t.derived.latest_attempt),
               std::to_string(t.derived.failures),
               owner.host(),
               job,
               t.derived.heartbeat_age_s >= 0 ? Seconds(t.derived.heartbeat_age_s) + " ago" : "-"};
    AppendValues(ps->names(), ps->At(t.index), &row);
    table.push_back(row);
  }
  std::printf("\n%s", RenderTable(header, table).c_str());
  if (!logs.empty())
    std::printf("\nlogs of running trials (sweep log IDX --follow):\n%s", logs.c_str());
  if (gone > 0) {
    std::printf(
        "%d running trial%s to a Slurm job that no longer exists (gone): the next `trial` in a job "
        "takes %s "
        "over at once; otherwise %s stale when the lease expires.\n",
        gone, gone == 1 ? " belongs" : "s belong", gone == 1 ? "it" : "them",
        gone == 1 ? "it turns" : "they turn");
  }
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
