// `sweep stop|reset|retry|resume [DIR] IDX...`: control single trials
// (src/core/control.h). Exit 1 when any named trial was refused.
#include <cstdio>
#include <set>

#include "core/asha_spec.h"
#include "core/control.h"
#include "core/derived.h"
#include "core/publish.h"
#include "core/rungs.h"
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

using Op = ControlOp;

// Why `sweep reset` of `index` in queue `from` (null: the sweep's trials)
// must not run: a downstream stage's item exists or is announced for it,
// whose input would vanish ("" when none). Resetting downstream first is
// the fix, except below an after_all stage that ran (its gate's markers say
// the input is complete).
std::string DownstreamOf(Env* env, const std::string& dir, const StageGraph& graph,
                         const StageInfo* from, uint64_t index) {
  const std::string from_name = from ? from->name : kTrialsStageName;
  const uint64_t point = from ? ItemUpstream(index) : index;
  for (const StageInfo& d : graph.stages()) {
    if (d.input != from_name) continue;
    const SweepLayout q = SweepLayout::ForStage(dir, d.name);
    std::vector<std::string> names;
    env->ListDir(q.trials_dir(), &names).IgnoreError();
    std::vector<LeaseEntry> entries;
    ListLeaseEntries(env, q, &entries).IgnoreError();
    for (const LeaseEntry& e : entries) names.push_back(q.entry_name(e.index));
    for (const std::string& n : names) {
      uint64_t key = 0;
      if (!q.ParseEntryName(n, &key)) continue;
      if (d.kind == StageKind::kAfterAll) {
        return "stage " + d.name + " has run (or is ready to run) over it (" + d.name + " " + n +
               "): resetting an input of an after_all stage that ran is not supported; not reset";
      }
      if (ItemUpstream(key) == point && !from) {
        return "it is the input of " + d.name + " " + n + ": reset that first (sweep reset " + dir +
               " --stage " + d.name + " " + std::to_string(point) + "), then this; not reset";
      }
    }
  }
  return "";
}

}  // namespace

ControlOutcome RunControl(ControlOp op, const std::string& dir,
                          const std::vector<std::string>& args, bool failed, bool stopped,
                          bool force, const std::string& stage) {
  ControlOutcome o;
  o.rc = RunControlInto(op, dir, args, failed, stopped, force, stage, &o);
  return o;
}

namespace {

int Run(ControlOp op, const std::string& dir, const std::vector<std::string>& args, bool failed,
        bool stopped, bool force, const std::string& stage) {
  const ControlOutcome o = RunControl(op, dir, args, failed, stopped, force, stage);
  std::fputs(o.out.c_str(), stdout);
  std::fflush(stdout);
  if (!o.error.empty()) std::fprintf(stderr, "sweep: %s\n", o.error.c_str());
  return o.rc;
}

}  // namespace

