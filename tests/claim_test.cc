// The claim protocol through the Env interface: normal operation, lease expiry
// judged by the filesystem clock, fencing, and a crash at every single
// filesystem operation of claim + commit.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "claim_util.h"
#include "core/claim.h"
#include "core/json.h"
#include "fault_env.h"
#include "records.pb.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::MustParse;
using testing::TempDir;

const char* kSpec = R"(
  grid { param { name: "x" range { start: 0 stop: 5 step: 1 } } }
  command { argv: "true" }
  claim { lease_seconds: 30 heartbeat_seconds: 1 max_attempts: 2 })";

struct Fixture {
  TempDir tmp;
  SweepSpec spec = MustParse(kSpec);
  SweepLayout layout{tmp.path() + "/s"};
  Fixture() { testing::InitSweep(layout.root(), spec); }

  Claimer Make(Env* env, const std::string& token) {
    return Claimer(env, layout, spec.claim(), 5, token);
  }
  std::string Result(uint32_t attempt, uint64_t index) {
    TrialResult r;
    r.set_index(static_cast<uint32_t>(index));
    r.set_attempt(attempt);
    r.set_outcome("done");
    return ToJson(r);
  }
  // Reads result.json; -1 if absent. Fails the test if it is torn.
  int ResultAttempt(uint64_t index) {
    std::string text;
    if (!Env::Default()->ReadFile(layout.result_path(index), &text).ok()) return -1;
    TrialResult r;
    Status s = ParseJson(text, layout.result_path(index), &r);
    EXPECT_OK(s) << s.ToString();
    return static_cast<int>(r.attempt());
  }
  size_t LeaseEntries() {
    std::vector<std::string> n;
    Env::Default()->ListDir(layout.leases_dir(), &n).IgnoreError();
    return n.size();
  }
};

TEST(Claim, ClaimsPointsInOrderThenReportsNothingLeft) {
  Fixture f;
  Claimer c = f.Make(Env::Default(), "a");
  for (uint64_t i = 0; i < 5; ++i) {
    Claim cl;
    ASSERT_OK(c.ClaimNext(&cl));
    EXPECT_EQ(cl.index, i);
    EXPECT_EQ(cl.attempt, 1u);
    ASSERT_OK(c.Commit(cl, f.Result(1, i)));
  }
  Claim cl;
  EXPECT_TRUE(c.ClaimNext(&cl).IsNotFound());
  EXPECT_EQ(f.LeaseEntries(), 0u);  // commits remove their lease entries
  EXPECT_EQ(f.ResultAttempt(4), 1);
}

// NFS: a RENAME or LINK whose reply was lost is retransmitted and answers
// EEXIST although it succeeded. The claimer must still own what it published
// and count its commit as done: no point lost, none run twice.
TEST(Claim, RenameAndLinkThatReportExistsAfterSucceedingStillClaimAndCommit) {
  Fixture f;
  FaultEnv nfs(Env::Default());
  nfs.ReportExistsAfterSuccess(true);
  Claimer c = f.Make(&nfs, "nfs");
  for (uint64_t i = 0; i < 3; ++i) {
    Claim cl;
    ASSERT_OK(c.ClaimNext(&cl)) << i;
    EXPECT_EQ(cl.index, i);
    EXPECT_EQ(cl.attempt, 1u);
    ASSERT_OK(c.Commit(cl, f.Result(1, i))) << i;
    EXPECT_EQ(f.ResultAttempt(i), 1);
  }
  // A takeover publishes attempt-0002 by rename, also answered EEXIST.
  Claimer a = f.Make(Env::Default(), "a");
  Claim ca;
  ASSERT_OK(a.ClaimNext(&ca));
  EXPECT_EQ(ca.index, 3u);
  ASSERT_OK(a.Release(ca, "{}"));
  Claim cl;
  ASSERT_OK(c.ClaimNext(&cl));
  EXPECT_EQ(cl.index, 3u);
  EXPECT_EQ(cl.attempt, 2u);
  ASSERT_OK(c.Commit(cl, f.Result(2, 3)));
  EXPECT_EQ(f.ResultAttempt(3), 2);
  // Someone else's result is still refused, never taken for ours.
  Claim other;
  ASSERT_OK(c.ClaimNext(&other));
  testing::WriteRaw(f.layout.result_path(other.index), "{\"attempt\": 9}");
  EXPECT_TRUE(c.Commit(other, f.Result(1, other.index)).IsAlreadyExists());
}

