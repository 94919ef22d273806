// A power cut at every filesystem operation of claim, commit, release, fail
// and `sweep stop|reset|retry|resume`: the dying process's data that was
// never fsync'ed is lost (FaultEnv::DropUnsyncedDataAtCrash). What users care
// about must hold all the same: the loader reads the sweep without a problem
// right after the cut, and once the control command is run again and a
// claimer finishes the sweep, every point is done exactly once with its own
// whole result (or stays stopped when it was stopped).
#include <gtest/gtest.h>

#include <map>

#include "claim_util.h"
#include "core/claim.h"
#include "core/control.h"
#include "core/json.h"
#include "core/results.h"
#include "core/sweep_scan.h"
#include "fault_env.h"
#include "records.pb.h"
#include "test_util.h"

namespace claimsweep {
namespace {

constexpr uint64_t kPoints = 5;

struct Fixture : testing::InitedSweep {
  Fixture()
      : InitedSweep(R"(grid { param { name: "x" range { start: 0 stop: 5 step: 1 } } }
                       command { argv: "true" }
                       claim { lease_seconds: 30 heartbeat_seconds: 1 max_attempts: 2 })") {}

  Claimer Make(Env* env, const std::string& token) {
    return Claimer(env, layout, spec.claim(), kPoints, token);
  }
  TrialControl Control(Env* env, const std::string& token) {
    TrialControl c(env, layout, spec.claim(), token);
    c.set_archive_stamp("T");
    return c;
  }
};

// The record a trial writes: its loss is a function of the point, so a
// result read back with another value is someone else's or damaged.
double Loss(uint64_t index) { return 0.25 + static_cast<double>(index); }
std::string Record(const Claim& c, const std::string& outcome) {
  TrialResult r;
  r.set_format_version(kJsonRecordVersion);
  r.set_index(static_cast<uint32_t>(c.index));
  r.set_attempt(c.attempt);
  r.set_outcome(outcome);
  r.set_duration_seconds(1.5);
  r.set_total_seconds(1.5);
  r.set_message(outcome == "done" ? "" : "it " + outcome);
  (*r.mutable_metrics()->mutable_fields())["loss"].set_number_value(Loss(c.index));
  return ToJson(r);
}

enum Mode { kCommit, kRelease, kFail, kFatal, kStopPending, kStopRunning, kReset, kRetry, kResume };
const char* ModeName(int m) {
  static const char* names[] = {"commit",       "release", "fail",  "fatal", "stop pending",
                                "stop running", "reset",   "retry", "resume"};
  return names[m];
}

// What the dying process does, all through `env`: its setup too, so that
// what the setup wrote without fsync is lost as well. Returns the indices it
// committed (Commit returned OK).
std::map<uint64_t, int> DyingRun(Fixture& f, Env* env, int mode) {
  std::map<uint64_t, int> commits;
  Claimer a = f.Make(env, "a");
  TrialControl ctl = f.Control(env, "dying");
  ControlReport r;
  Claim c;
  bool final = false;
  switch (mode) {
    case kCommit:
    case kRelease:
    case kFail:
    case kFatal:
      if (!a.ClaimNext(&c).ok()) return commits;
      if (mode == kCommit && a.Commit(c, Record(c, "done")).ok()) commits[c.index]++;
      if (mode == kRelease) a.Release(c, Record(c, "interrupted")).IgnoreError();
      if (mode == kFail || mode == kFatal)
        a.Fail(c, Record(c, "failed"), &final, mode == kFail).IgnoreError();
      return commits;
    case kStopPending: ctl.Stop(0, &r).IgnoreError(); return commits;
    case kStopRunning:
      if (a.ClaimNext(&c).ok()) ctl.Stop(0, &r).IgnoreError();
      return commits;
    case kReset:
    case kRetry:
      for (int k = 0; k < 2; ++k) {  // failed: max_attempts 2
        if (!a.ClaimNext(&c).ok() || !a.Fail(c, Record(c, "failed"), &final).ok()) return commits;
      }
      if (mode == kReset) ctl.Reset(0, false, &r).IgnoreError();
      if (mode == kRetry) ctl.Retry(0, &r).IgnoreError();
      return commits;
    case kResume:
      if (ctl.Stop(0, &r).ok()) ctl.Resume(0, &r).IgnoreError();
      return commits;
  }
  return commits;
}

// The control command again, healthy: what a user does after a crash.
void RunAgain(Fixture& f, int mode) {
  TrialControl ctl = f.Control(Env::Default(), "again");
  ControlReport r;
  switch (mode) {
    case kStopPending:
    case kStopRunning: ASSERT_OK(ctl.Stop(0, &r)); break;
    case kReset: ASSERT_OK(ctl.Reset(0, false, &r)); break;
    case kRetry: ASSERT_OK(ctl.Retry(0, &r)); break;
    case kResume: ASSERT_OK(ctl.Resume(0, &r)); break;
    default: break;
  }
}

// The loader reads every trial, and nothing it reads is torn or empty.
void ExpectWholeRecords(Fixture& f, const char* when) {
  SCOPED_TRACE(when);
  SweepResults res;
  ASSERT_OK(LoadResults(Env::Default(), f.layout.root(), LoadOptions(), &res));
  for (const TrialRecord& t : res.trials) {
    EXPECT_TRUE(t.problem.empty()) << "trial " << t.index << ": " << t.problem;
    if (t.state == TrialState::kDone) {
      ASSERT_EQ(t.metrics.count("loss"), 1u) << "trial " << t.index;
      EXPECT_EQ(t.metrics.at("loss"), Loss(t.index)) << "trial " << t.index;
      EXPECT_EQ(t.wall_seconds, 1.5) << "trial " << t.index;
    }
  }
  SweepScan scan;
  ASSERT_OK(ScanSweep(Env::Default(), f.layout, f.spec, kPoints, &scan));
  EXPECT_EQ(scan.counts[static_cast<int>(TrialState::kBroken)], 0u);
  EXPECT_EQ(scan.counts[static_cast<int>(TrialState::kDone)],
            res.counts[static_cast<int>(TrialState::kDone)]);
}

// `confined`: through the Env of `trial` and `sweep` (NewSweepEnv).
void PowerCutAtEveryOperation(bool confined) {
  for (int mode = kCommit; mode <= kResume; ++mode) {
    long crash_at = 0;
    for (;; ++crash_at) {
      ASSERT_LT(crash_at, 80) << ModeName(mode) << " never ran to its end";
      SCOPED_TRACE(std::string(ModeName(mode)) + ", power cut at op " + std::to_string(crash_at));
      Fixture f;
      std::unique_ptr<Env> sweep_env = confined ? NewSweepEnv(f.layout.root()) : nullptr;
      Env* base = confined ? sweep_env.get() : Env::Default();
      FaultEnv dying(base);
      dying.DropUnsyncedDataAtCrash(true);
      dying.CrashAtOp(crash_at);
      std::map<uint64_t, int> commits = DyingRun(f, &dying, mode);
      const bool crashed = dying.crashed();
      ExpectWholeRecords(f, "right after the power cut");

      RunAgain(f, mode);
      FaultEnv later(base);
      later.AdvanceClock(31);  // past every lease: a dead owner's trial is taken over
      Claimer b = f.Make(&later, "b");
      Claim c;
      for (int guard = 0; testing::ClaimWatching(&b, &later, &c).ok() && guard < 20; ++guard) {
        ASSERT_OK(b.Commit(c, Record(c, "done")));
        commits[c.index]++;
      }
      const bool stopped = mode == kStopPending || mode == kStopRunning;
      SweepResults res;
      ASSERT_OK(LoadResults(Env::Default(), f.layout.root(), LoadOptions(), &res));
      ASSERT_EQ(res.trials.size(), kPoints);
      for (const TrialRecord& t : res.trials) {
        const bool stays_stopped = stopped && t.index == 0;
        // A fatal failure that got as far as its marker fails the trial for good.
        const bool fatal = mode == kFatal && t.index == 0 && t.state == TrialState::kFailed;
        EXPECT_EQ(t.state, stays_stopped ? TrialState::kStopped
                           : fatal       ? TrialState::kFailed
                                         : TrialState::kDone)
            << "trial " << t.index;
        EXPECT_EQ(commits[t.index], stays_stopped || fatal ? 0 : 1) << "trial " << t.index;
      }
      ExpectWholeRecords(f, "after recovery");
      if (!crashed) break;  // ran to its end: later ops are past it
    }
    EXPECT_GE(crash_at, 3) << ModeName(mode);
  }
}

TEST(PowerCut, AtEveryOperationUnsyncedDataIsLostAndNoPointIsLostOrDoneTwice) {
  PowerCutAtEveryOperation(false);
}
TEST(PowerCut, AtEveryOperationThroughTheSweepEnvNoPointIsLostOrDoneTwice) {
  PowerCutAtEveryOperation(true);
}

}  // namespace
}  // namespace claimsweep
