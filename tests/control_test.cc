// `sweep stop|reset|retry` through the Env interface (src/core/control.h):
// state derivation with retry markers, what claimers do with stopped, reset
// and retried trials, and a crash at every filesystem operation of each.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "core/claim.h"
#include "core/control.h"
#include "fault_env.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::MustParse;
using testing::TempDir;

constexpr uint64_t kPoints = 20;

struct Fixture {
  TempDir tmp;
  SweepSpec spec = MustParse(R"(
    grid { param { name: "x" range { start: 0 stop: 20 step: 1 } } }
    command { argv: "true" }
    claim { lease_seconds: 30 heartbeat_seconds: 1 max_attempts: 2 })");
  SweepLayout layout{tmp.path() + "/s"};
  Fixture() { testing::InitSweep(layout.root(), spec); }

  Claimer Make(Env* env, const std::string& token) {
    return Claimer(env, layout, spec.claim(), kPoints, token);
  }
  TrialControl Control(Env* env = Env::Default(), const std::string& token = "ctl") {
    TrialControl c(env, layout, spec.claim(), token);
    c.set_archive_stamp("T");
    return c;
  }
  TrialState State(uint64_t i) {
    DerivedState d;
    EXPECT_OK(Control().State(i, &d));
    return d.state;
  }
  std::vector<std::string> List(const std::string& dir) {
    std::vector<std::string> n;
    Env::Default()->ListDir(dir, &n).IgnoreError();
    std::sort(n.begin(), n.end());
    return n;
  }
  // Claims and fails point `i` until it is failed (max_attempts 2).
  void FailTwice(Claimer* c, uint64_t i) {
    for (int k = 0; k < 2; ++k) {
      Claim cl;
      ASSERT_OK(c->ClaimNext(&cl));
      ASSERT_EQ(cl.index, i);
      bool final = false;
      ASSERT_OK(c->Fail(cl, "{}", &final));
      EXPECT_EQ(final, k == 1);
    }
  }
  // Claims everything claimable and commits it; returns index -> commits.
  std::map<uint64_t, int> Drain(Claimer* c, std::map<uint64_t, uint32_t>* attempts = nullptr) {
    std::map<uint64_t, int> commits;
    Claim cl;
    Status s;
    int guard = 0;
    while ((s = c->ClaimNext(&cl)).ok() && ++guard < 100) {
      EXPECT_OK(c->Commit(cl, "{}"));
      commits[cl.index]++;
      if (attempts) (*attempts)[cl.index] = cl.attempt;
    }
    EXPECT_TRUE(s.IsNotFound()) << s.ToString();
    return commits;
  }
};

ClaimPolicy Policy() {
  ClaimPolicy p;
  p.set_lease_seconds(60);
  p.set_max_attempts(2);
  return p;
}

TEST(ControlState, RetryMarkerNamesRoundTrip) {
  uint32_t k = 0;
  EXPECT_EQ(RetryMarkerName(2), "retry-0002");
  ASSERT_TRUE(ParseRetryMarker("retry-0002", &k));
  EXPECT_EQ(k, 2u);
  EXPECT_FALSE(ParseRetryMarker("retry-", &k));
  EXPECT_FALSE(ParseRetryMarker("retry-12a", &k));
  EXPECT_FALSE(ParseRetryMarker("retry-0002.tmp", &k));
}

TEST(ControlState, OnlyFailuresAfterTheNewestRetryMarkerCount) {
  TrialSnapshot s;
  s.exists = true;
  for (uint32_t k = 1; k <= 2; ++k) s.attempts.push_back({k, true, false, true});
  EXPECT_EQ(DeriveState(s, Policy(), 0).state, TrialState::kFailed);
  s.retried_after = 2;  // sweep retry
  DerivedState d = DeriveState(s, Policy(), 0);
  EXPECT_EQ(d.state, TrialState::kInterrupted);
  EXPECT_EQ(d.failures, 0u);
  EXPECT_EQ(d.latest_attempt, 2u);
  s.attempts.push_back({3, true, false, true});  // attempt 3 fails: one of two
  EXPECT_EQ(DeriveState(s, Policy(), 0).state, TrialState::kInterrupted);
  s.attempts.push_back({4, true, false, true});
  d = DeriveState(s, Policy(), 0);
  EXPECT_EQ(d.state, TrialState::kFailed);
  EXPECT_EQ(d.failures, 2u);
  s.has_stop = true;  // stop still wins over failed-with-attempts-left, result over all
  s.attempts.pop_back();
  EXPECT_EQ(DeriveState(s, Policy(), 0).state, TrialState::kStopped);
}