TEST(Claim, RunningTrialIsNotTakenOverUntilItsLeaseExpires) {
  Fixture f;
  FaultEnv later(Env::Default());
  Claimer a = f.Make(Env::Default(), "a");
  Claimer b = f.Make(&later, "b");
  Claim ca, cb;
  ASSERT_OK(a.ClaimNext(&ca));
  for (uint64_t i = 1; i < 5; ++i) {
    ASSERT_OK(b.ClaimNext(&cb));
    EXPECT_EQ(cb.index, i);  // trial 0 is running: B takes new points
    ASSERT_OK(b.Commit(cb, f.Result(1, i)));
  }

  // B has nothing new to claim and starts watching trial 0: however old its
  // file time is, B has not yet seen it stay unchanged for a lease.
  later.AdvanceClock(31);
  EXPECT_TRUE(b.ClaimNext(&cb).IsNotFound());
  EXPECT_TRUE(b.watching());
  later.AdvanceClock(29);
  EXPECT_TRUE(b.ClaimNext(&cb).IsNotFound());
  later.AdvanceClock(1.5);  // unchanged for 30.5 s of B's own clock
  ASSERT_OK(b.ClaimNext(&cb));
  EXPECT_EQ(cb.index, 0u);
  EXPECT_EQ(cb.attempt, 2u);
  EXPECT_EQ(cb.previous, TrialState::kStale);

  // Fencing: A comes back and must not write anything B reads.
  EXPECT_TRUE(a.Heartbeat(ca).IsSuperseded());
  EXPECT_TRUE(a.Commit(ca, f.Result(1, 0)).IsSuperseded());
  EXPECT_TRUE(a.Release(ca, "{}").IsSuperseded());
  EXPECT_EQ(f.ResultAttempt(0), -1);
  ASSERT_OK(b.Commit(cb, f.Result(2, 0)));
  EXPECT_EQ(f.ResultAttempt(0), 2);
}

TEST(Claim, HeartbeatKeepsTheLease) {
  Fixture f;
  FaultEnv later(Env::Default());
  Claimer a = f.Make(Env::Default(), "a");
  Claim ca;
  ASSERT_OK(a.ClaimNext(&ca));
  // B's clock runs 20 s ahead; A renews; B still sees a young heartbeat.
  later.AdvanceClock(20);
  ASSERT_OK(a.Heartbeat(ca));
  Claimer b = f.Make(&later, "b");
  Claim cb;
  ASSERT_OK(b.ClaimNext(&cb));
  EXPECT_EQ(cb.index, 1u);
}

TEST(Claim, ReleasedTrialIsClaimedFirstAndAtOnce) {
  Fixture f;
  Claimer a = f.Make(Env::Default(), "a");
  Claim c0, c1;
  ASSERT_OK(a.ClaimNext(&c0));
  ASSERT_OK(a.ClaimNext(&c1));
  ASSERT_OK(a.Release(c1, "{}"));
  // The release shows in the lease index itself: claimers need not read the trial.
  EXPECT_TRUE(Env::Default()->Exists(f.layout.lease_path(1, 1) + ".released"));
  Claimer b = f.Make(Env::Default(), "b");
  Claim cb;
  ASSERT_OK(b.ClaimNext(&cb));
  EXPECT_EQ(cb.index, 1u);
  EXPECT_EQ(cb.attempt, 2u);
  EXPECT_EQ(cb.previous, TrialState::kInterrupted);
  EXPECT_FALSE(
      Env::Default()->Exists(f.layout.lease_path(1, 1) + ".released"));  // replaced by 1.0002
}

