// `sweep stop|reset|retry|resume [DIR] IDX...`: control single trials
// (src/core/control.h). Exit 1 when any named trial was refused.
#include <cstdio>
#include <set>

#include "core/control.h"
#include "core/spec.h"
#include "core/sweep_points.h"
#include "core/sweep_scan.h"
#include "core/token.h"
#include "sweep/commands.h"

namespace claimsweep {

bool ParseIndex(const std::string& s, uint64_t* v) {
  if (s.empty() || s.size() > 18) return false;
  uint64_t x = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    x = x * 10 + static_cast<uint64_t>(c - '0');
  }
  *v = x;
  return true;
}

namespace {

// "7" or "3-9" (inclusive). Out of range is an error for the whole command:
// nothing is done unless every index is valid.
Status ParseIndices(const std::vector<std::string>& args, uint64_t points,
                    std::set<uint64_t>* out) {
  const std::string range = points == 0 ? "the sweep has no points"
                                        : "the sweep has " + std::to_string(points) +
                                              " points (0-" + std::to_string(points - 1) + ")";
  for (const std::string& a : args) {
    uint64_t lo = 0, hi = 0;
    const size_t dash = a.find('-');
    const bool ok = dash == std::string::npos ? ParseIndex(a, &lo) && (hi = lo, true)
                                              : ParseIndex(a.substr(0, dash), &lo) &&
                                                    ParseIndex(a.substr(dash + 1), &hi) && lo <= hi;
    if (!ok)
      return Status::InvalidArgument("'" + a + "' is not an index (N) or a range of indices (N-M)");
    if (hi >= points) {
      return Status::InvalidArgument("index " + std::to_string(hi) + " is out of range: " + range +
                                     "; nothing was changed");
    }
    for (uint64_t i = lo; i <= hi; ++i) out->insert(i);
  }
  return Status::OK();
}

enum class Op { kStop, kReset, kRetry, kResume };

int Run(Op op, const std::string& dir, const std::vector<std::string>& args, bool failed,
        bool stopped, bool force) {
  OpenedSweep sw;
  if (!OpenSweep(dir, &sw)) return kExitUsage;
  Env* env = sw.env.get();
  const SweepSpec* spec = &sw.spec;
  const SweepPoints* ps = &*sw.points;
  SweepLayout layout(dir);
  std::set<uint64_t> indices;
  Status s = ParseIndices(args, ps->size(), &indices);
  if (!s.ok()) return UsageError(s.message());
  if (failed || stopped) {
    SweepScan scan;
    s = ScanSweep(env, layout, *spec, ps->size(), &scan);
    if (!s.ok()) return Failure(s.ToString());
    for (const ScannedTrial& t : scan.trials) {
      if ((failed && t.derived.state == TrialState::kFailed) ||
          (stopped && t.derived.state == TrialState::kStopped)) {
        indices.insert(t.index);
      }
    }
    if (indices.empty()) {
      std::printf("no %s trials in %s: nothing to do\n",
                  failed && stopped ? "failed or stopped"
                  : failed          ? "failed"
                                    : "stopped",
                  dir.c_str());
      return 0;
    }
  }
  if (indices.empty()) {
    return UsageError(std::string("name the trials: IDX... (e.g. 3 or 3-7)") +
                      (op == Op::kStop    ? ""
                       : op == Op::kReset ? ", --failed or --stopped"
                       : op == Op::kRetry ? " or --failed"
                                          : " or --stopped"));
  }
  TrialControl control(env, layout, spec->claim(), ProcessToken());
  int rc = 0;
  for (uint64_t i : indices) {
    ControlReport r;
    switch (op) {
      case Op::kStop: s = control.Stop(i, &r); break;
      case Op::kReset: s = control.Reset(i, force, &r); break;
      case Op::kRetry: s = control.Retry(i, &r); break;
      case Op::kResume: s = control.Resume(i, &r); break;
    }
    if (!s.ok()) {
      std::printf("%s: error: %s\n", TrialName(i).c_str(), s.ToString().c_str());
      rc = 1;
      continue;
    }
    if (r.refused) rc = 1;
    std::printf("%s: %s\n", TrialName(i).c_str(), r.what.c_str());
  }
  std::fflush(stdout);
  return rc;
}

}  // namespace

int CmdStop(const std::string& dir, const std::vector<std::string>& indices) {
  return Run(Op::kStop, dir, indices, false, false, false);
}

int CmdReset(const std::string& dir, const std::vector<std::string>& indices, bool failed,
             bool stopped, bool force) {
  return Run(Op::kReset, dir, indices, failed, stopped, force);
}

int CmdRetry(const std::string& dir, const std::vector<std::string>& indices, bool failed) {
  return Run(Op::kRetry, dir, indices, failed, false, false);
}

int CmdResume(const std::string& dir, const std::vector<std::string>& indices, bool stopped) {
  return Run(Op::kResume, dir, indices, false, stopped, false);
}

}  // namespace claimsweep