TEST(ControlState, SnapshotReadsTheNewestRetryMarker) {
  Fixture f;
  Claimer a = f.Make(Env::Default(), "a");
  f.FailTwice(&a, 0);
  testing::WriteRaw(f.layout.trial_dir(0) + "/retry-0001", "");
  testing::WriteRaw(f.layout.trial_dir(0) + "/retry-0002", "");
  TrialSnapshot snap;
  ASSERT_OK(ReadTrialSnapshot(Env::Default(), f.layout, 0, &snap));
  EXPECT_EQ(snap.retried_after, 2u);
  EXPECT_EQ(snap.attempts.size(), 2u);
}

TEST(Control, StopOnPendingPointsIsSkippedByClaimersWhileTheOthersAreClaimed) {
  Fixture f;
  // 3 and 7 are galloping probes of a fresh claimer (hint 0: 1, 3, 7, 15...);
  // 15 and 19 lie above the frontier too.
  TrialControl ctl = f.Control();
  for (uint64_t i : {3, 7, 15, 19}) {
    ControlReport r;
    ASSERT_OK(ctl.Stop(i, &r));
    EXPECT_TRUE(r.changed);
    EXPECT_EQ(r.before, TrialState::kPending);
    EXPECT_EQ(f.State(i), TrialState::kStopped);
  }
  ControlReport again;
  ASSERT_OK(ctl.Stop(3, &again));
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(again.what, "already stopped");

  // Two claimers interleave; each claimer's first search starts at index 0.
  Claimer a = f.Make(Env::Default(), "a"), b = f.Make(Env::Default(), "b");
  std::vector<uint64_t> order;
  Claim c;
  for (int k = 0; k < 16; ++k) {
    Claimer& who = k % 3 == 0 ? b : a;
    Status s = who.ClaimNext(&c);
    ASSERT_OK(s) << k << ": " << s.ToString();
    order.push_back(c.index);
    ASSERT_OK(who.Commit(c, "{}"));
  }
  EXPECT_TRUE(a.ClaimNext(&c).IsNotFound());
  EXPECT_TRUE(b.ClaimNext(&c).IsNotFound());
  std::vector<uint64_t> expected;
  for (uint64_t i = 0; i < kPoints; ++i) {
    if (i != 3 && i != 7 && i != 15 && i != 19) expected.push_back(i);
  }
  EXPECT_EQ(order, expected);  // in index order, none skipped, none twice
  for (uint64_t i : {3, 7, 15, 19}) {
    EXPECT_EQ(f.State(i), TrialState::kStopped);
    EXPECT_EQ(f.List(f.layout.trial_dir(i)), std::vector<std::string>{"stop"});
  }
  EXPECT_TRUE(f.List(f.layout.leases_dir()).empty());
}

TEST(Control, StopOfAPointWhoseElectionAClaimerWonMakesItsPublishLose) {
  Fixture f;
  // A claimer created leases/000000.0001 (elected) and is building its claim.
  ASSERT_OK(Env::Default()->CreateExclusive(f.layout.lease_path(0, 1), ""));
  ControlReport r;
  ASSERT_OK(f.Control().Stop(0, &r));
  EXPECT_TRUE(r.changed);
  EXPECT_TRUE(f.List(f.layout.leases_dir()).empty());  // its entry would only cost re-reads
  // A claim of 0 now fails cleanly (AlreadyExists) and the claimer moves on.
  Claimer a = f.Make(Env::Default(), "a");
  Claim c;
  ASSERT_OK(a.ClaimNext(&c));
  EXPECT_EQ(c.index, 1u);
}