TEST(Claim, ALostElectionBuildsNothing) {
  Fixture f;
  // Another claimer holds the election for point 0 (its lease entry exists)
  // but has not published yet: we take point 1 and leave no temp files.
  ASSERT_OK(Env::Default()->CreateExclusive(f.layout.lease_path(0, 1), ""));
  Claimer a = f.Make(Env::Default(), "a");
  Claim c;
  ASSERT_OK(a.ClaimNext(&c));
  EXPECT_EQ(c.index, 1u);
  std::vector<std::string> tmp;
  ASSERT_OK(Env::Default()->ListDir(f.layout.tmp_dir(), &tmp));
  for (const auto& n : tmp) EXPECT_EQ(n.rfind("clock.", 0), 0u) << "left in tmp/: " << n;
}

TEST(Claim, FailuresAreRetriedUntilMaxAttempts) {
  Fixture f;
  Claimer a = f.Make(Env::Default(), "a");
  Claim c;
  bool final = true;
  ASSERT_OK(a.ClaimNext(&c));
  ASSERT_OK(a.Fail(c, "{}", &final));
  EXPECT_FALSE(final);
  ASSERT_OK(a.ClaimNext(&c));
  EXPECT_EQ(c.index, 0u);
  EXPECT_EQ(c.attempt, 2u);
  ASSERT_OK(a.Fail(c, "{}", &final));
  EXPECT_TRUE(final);  // max_attempts: 2
  ASSERT_OK(a.ClaimNext(&c));
  EXPECT_EQ(c.index, 1u);
  TrialSnapshot snap;
  ASSERT_OK(ReadTrialSnapshot(Env::Default(), f.layout, 0, &snap));
  EXPECT_EQ(DeriveState(snap, f.spec.claim(), 0).state, TrialState::kFailed);
}

TEST(Claim, LeaseEntryOfAClaimerThatDiedBeforePublishingLeadsToThePoint) {
  Fixture f;
  Claimer a = f.Make(Env::Default(), "a");
  for (uint64_t i = 0; i < 5; ++i) {
    Claim c;
    ASSERT_OK(a.ClaimNext(&c));
    ASSERT_OK(a.Commit(c, f.Result(1, i)));
  }
  // Make point 2 a hole below the frontier, as left by a claimer that wrote
  // the lease entry and died before its rename.
  ASSERT_OK(Env::Default()->RemoveTree(f.layout.trial_dir(2)));
  ASSERT_OK(Env::Default()->CreateExclusive(f.layout.lease_path(2, 1), ""));

  FaultEnv later(Env::Default());
  Claimer b = f.Make(&later, "b");
  Claim c;
  EXPECT_TRUE(b.ClaimNext(&c).IsNotFound());  // not seen unchanged for a lease: maybe in flight
  EXPECT_TRUE(b.watching());
  later.AdvanceClock(29);
  EXPECT_TRUE(b.ClaimNext(&c).IsNotFound());
  later.AdvanceClock(2);
  ASSERT_OK(b.ClaimNext(&c));
  EXPECT_EQ(c.index, 2u);
  EXPECT_EQ(c.attempt, 1u);
}