int RunControlInto(ControlOp op, const std::string& dir, const std::vector<std::string>& args,
                   bool failed, bool stopped, bool force, const std::string& stage,
                   ControlOutcome* o) {
  auto usage = [&](const std::string& m) {
    o->error = m;
    return kExitUsage;
  };
  OpenedSweep sw;
  if (!OpenSweep(dir, &sw)) return kExitUsage;  // OpenSweep printed why
  Env* env = sw.env.get();
  const SweepSpec* spec = &sw.spec;
  const SweepPoints* ps = &*sw.points;
  const StageGraph graph(*spec);
  const StageInfo* st = nullptr;
  // Early stopping: a promoted configuration's work at rung k is the item
  // (i, 0) of the queue rung-<k>, as an each_trial stage's.
  StageInfo rung;
  uint32_t k = 0;
  const size_t rungs =
      spec->early_stopping().has_asha() ? AshaRungBudgets(spec->early_stopping().asha()).size() : 0;
  if (op == Op::kReset && rungs > 0) {
    return usage(
        "reset is not supported in a sweep with early stopping: each rung's published results "
        "(" +
        dir +
        "/rungs) have decided promotions already, and a rerun would not undo them; "
        "use retry for a failed trial, or start a new sweep");
  }
  if (ParseRungStageName(stage, &k) && k < rungs) {
    rung.name = stage;
    rung.kind = StageKind::kEachTrial;
    rung.input = k == 1 ? kTrialsStageName : RungStageName(k - 1);
    st = &rung;
  } else if (!stage.empty() && stage != kTrialsStageName) {
    st = graph.Find(stage);
    if (!st) {
      std::string names = kTrialsStageName;
      for (const StageInfo& g : graph.stages()) names += ", " + g.name;
      for (uint32_t r = 1; r < rungs; ++r) names += ", " + RungStageName(r);
      return usage("--stage " + stage + ": the sweep has no such stage (its stages: " + names +
                   ")");
    }
  }
  SweepLayout layout = st ? SweepLayout::ForStage(dir, st->name) : SweepLayout(dir);
  std::set<uint64_t> indices;
  Status s = ParseIndices(args, ps->size(), &indices);
  if (!s.ok()) return usage(s.message());
  if (st) {
    // IDX names upstream points; their items are this stage's (each_trial:
    // (i, 0); each_checkpoint: every item of i that exists). An after_all
    // stage has one item per spec version: all of them, IDX or not.
    std::set<uint64_t> keys;
    std::vector<std::string> names;
    env->ListDir(layout.trials_dir(), &names).IgnoreError();
    for (const std::string& n : names) {
      uint64_t key = 0;
      if (!layout.ParseEntryName(n, &key)) continue;
      if (st->kind == StageKind::kAfterAll || failed || stopped ||
          (st->kind == StageKind::kEachCheckpoint && indices.count(ItemUpstream(key))))
        keys.insert(key);
    }
    if (st->kind == StageKind::kEachTrial) {
      for (uint64_t i : indices) keys.insert(StageItemKey(i));
    }
    if (st->kind == StageKind::kAfterAll && keys.empty()) keys.insert(FunnelKey(ps->version()));
    TrialControl control(env, layout, spec->claim(), ProcessToken());
    int rc = 0;
    size_t acted = 0;
    for (uint64_t key : keys) {
      DerivedState d;
      if ((failed || stopped) && control.State(key, &d).ok() &&
          !((failed && d.state == TrialState::kFailed) ||
            (stopped && d.state == TrialState::kStopped)))
        continue;
      const std::string name = st->name + " " + layout.entry_name(key);
      ControlReport r;
      const std::string blocker =
          op == Op::kReset ? DownstreamOf(env, dir, graph, st, key) : std::string();
      if (!blocker.empty()) {
        r.refused = true;
        r.what = blocker;
        s = Status::OK();
      } else {
        switch (op) {
          case Op::kStop: s = control.Stop(key, &r); break;
          case Op::kReset: s = control.Reset(key, force, &r); break;
          case Op::kRetry: s = control.Retry(key, &r); break;
          case Op::kResume: s = control.Resume(key, &r); break;
        }
      }
      ++acted;
      if (!s.ok()) {
        o->out += name + ": error: " + s.ToString() + "\n";
        rc = 1;
        continue;
      }
      if (r.refused) rc = 1;
      o->out += name + ": " + r.what + "\n";
    }
    if (acted == 0) {
      if (!failed && !stopped) return usage("name the points whose items to act on: IDX...");
      o->out += std::string("no ") + (failed ? "failed" : "stopped") + " items of stage " +
                st->name + ": nothing to do\n";
    }
    return rc;
  }
  if (failed || stopped) {
    SweepScan scan;
    s = ScanSweep(env, layout, *spec, ps->size(), &scan);
    if (!s.ok()) return o->error = s.ToString(), 1;
    for (const ScannedTrial& t : scan.trials) {
      if ((failed && t.derived.state == TrialState::kFailed) ||
          (stopped && t.derived.state == TrialState::kStopped)) {
        indices.insert(t.index);
      }
    }
    if (indices.empty()) {
      o->out += std::string("no ") +
                (failed && stopped ? "failed or stopped"
                 : failed          ? "failed"
                                   : "stopped") +
                " trials in " + dir + ": nothing to do\n";
      return 0;
    }
  }
  if (indices.empty()) {
    return usage(std::string("name the trials: IDX... (e.g. 3 or 3-7)") +
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
      case Op::kReset: {
        const std::string blocker = DownstreamOf(env, dir, graph, nullptr, i);
        if (!blocker.empty()) {
          r.refused = true;
          r.what = blocker;
          s = Status::OK();
        } else {
          s = control.Reset(i, force, &r);
        }
        break;
      }
      case Op::kRetry: s = control.Retry(i, &r); break;
      case Op::kResume: s = control.Resume(i, &r); break;
    }
    if (!s.ok()) {
      o->out += TrialName(i) + ": error: " + s.ToString() + "\n";
      rc = 1;
      continue;
    }
    if (r.refused) rc = 1;
    o->out += TrialName(i) + ": " + r.what + "\n";
  }
  return rc;
}

int CmdStop(const std::string& dir, const std::vector<std::string>& indices,
            const std::string& stage) {
  return Run(Op::kStop, dir, indices, false, false, false, stage);
}

int CmdReset(const std::string& dir, const std::vector<std::string>& indices, bool failed,
             bool stopped, bool force, const std::string& stage) {
  return Run(Op::kReset, dir, indices, failed, stopped, force, stage);
}

int CmdRetry(const std::string& dir, const std::vector<std::string>& indices, bool failed,
             const std::string& stage) {
  return Run(Op::kRetry, dir, indices, failed, false, false, stage);
}

int CmdResume(const std::string& dir, const std::vector<std::string>& indices, bool stopped,
              const std::string& stage) {
  return Run(Op::kResume, dir, indices, false, stopped, false, stage);
}

}  // namespace claimsweep