// NFS: the stop of a pending point is published like a claim (PublishDir,
// publish.h); a rename answered EEXIST after it succeeded is still its own.
TEST(Control, StopOfAPendingPointWhoseRenameReportsExistsAfterSucceedingStillStopsIt) {
  Fixture f;
  ASSERT_OK(Env::Default()->CreateExclusive(f.layout.lease_path(0, 1), ""));
  FaultEnv nfs(Env::Default());
  nfs.ReportExistsAfterSuccess(true);
  ControlReport r;
  ASSERT_OK(f.Control(&nfs).Stop(0, &r));
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(r.what, "stopped (was pending; it will not be claimed)");
  EXPECT_EQ(f.State(0), TrialState::kStopped);
  EXPECT_EQ(f.List(f.layout.trial_dir(0)), std::vector<std::string>{"stop"});
  EXPECT_TRUE(f.List(f.layout.leases_dir()).empty());
  for (const std::string& n : f.List(f.layout.tmp_dir()))
    EXPECT_EQ(n.find(".stop."), std::string::npos) << n;
}

TEST(Control, StopOfARunningTrialEndsItAndItsReleaseKeepsItStopped) {
  Fixture f;
  Claimer a = f.Make(Env::Default(), "a");
  Claim c;
  ASSERT_OK(a.ClaimNext(&c));
  ControlReport r;
  ASSERT_OK(f.Control().Stop(0, &r));
  EXPECT_EQ(r.before, TrialState::kRunning);
  EXPECT_NE(r.what.find("was running attempt 1"), std::string::npos) << r.what;
  EXPECT_EQ(f.State(0), TrialState::kStopped);
  EXPECT_TRUE(f.List(f.layout.leases_dir()).empty());
  // The owner notices (LeaseKeeper) and releases: its entry is gone, which is fine.
  ASSERT_OK(a.Release(c, "{\"outcome\":\"stopped\"}"));
  EXPECT_TRUE(f.List(f.layout.leases_dir()).empty());
  EXPECT_EQ(f.State(0), TrialState::kStopped);
  Claimer b = f.Make(Env::Default(), "b");
  Claim cb;
  ASSERT_OK(b.ClaimNext(&cb));
  EXPECT_EQ(cb.index, 1u);
}

TEST(Control, StopSaysWhatItDidForEveryState) {
  Fixture f;
  Claimer a = f.Make(Env::Default(), "a");
  Claim c;
  ASSERT_OK(a.ClaimNext(&c));
  ASSERT_OK(a.Commit(c, "{}"));  // 0 done
  f.FailTwice(&a, 1);            // 1 failed
  ASSERT_OK(a.ClaimNext(&c));
  ASSERT_OK(a.Release(c, "{}"));  // 2 interrupted
  TrialControl ctl = f.Control();
  ControlReport r;
  ASSERT_OK(ctl.Stop(0, &r));
  EXPECT_EQ(r.what, "already done: nothing to stop");
  EXPECT_FALSE(Env::Default()->Exists(f.layout.stop_path(0)));
  ASSERT_OK(ctl.Stop(1, &r));
  EXPECT_FALSE(r.changed);
  EXPECT_EQ(f.State(1), TrialState::kFailed);
  ASSERT_OK(ctl.Stop(2, &r));
  EXPECT_TRUE(r.changed);
  EXPECT_NE(r.what.find("was interrupted"), std::string::npos) << r.what;
  EXPECT_EQ(f.State(2), TrialState::kStopped);
  EXPECT_TRUE(f.List(f.layout.leases_dir()).empty());  // the released entry went too
  ASSERT_OK(a.ClaimNext(&c));
  EXPECT_EQ(c.index, 3u);
}

