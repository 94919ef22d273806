// `sweep status DIR` and `sweep points DIR`.
#include <unistd.h>

#include <algorithm>
#include <set>
#include <cstdio>

#include "core/json.h"
#include "core/slurm.h"
#include "core/points.h"
#include "core/spec.h"
#include "core/sweep_scan.h"
#include "records.pb.h"
#include "sweep/commands.h"
#include "sweep/table.h"

namespace claimsweep {
namespace {

// Display order: what needs attention first.
int Priority(TrialState s) {
  switch (s) {
    case TrialState::kRunning: return 0;
    case TrialState::kStale: return 1;
    case TrialState::kInterrupted: return 2;
    case TrialState::kFailed: return 3;
    case TrialState::kStopped: return 4;
    case TrialState::kDone: return 5;
    case TrialState::kPending: return 6;
  }
  return 7;
}

std::string Seconds(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%.0fs", s);
  return b;
}

}  // namespace

int CmdStatus(const std::string& dir, const std::string& format, int limit) {
  Env* env = Env::Default();
  auto spec = ReadFrozenSpec(env, dir);
  if (!spec.ok()) return UsageError(spec.status().message());
  auto ps = PointSpace::Create(*spec);
  if (!ps.ok()) return UsageError(ps.status().message());
  SweepLayout layout(dir);
  SweepScan scan;
  Status s = ScanSweep(env, layout, spec->claim(), ps->size(), &scan);
  if (!s.ok()) return Failure(s.ToString());

  if (format == "json") {
    std::string o = "{\"total\":" + std::to_string(scan.total);
    for (int st = 0; st < kNumTrialStates; ++st) {
      o += ",\"" + std::string(TrialStateName(static_cast<TrialState>(st))) + "\":" + std::to_string(scan.counts[st]);
    }
    // Where each running trial's output goes (`sweep log IDX --follow` prints it).
    o += ",\"logs\":[";
    bool first = true;
    for (const ScannedTrial& t : scan.trials) {
      if (t.derived.state != TrialState::kRunning) continue;
      o += std::string(first ? "" : ",") + "{\"index\":" + std::to_string(t.index) +
           ",\"attempt\":" + std::to_string(t.derived.latest_attempt) +
           ",\"log\":" + JsonString(layout.log_path(t.index, t.derived.latest_attempt)) + "}";
      first = false;
    }
    std::printf("%s]}\n", o.c_str());
    return 0;
  }

  std::printf("sweep '%s' in %s: %llu points\n", spec->name().c_str(), dir.c_str(),
              static_cast<unsigned long long>(scan.total));
  std::string line;
  for (int st = 0; st < kNumTrialStates; ++st) {
    line += std::string(line.empty() ? "" : "  ") + TrialStateName(static_cast<TrialState>(st)) + " " +
            std::to_string(scan.counts[st]);
  }
  std::printf("%s\n", line.c_str());
  if (!scan.clock_from_filesystem) {
    std::printf("(lease ages use this machine's clock: %s is not writable)\n", layout.tmp_dir().c_str());
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
      logs += "  " + TrialName(t.index) + "  " + layout.log_path(t.index, t.derived.latest_attempt) + "\n";
    }
    if (t.derived.state == TrialState::kDone && t.derived.latest_attempt == 0) {
      // The scan knew only that result.json exists; the row shows the attempts.
      TrialSnapshot snap;
      if (ReadTrialSnapshot(env, layout, t.index, &snap).ok()) t.derived = DeriveState(snap, spec->claim(), 0);
    }
    AttemptOwner owner;
    std::string text;
    const std::string owner_path = layout.owner_path(t.index, t.derived.latest_attempt);
    if (t.derived.latest_attempt > 0 && env->ReadFile(owner_path, &text).ok()) {
      Status ps = ParseRecord(text, owner_path, &owner);
      if (ps.code() == Status::Code::kUnsupported) std::fprintf(stderr, "sweep: warning: %s\n", ps.message().c_str());
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
    for (const auto& [k, v] : ps->At(t.index).values) row.push_back(v);
    table.push_back(row);
  }
  std::printf("\n%s", RenderTable(header, table).c_str());
  if (!logs.empty()) std::printf("\nlogs of running trials (sweep log IDX --follow):\n%s", logs.c_str());
  if (gone > 0) {
    std::printf("%d running trial%s to a Slurm job that no longer exists (gone): the next `trial` in a job takes %s "
                "over at once; otherwise %s stale when the lease expires.\n",
                gone, gone == 1 ? " belongs" : "s belong", gone == 1 ? "it" : "them", gone == 1 ? "it turns" : "they turn");
  }
  if (shown < rows.size()) {
    std::printf("... %zu more (sweep status --limit 0 shows all)\n", rows.size() - shown);
  }
  return 0;
}

int CmdPoints(const std::string& dir, const std::string& format) {
  auto spec = ReadFrozenSpec(Env::Default(), dir);
  if (!spec.ok()) return UsageError(spec.status().message());
  auto ps = PointSpace::Create(*spec);
  if (!ps.ok()) return UsageError(ps.status().message());
  if (format == "json") {
    std::string out = "[\n";
    for (uint64_t i = 0; i < ps->size(); ++i) {
      Point p = ps->At(i);
      out += "  {\"index\":" + std::to_string(i);
      for (const auto& [k, v] : p.values) out += "," + JsonString(k) + ":" + JsonString(v);
      out += i + 1 < ps->size() ? "},\n" : "}\n";
      if (out.size() > (1 << 20)) {
        std::fputs(out.c_str(), stdout);
        out.clear();
      }
    }
    std::fputs((out + "]\n").c_str(), stdout);
    return 0;
  }
  Row header = {"index"};
  for (const auto& n : ps->names()) header.push_back(n);
  std::vector<Row> rows;
  for (uint64_t i = 0; i < ps->size(); ++i) {
    Row r = {std::to_string(i)};
    for (const auto& [k, v] : ps->At(i).values) r.push_back(v);
    rows.push_back(std::move(r));
  }
  std::fputs((format == "csv" ? RenderCsv(header, rows) : RenderTable(header, rows)).c_str(), stdout);
  return 0;
}

}  // namespace claimsweep