// When nothing is claimable, the claimer says what holds the open trials:
// owners seen alive, and trials being watched (running, or dead and not yet
// judged: heartbeats, and lease entries of points in flight), with how long
// each has left before it would be judged stale, soonest first.
TEST(Claim, NothingClaimableListsTheTrialsLeasesHoldAndWhenTheyExpire) {
  Fixture f;
  Claimer a = f.Make(Env::Default(), "a");
  Claim c0, c1, c;
  ASSERT_OK(a.ClaimNext(&c0));
  ASSERT_OK(a.ClaimNext(&c1));
  for (int k = 0; k < 2; ++k) {
    ASSERT_OK(a.ClaimNext(&c));
    ASSERT_OK(a.Commit(c, f.Result(1, c.index)));
  }
  // Point 4: a claimer created its lease entry and has not published (yet).
  ASSERT_OK(Env::Default()->CreateExclusive(f.layout.lease_path(4, 1), ""));

  FaultEnv later(Env::Default());
  Claimer b = f.Make(&later, "b");
  EXPECT_TRUE(b.ClaimNext(&c).IsNotFound());
  EXPECT_TRUE(b.watching());
  std::vector<HeldTrial> held = b.held();
  ASSERT_EQ(held.size(), 3u);
  std::vector<uint64_t> indices;
  for (const HeldTrial& h : held) {
    indices.push_back(h.index);
    EXPECT_FALSE(h.alive);
    EXPECT_NEAR(h.stale_in_s, 30, 0.5);  // first seen now: a whole lease to go
  }
  std::sort(indices.begin(), indices.end());
  EXPECT_EQ(indices, (std::vector<uint64_t>{0, 1, 4}));

  // Trial 1's owner beats; 0's and 4's do not.
  later.AdvanceClock(10);
  ASSERT_OK(testing::BeatUntilChanged(&a, c1, f.layout));
  EXPECT_TRUE(b.ClaimNext(&c).IsNotFound());
  held = b.held();
  ASSERT_EQ(held.size(), 3u);
  EXPECT_EQ(held[2].index, 1u);  // alive ones last
  EXPECT_TRUE(held[2].alive);
  for (int k = 0; k < 2; ++k) {
    EXPECT_FALSE(held[k].alive);
    EXPECT_NEAR(held[k].stale_in_s, 20, 0.5);
  }
  // Once they have stayed unchanged for the lease, they are claimable as the
  // message said; the live one is not.
  later.AdvanceClock(21);
  ASSERT_OK(b.ClaimNext(&c));
  EXPECT_EQ(c.index, 0u);
  EXPECT_EQ(c.previous, TrialState::kStale);
  ASSERT_OK(b.Commit(c, f.Result(c.attempt, c.index)));
  ASSERT_OK(b.ClaimNext(&c));
  EXPECT_EQ(c.index, 4u);
  EXPECT_EQ(c.attempt, 1u);
  ASSERT_OK(b.Commit(c, f.Result(c.attempt, c.index)));
  // Only trial 1 is left; silent for 21 s (its heartbeat is 1 s) it may have
  // died: watched. Once it beats again it is alive now: nothing to wait for.
  EXPECT_TRUE(b.ClaimNext(&c).IsNotFound());
  EXPECT_TRUE(b.watching());
  later.AdvanceClock(1);
  ASSERT_OK(testing::BeatUntilChanged(&a, c1, f.layout));
  EXPECT_TRUE(b.ClaimNext(&c).IsNotFound());
  EXPECT_FALSE(b.watching());
}

// Crash claimer A at every filesystem operation of one claim + commit; then a
// second claimer (after the lease) finishes the sweep. Every point ends done
// exactly once with an intact result, whatever op A died at.
// `confined`: through the Env of `trial` and `sweep` (NewSweepEnv), whose
// *at() calls must keep every guarantee of the path-based one.
void CrashAtEveryOperation(bool confined) {
  auto base = [&](const Fixture& f) {
    return confined ? NewSweepEnv(f.layout.root()) : std::unique_ptr<Env>();
  };
  auto real = [](const std::unique_ptr<Env>& e) { return e ? e.get() : Env::Default(); };
  long ops_in_full_run = 0;
  {
    Fixture f;
    auto b0 = base(f);
    FaultEnv counting(real(b0));
    Claimer a = f.Make(&counting, "a");
    Claim c;
    ASSERT_OK(a.ClaimNext(&c));
    ASSERT_OK(a.Commit(c, f.Result(1, c.index)));
    ops_in_full_run = counting.ops();
  }
  ASSERT_GT(ops_in_full_run, 8);
  for (long crash_at = 0; crash_at <= ops_in_full_run; ++crash_at) {
    SCOPED_TRACE("crash at op " + std::to_string(crash_at));
    Fixture f;
    auto b1 = base(f);
    FaultEnv dying(real(b1));
    dying.CrashAtOp(crash_at);
    Claimer a = f.Make(&dying, "a");
    Claim ca;
    bool a_committed = false;
    if (a.ClaimNext(&ca).ok()) a_committed = a.Commit(ca, f.Result(1, ca.index)).ok();
    // A commit fails only because of the crash (a crash after the link, while
    // cleaning up, still leaves a committed result).
    EXPECT_TRUE(a_committed || dying.crashed());

    FaultEnv later(real(b1));
    later.AdvanceClock(31);
    Claimer b = f.Make(&later, "b");
    std::map<uint64_t, int> commits;
    if (a_committed) commits[ca.index]++;
    Claim cb;
    int guard = 0;
    while (testing::ClaimWatching(&b, &later, &cb).ok() && ++guard < 20) {
      Status s = b.Commit(cb, f.Result(cb.attempt, cb.index));
      ASSERT_OK(s) << s.ToString();
      commits[cb.index]++;
    }
    for (uint64_t i = 0; i < 5; ++i) {
      EXPECT_EQ(commits[i], 1) << "point " << i;
      EXPECT_GE(f.ResultAttempt(i), 1) << "point " << i;
    }
    EXPECT_EQ(f.LeaseEntries(), 0u);
  }
}