TEST(Control, ResetArchivesEverythingAndTheTrialIsClaimedAgainAsAttemptOne) {
  Fixture f;
  Claimer a = f.Make(Env::Default(), "a");
  f.FailTwice(&a, 0);
  testing::WriteRaw(f.layout.trial_dir(0) + "/metrics.csv", "epoch,loss\n1,0.5\n");
  ASSERT_OK(Env::Default()->CreateDirs(f.layout.trial_dir(0) + "/checkpoints"));
  testing::WriteRaw(f.layout.trial_dir(0) + "/checkpoints/ckpt-1", "weights");
  const std::vector<std::string> before = f.List(f.layout.trial_dir(0));
  Claim c;
  ASSERT_OK(a.ClaimNext(&c));
  EXPECT_EQ(c.index, 1u);  // 0 is failed
  ASSERT_OK(a.Commit(c, "{}"));

  ControlReport r;
  ASSERT_OK(f.Control().Reset(0, false, &r));
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(r.before, TrialState::kFailed);
  EXPECT_EQ(r.archive, f.layout.root() + "/archive/000000-T");
  EXPECT_EQ(f.List(r.archive), before);  // everything, nothing lost
  EXPECT_EQ(testing::ReadAll(r.archive + "/checkpoints/ckpt-1"), "weights");
  EXPECT_TRUE(
      f.List(f.layout.trial_dir(0)).empty());  // the directory stays: claims remain a prefix
  EXPECT_EQ(f.State(0), TrialState::kInterrupted);

  Claimer b = f.Make(Env::Default(), "b");
  ASSERT_OK(b.ClaimNext(&c));
  EXPECT_EQ(c.index, 0u);
  EXPECT_EQ(c.attempt, 1u);
  EXPECT_EQ(c.previous, TrialState::kInterrupted);
  ASSERT_OK(b.Commit(c, "{}"));
  EXPECT_EQ(f.State(0), TrialState::kDone);
  std::map<uint64_t, int> rest = f.Drain(&b);
  EXPECT_EQ(rest.size(), kPoints - 2);
  EXPECT_EQ(rest.count(0), 0u);
  EXPECT_TRUE(f.List(f.layout.leases_dir()).empty());

  // A second reset of the same trial gets its own archive folder.
  ASSERT_OK(f.Control().Reset(0, false, &r));
  EXPECT_EQ(r.archive, f.layout.root() + "/archive/000000-T-2");
  EXPECT_EQ(f.List(r.archive), (std::vector<std::string>{"attempt-0001", "result.json"}));
}

TEST(Control, ResetRefusesARunningTrialUnlessForcedAndFencesItsOwner) {
  Fixture f;
  Claimer a = f.Make(Env::Default(), "a");
  Claim c;
  ASSERT_OK(a.ClaimNext(&c));
  ASSERT_OK(a.Release(c, "{}"));
  ASSERT_OK(a.ClaimNext(&c));  // trial 0, attempt 2, running
  ASSERT_EQ(c.attempt, 2u);
  ControlReport r;
  ASSERT_OK(f.Control().Reset(0, false, &r));
  EXPECT_TRUE(r.refused);
  EXPECT_FALSE(r.changed);
  EXPECT_NE(r.what.find("sweep stop"), std::string::npos) << r.what;
  EXPECT_EQ(f.State(0), TrialState::kRunning);
  ASSERT_OK(f.Control().Reset(0, true, &r));
  EXPECT_TRUE(r.changed);
  // The owner's attempt is gone: its next heartbeat or write is refused.
  EXPECT_TRUE(a.Heartbeat(c).IsSuperseded());
  EXPECT_TRUE(a.Commit(c, "{}").IsSuperseded());
  Claimer b = f.Make(Env::Default(), "b");
  Claim cb;
  ASSERT_OK(b.ClaimNext(&cb));
  EXPECT_EQ(cb.index, 0u);
  EXPECT_EQ(cb.attempt, 1u);
}

TEST(Control, ResetOfAPendingOrAlreadyResetTrialChangesNothingButTheEntry) {
  Fixture f;
  ControlReport r;
  ASSERT_OK(f.Control().Reset(5, false, &r));
  EXPECT_FALSE(r.changed);
  EXPECT_EQ(r.what, "pending: nothing to reset");
  EXPECT_FALSE(Env::Default()->Exists(f.layout.trial_dir(5)));
  // An already reset (empty) trial: only its lease entry is made sure of.
  Claimer a = f.Make(Env::Default(), "a");
  Claim c;
  ASSERT_OK(a.ClaimNext(&c));
  ASSERT_OK(a.Commit(c, "{}"));
  ASSERT_OK(f.Control().Reset(0, false, &r));
  ASSERT_OK(Env::Default()->RemoveFile(f.layout.lease_path(0, 1) +
                                       ".released"));  // as if lost in a crash
  ASSERT_OK(f.Control().Reset(0, false, &r));
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(r.what, "nothing to archive (already reset); the next claim runs attempt 1");
  EXPECT_EQ(f.List(f.layout.leases_dir()), std::vector<std::string>{"000000.0001.released"});
  EXPECT_EQ(f.List(f.layout.root() + "/archive").size(), 1u);
}

TEST(Control, RetryGivesAFailedTrialAFreshBudgetAndKeepsItsHistory) {
  Fixture f;
  Claimer a = f.Make(Env::Default(), "a");
  f.FailTwice(&a, 0);
  EXPECT_EQ(f.State(0), TrialState::kFailed);
  ControlReport r;
  ASSERT_OK(f.Control().Retry(0, &r));
  EXPECT_TRUE(r.changed);
  EXPECT_NE(r.what.find("runs attempt 3"), std::string::npos) << r.what;
  EXPECT_TRUE(Env::Default()->Exists(f.layout.trial_dir(0) + "/retry-0002"));
  EXPECT_EQ(f.State(0), TrialState::kInterrupted);
  Claim c;
  ASSERT_OK(a.ClaimNext(&c));
  EXPECT_EQ(c.index, 0u);
  EXPECT_EQ(c.attempt, 3u);
  bool final = true;
  ASSERT_OK(a.Fail(c, "{}", &final));
  EXPECT_FALSE(final);  // one failure of the new budget of two
  ASSERT_OK(a.ClaimNext(&c));
  EXPECT_EQ(c.attempt, 4u);
  ASSERT_OK(a.Fail(c, "{}", &final));
  EXPECT_TRUE(final);
  EXPECT_EQ(f.State(0), TrialState::kFailed);
  // History: all four attempts are still there.
  for (uint32_t k = 1; k <= 4; ++k)
    EXPECT_TRUE(Env::Default()->Exists(f.layout.failed_path(0, k))) << k;
  // Not failed: nothing to retry.
  ASSERT_OK(a.ClaimNext(&c));
  ASSERT_OK(a.Commit(c, "{}"));
  ASSERT_OK(f.Control().Retry(c.index, &r));
  EXPECT_FALSE(r.changed);
}

// A pending point stopped above the frontier, then resumed (or reset): it is
// claimed through its lease entry, out of order, and must not make the
// frontier search jump over the unclaimed points below it. 7 is a galloping
// probe of a fresh claimer (1, 3, 7, 15) once 0-3 are claimed.
TEST(Control, AStoppedPendingPointResumedOrResetIsClaimedOnceAndHidesNoPointBelowIt) {
  for (bool reset : {false, true}) {
    SCOPED_TRACE(reset ? "reset" : "resume");
    Fixture f;
    Claimer a = f.Make(Env::Default(), "a");
    for (uint64_t i = 0; i < 4; ++i) {
      Claim c;
      ASSERT_OK(a.ClaimNext(&c));
      ASSERT_EQ(c.index, i);
      ASSERT_OK(a.Commit(c, "{}"));
    }
    TrialControl ctl = f.Control();
    ControlReport r;
    ASSERT_OK(ctl.Stop(7, &r));
    ASSERT_EQ(f.State(7), TrialState::kStopped);
    ASSERT_OK((reset ? ctl.Reset(7, false, &r) : ctl.Resume(7, &r)));
    EXPECT_TRUE(r.changed);
    EXPECT_FALSE(r.refused);
    EXPECT_EQ(r.before, TrialState::kStopped);
    EXPECT_EQ(f.State(7), TrialState::kInterrupted);
    if (!reset) {
      EXPECT_EQ(r.what, "resumed (was never run; the next claim runs attempt 1)");
    }

    Claimer b = f.Make(Env::Default(), "b");  // a fresh claimer: its search starts at 0
    std::map<uint64_t, uint32_t> attempts;
    std::map<uint64_t, int> commits = f.Drain(&b, &attempts);
    for (uint64_t i = 4; i < kPoints; ++i) EXPECT_EQ(commits[i], 1) << i;
    EXPECT_EQ(commits.size(), kPoints - 4);
    EXPECT_EQ(attempts[7], 1u);
    for (uint64_t i = 0; i < kPoints; ++i) EXPECT_EQ(f.State(i), TrialState::kDone) << i;
    EXPECT_TRUE(f.List(f.layout.leases_dir()).empty());
  }
}