// An exclusive create that answers EEXIST for an entry that does not exist
// (seen on GlusterFS clients after a server restart) makes the frontier pass
// over a point that no one claims: a hole. The claimer that first finds
// nothing new lists trials/ once and claims it.
TEST(Claim, AFalseEexistLeavesNoHoleBehind) {
  Fixture f;
  FaultEnv liar(Env::Default());
  liar.FailOnce("leases/000001.0001", EEXIST);
  Claimer c = f.Make(&liar, "a");
  std::vector<uint64_t> order;
  Claim cl;
  while (c.ClaimNext(&cl).ok()) {
    order.push_back(cl.index);
    ASSERT_OK(c.Commit(cl, f.Result(1, cl.index)));
  }
  EXPECT_EQ(order, (std::vector<uint64_t>{0, 2, 3, 4, 1}));
  for (uint64_t i = 0; i < 5; ++i) EXPECT_EQ(f.ResultAttempt(i), 1) << "point " << i;
  EXPECT_EQ(c.stats().holes_found, 1u);
  EXPECT_EQ(c.stats().first_hole, 1u);
  // Another claimer finds nothing: the listing is done once per process and
  // holes are points with neither a directory nor an entry.
  Claimer d = f.Make(Env::Default(), "d");
  EXPECT_TRUE(d.ClaimNext(&cl).IsNotFound());
  EXPECT_EQ(d.stats().holes_found, 0u);
}

TEST(Claim, CrashAtEveryOperationLosesNothingAndDuplicatesNothing) { CrashAtEveryOperation(false); }
TEST(Claim, CrashAtEveryOperationThroughTheSweepEnvLosesNothing) { CrashAtEveryOperation(true); }

// The same for a crash while releasing (walltime) or recording a failure: the
// trial is never lost; it comes back as interrupted or stale.
TEST(Claim, CrashWhileReleasingOrFailingLosesNothing) {
  for (int mode = 0; mode < 2; ++mode) {
    for (long crash_after = 0; crash_after < 12; ++crash_after) {
      SCOPED_TRACE("mode " + std::to_string(mode) + " crash after " + std::to_string(crash_after));
      Fixture f;
      FaultEnv dying(Env::Default());
      Claimer a = f.Make(&dying, "a");
      Claim ca;
      ASSERT_OK(a.ClaimNext(&ca));
      dying.CrashAtOp(dying.ops() + crash_after);
      bool final = false;
      if (mode == 0) {
        a.Release(ca, "{\"outcome\":\"interrupted\"}").IgnoreError();
      } else {
        a.Fail(ca, "{\"outcome\":\"failed\"}", &final).IgnoreError();
      }
      FaultEnv later(Env::Default());
      Claimer b = f.Make(&later, "b");
      Claim cb;
      std::map<uint64_t, int> commits;
      int guard = 0;
      // Released (its entry renamed) it comes first; if the crash kept the
      // rename from happening, it is judged stale once b has watched it for
      // a lease.
      while (testing::ClaimWatching(&b, &later, &cb).ok() && ++guard < 20) {
        if (cb.index == 0) {
          EXPECT_EQ(cb.attempt, 2u);
        }
        ASSERT_OK(b.Commit(cb, f.Result(cb.attempt, cb.index)));
        commits[cb.index]++;
      }
      for (uint64_t i = 0; i < 5; ++i) EXPECT_EQ(commits[i], 1) << "point " << i;
    }
  }
}