TEST(Control, ResumeOfAStoppedTrialContinuesAsItsNextAttempt) {
  Fixture f;
  Claimer a = f.Make(Env::Default(), "a");
  Claim c;
  ASSERT_OK(a.ClaimNext(&c));
  ControlReport r;
  ASSERT_OK(f.Control().Stop(0, &r));
  ASSERT_OK(a.Release(c, "{\"outcome\":\"stopped\"}"));  // the owner noticed and stopped
  ASSERT_OK(f.Control().Resume(0, &r));
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(r.what, "resumed; the next claim continues it as attempt 2");
  EXPECT_EQ(f.State(0), TrialState::kInterrupted);
  EXPECT_FALSE(Env::Default()->Exists(f.layout.stop_path(0)));
  EXPECT_EQ(f.List(f.layout.leases_dir()), std::vector<std::string>{"000000.0001.released"});
  // Its checkpoints and attempt 1 stay: the next attempt continues from them.
  EXPECT_TRUE(Env::Default()->Exists(f.layout.attempt_dir(0, 1)));
  Claimer b = f.Make(Env::Default(), "b");
  Claim cb;
  ASSERT_OK(b.ClaimNext(&cb));
  EXPECT_EQ(cb.index, 0u);
  EXPECT_EQ(cb.attempt, 2u);
  EXPECT_EQ(cb.previous, TrialState::kInterrupted);
  ASSERT_OK(b.Commit(cb, "{}"));
  std::map<uint64_t, int> rest = f.Drain(&b);
  EXPECT_EQ(rest.size(), kPoints - 1);
  EXPECT_TRUE(f.List(f.layout.leases_dir()).empty());
}

TEST(Control, ResumeBeforeTheOwnerNoticedTheStopLetsItGoOn) {
  Fixture f;
  Claimer a = f.Make(Env::Default(), "a");
  Claim c;
  ASSERT_OK(a.ClaimNext(&c));
  ControlReport r;
  ASSERT_OK(f.Control().Stop(0, &r));
  EXPECT_TRUE(f.List(f.layout.leases_dir()).empty());
  ASSERT_OK(f.Control().Resume(0, &r));
  EXPECT_EQ(f.State(0), TrialState::kRunning);
  // Its lease entry is back: if the owner dies now, claimers find it stale.
  EXPECT_EQ(f.List(f.layout.leases_dir()), std::vector<std::string>{"000000.0001"});
  ASSERT_OK(a.Heartbeat(c));
  ASSERT_OK(a.Commit(c, "{}"));
  EXPECT_EQ(f.State(0), TrialState::kDone);
  EXPECT_TRUE(f.List(f.layout.leases_dir()).empty());
}

TEST(Control, ResumeRefusesEveryTrialThatIsNotStoppedAndWritesNothing) {
  Fixture f;
  Claimer a = f.Make(Env::Default(), "a");
  Claim c;
  ASSERT_OK(a.ClaimNext(&c));
  ASSERT_OK(a.Commit(c, "{}"));  // 0 done
  f.FailTwice(&a, 1);            // 1 failed
  ASSERT_OK(a.ClaimNext(&c));    // 2 running
  ASSERT_OK(a.ClaimNext(&c));
  ASSERT_OK(a.Release(c, "{}"));  // 3 interrupted
  const std::map<uint64_t, TrialState> expected = {{0, TrialState::kDone},
                                                   {1, TrialState::kFailed},
                                                   {2, TrialState::kRunning},
                                                   {3, TrialState::kInterrupted},
                                                   {9, TrialState::kPending}};
  for (const auto& [i, state] : expected) {
    SCOPED_TRACE(i);
    ASSERT_EQ(f.State(i), state);
    const std::vector<std::string> files = f.List(f.layout.trial_dir(i)),
                                   leases = f.List(f.layout.leases_dir());
    ControlReport r;
    ASSERT_OK(f.Control().Resume(i, &r));
    EXPECT_TRUE(r.refused);
    EXPECT_FALSE(r.changed);
    EXPECT_NE(r.what.find("not stopped, nothing to resume"), std::string::npos) << r.what;
    EXPECT_EQ(f.List(f.layout.trial_dir(i)), files);
    EXPECT_EQ(f.List(f.layout.leases_dir()), leases);
    EXPECT_EQ(f.State(i), state);
  }
}

// Which operations refuse (the command exits 1) and which find the trial
// already where they would bring it (exit 0).
TEST(Control, RefusalsAreTheCasesThatDidNotDoWhatWasAsked) {
  Fixture f;
  Claimer a = f.Make(Env::Default(), "a");
  Claim c;
  ASSERT_OK(a.ClaimNext(&c));
  ASSERT_OK(a.Commit(c, "{}"));  // 0 done
  f.FailTwice(&a, 1);            // 1 failed
  ASSERT_OK(a.ClaimNext(&c));    // 2 running
  TrialControl ctl = f.Control();
  auto refused = [&](Status (TrialControl::*op)(uint64_t, ControlReport*), uint64_t i) {
    ControlReport r;
    EXPECT_OK((ctl.*op)(i, &r));
    return r.refused;
  };
  EXPECT_TRUE(refused(&TrialControl::Retry, 0));   // done
  EXPECT_TRUE(refused(&TrialControl::Retry, 2));   // running
  EXPECT_TRUE(refused(&TrialControl::Retry, 9));   // pending
  EXPECT_TRUE(refused(&TrialControl::Stop, 0));    // done
  EXPECT_TRUE(refused(&TrialControl::Stop, 1));    // failed
  EXPECT_TRUE(refused(&TrialControl::Resume, 2));  // running, not stopped
  ControlReport r;
  ASSERT_OK(ctl.Reset(2, false, &r));
  EXPECT_TRUE(r.refused);  // running, no --force
  ASSERT_OK(ctl.Reset(9, false, &r));
  EXPECT_FALSE(r.refused);                         // pending: already where a reset brings it
  EXPECT_FALSE(refused(&TrialControl::Stop, 2));   // running: stopped
  EXPECT_FALSE(refused(&TrialControl::Stop, 2));   // already stopped
  EXPECT_TRUE(refused(&TrialControl::Retry, 2));   // stopped: resume or reset it
  EXPECT_FALSE(refused(&TrialControl::Retry, 1));  // failed: retried
}