TEST(Claim, RacingTakeoversHaveExactlyOneWinner) {
  Fixture f;
  Claimer a = f.Make(Env::Default(), "a");
  Claim ca;
  ASSERT_OK(a.ClaimNext(&ca));
  ASSERT_OK(a.Release(ca, "{}"));
  Claimer b = f.Make(Env::Default(), "b");
  Claimer c = f.Make(Env::Default(), "c");
  Claim cb, cc;
  ASSERT_OK(b.ClaimNext(&cb));
  ASSERT_OK(c.ClaimNext(&cc));
  // Both saw trial 0 interrupted; only one may own attempt 2.
  EXPECT_NE(cb.index, cc.index);
  EXPECT_EQ(std::set<uint32_t>({cb.index == 0 ? cb.attempt : cc.attempt}), std::set<uint32_t>{2});
}

}  // namespace
}  // namespace claimsweep

namespace claimsweep {
namespace {

// A planted trial directory: trials/1 links outside the sweep to what looks
// like an interrupted trial, and a released lease entry leads claimers to it.
// The claimer takes the other points, never that one, and never errors.
TEST(Claim, ABrokenTrialIsNeverTakenAndNeverStopsClaiming) {
  Fixture f;
  const std::string out = f.tmp.path() + "/outside";
  ASSERT_OK(Env::Default()->CreateDirs(out + "/attempt-0001"));
  testing::WriteRaw(out + "/attempt-0001/owner.json", "{}");
  testing::WriteRaw(out + "/attempt-0001.released.json", "{}");
  ASSERT_EQ(::symlink(out.c_str(), f.layout.trial_dir(1).c_str()), 0);
  testing::WriteRaw(f.layout.lease_path(1, 1) + ".released", "");
  std::unique_ptr<Env> env = NewSweepEnv(f.layout.root());
  Claimer c = f.Make(env.get(), "a");
  std::vector<uint64_t> got;
  for (Claim cl; c.ClaimNext(&cl).ok();) {
    got.push_back(cl.index);
    ASSERT_OK(c.Commit(cl, f.Result(cl.attempt, cl.index)));
  }
  EXPECT_EQ(got, (std::vector<uint64_t>{0, 2, 3, 4}));
  Claim cl;
  EXPECT_TRUE(c.ClaimNext(&cl).IsNotFound());
  std::vector<std::string> outside;
  ASSERT_OK(Env::Default()->ListDir(out, &outside));
  EXPECT_EQ(outside.size(), 2u) << "a claimer wrote into the linked directory";
}

// Entries of the wrong type in a trial directory: each makes the trial
// broken, named relative to the sweep, at no extra cost to the snapshot.
TEST(Claim, SnapshotNamesAnEntryOfTheWrongType) {
  Fixture f;
  std::unique_ptr<Env> env = NewSweepEnv(f.layout.root());
  Claimer c = f.Make(env.get(), "a");
  Claim c0, c1, c2;
  ASSERT_OK(c.ClaimNext(&c0));
  ASSERT_OK(c.ClaimNext(&c1));
  ASSERT_OK(c.ClaimNext(&c2));
  ASSERT_EQ(::mkfifo(f.layout.result_path(0).c_str(), 0644), 0);
  ASSERT_OK(Env::Default()->RemoveFile(f.layout.owner_path(1, 1)));
  ASSERT_EQ(::symlink("/etc/passwd", f.layout.owner_path(1, 1).c_str()), 0);
  ASSERT_OK(Env::Default()->RemoveTree(f.layout.attempt_dir(2, 1)));
  ASSERT_EQ(::symlink(f.tmp.path().c_str(), f.layout.attempt_dir(2, 1).c_str()), 0);
  const std::pair<uint64_t, std::string> want[] = {
      {0, "trials/000000/result.json is a FIFO, not a regular file"},
      {1, "trials/000001/attempt-0001/owner.json is a symlink, not a regular file"},
      {2, "trials/000002/attempt-0001 is a symlink, not a directory"},
  };
  for (const auto& [i, message] : want) {
    TrialSnapshot snap;
    ASSERT_OK(ReadTrialSnapshot(env.get(), f.layout, i, &snap));
    EXPECT_NE(snap.problem.find(message), std::string::npos) << snap.problem;
    DerivedState d = DeriveState(snap, f.spec.claim(), 0);
    EXPECT_EQ(d.state, TrialState::kBroken);
    EXPECT_EQ(d.problem, snap.problem);
  }
}

}  // namespace
}  // namespace claimsweep