// A crash at every filesystem operation of stop, reset and retry: what is on
// disk afterwards is always a sane state, running the command again finishes
// the job, and claimers then do the right thing (nothing lost, nothing twice).
TEST(Control, CrashAtEveryOperationOfStopResetRetryIsFinishedByRunningItAgain) {
  enum Mode { kStopPending, kStopRunning, kReset, kRetry, kResumePending, kResumeStopped };
  for (int mode : {kStopPending, kStopRunning, kReset, kRetry, kResumePending, kResumeStopped}) {
    for (long crash_at = 0; crash_at < 40; ++crash_at) {
      SCOPED_TRACE("mode " + std::to_string(mode) + " crash at op " + std::to_string(crash_at));
      Fixture f;
      Claimer a = f.Make(Env::Default(), "a");
      Claim running;
      if (mode == kStopRunning) {
        ASSERT_OK(a.ClaimNext(&running));
      }
      if (mode == kReset || mode == kRetry) f.FailTwice(&a, 0);
      if (mode == kReset) testing::WriteRaw(f.layout.trial_dir(0) + "/metrics.csv", "x\n1\n");
      if (mode == kResumeStopped) {
        ASSERT_OK(a.ClaimNext(&running));
        ASSERT_OK(a.Release(running, "{}"));
      }
      if (mode == kResumePending || mode == kResumeStopped) {
        ControlReport stopped;
        ASSERT_OK(f.Control().Stop(0, &stopped));
      }
      const std::vector<std::string> before = f.List(f.layout.trial_dir(0));

      FaultEnv dying(Env::Default());
      dying.CrashAtOp(crash_at);
      TrialControl ctl = f.Control(&dying, "dying");
      ControlReport r;
      auto apply = [&](TrialControl& c) {
        switch (mode) {
          case kReset: return c.Reset(0, false, &r);
          case kRetry: return c.Retry(0, &r);
          case kResumePending:
          case kResumeStopped: return c.Resume(0, &r);
          default: return c.Stop(0, &r);
        }
      };
      Status s = apply(ctl);
      const bool crashed = dying.crashed();
      EXPECT_TRUE(s.ok() || crashed) << s.ToString();
      // Whatever the crash left, the trial reads as a sane state.
      TrialState mid = f.State(0);
      if (mode == kStopPending) {
        EXPECT_TRUE(mid == TrialState::kPending || mid == TrialState::kStopped);
      } else if (mode == kStopRunning) {
        EXPECT_TRUE(mid == TrialState::kRunning || mid == TrialState::kStopped);
      } else if (mode == kRetry || mode == kResumePending || mode == kResumeStopped) {
        EXPECT_TRUE(mid == (mode == kRetry ? TrialState::kFailed : TrialState::kStopped) ||
                    mid == TrialState::kInterrupted);
      }

      // Again, healthy.
      TrialControl healthy = f.Control();
      ASSERT_OK(apply(healthy));
      if (mode == kReset) {
        // Nothing lost: the union of the archive folders is what the trial held.
        std::set<std::string> archived;
        for (const std::string& d : f.List(f.layout.root() + "/archive")) {
          for (const std::string& n : f.List(f.layout.root() + "/archive/" + d)) {
            if (n.find(".tmp.fault") == std::string::npos) {
              EXPECT_TRUE(archived.insert(n).second) << n;
            }
          }
        }
        EXPECT_EQ(archived, std::set<std::string>(before.begin(), before.end()));
      }
      FaultEnv later(Env::Default());
      later.AdvanceClock(31);  // past every lease: stale trials are taken over too
      Claimer b = f.Make(&later, "b");
      std::map<uint64_t, uint32_t> attempts;
      std::map<uint64_t, int> commits = f.Drain(&b, &attempts);
      for (uint64_t i = 1; i < kPoints; ++i) EXPECT_EQ(commits[i], 1) << i;
      switch (mode) {
        case kStopPending:
        case kStopRunning:
          EXPECT_EQ(commits.count(0), 0u);
          EXPECT_EQ(f.State(0), TrialState::kStopped);
          break;
        case kReset:
          EXPECT_EQ(commits[0], 1);
          EXPECT_EQ(attempts[0], 1u);
          break;
        case kRetry:
          EXPECT_EQ(commits[0], 1);
          EXPECT_EQ(attempts[0], 3u);
          break;
        case kResumePending:
        case kResumeStopped:
          EXPECT_EQ(commits[0], 1);
          EXPECT_EQ(attempts[0], mode == kResumePending ? 1u : 2u);
          break;
      }
      const bool stays_stopped = mode == kStopPending || mode == kStopRunning;
      EXPECT_EQ(f.State(0), stays_stopped ? TrialState::kStopped : TrialState::kDone);
      if (!crashed) break;  // the operation finished: later crash points are past its end
    }
  }
}

}  // namespace
}  // namespace claimsweep
