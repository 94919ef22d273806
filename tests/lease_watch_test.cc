// Leases judged by observers' own clocks (lease_watch.h, claim.h): owners
// whose clients stamp heartbeats with a skewed clock, ESTALE from a peer's
// rename, and the cost of a claim with many trials running.
#include <gtest/gtest.h>

#include <cerrno>
#include <map>

#include "claim_util.h"
#include "core/claim.h"
#include "core/json.h"
#include "core/publish.h"
#include "core/sweep_scan.h"
#include "fault_env.h"
#include "records.pb.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::MustParse;
using testing::TempDir;

constexpr double kLease = 60, kBeat = 20;

struct Sweep {
  TempDir tmp;
  SweepSpec spec = MustParse(R"(
    grid { param { name: "x" range { start: 0 stop: 6 step: 1 } } }
    command { argv: "true" }
    claim { lease_seconds: 60 heartbeat_seconds: 20 max_attempts: 3 })");
  SweepLayout layout{tmp.path() + "/s"};
  Sweep() { testing::InitSweep(layout.root(), spec); }
  Claimer Make(Env* env, const std::string& token, uint64_t points = 6) {
    return Claimer(env, layout, spec.claim(), points, token);
  }
  std::string Result(const Claim& c) {
    TrialResult r;
    r.set_index(static_cast<uint32_t>(c.index));
    r.set_attempt(c.attempt);
    r.set_outcome("done");
    return ToJson(r);
  }
};

// Claims and commits every new point, so that only the open trials are left.
void ClaimTheRest(Sweep* s, Claimer* c) {
  Claim cl;
  while (c->ClaimNext(&cl).ok()) ASSERT_OK(c->Commit(cl, s->Result(cl)));
}

// The issue's sshfs finding: with the owner's client 120 s behind (or ahead)
// and a 60 s lease, every live trial was judged stale at once and taken over
// again and again. Judged by the observer's own clock, a live owner is never
// taken over whatever its stamps say, and a dead one is taken over after one
// lease of the observer's time.
TEST(LeaseWatch, AnOwnerWhoseClockIsTwoMinutesOffIsNeverTakenOverWhileItBeats) {
  for (double skew : {-120.0, 120.0}) {
    SCOPED_TRACE("owner's clock " + std::to_string(skew) + " s off");
    Sweep s;
    FaultEnv owner_env(Env::Default());
    owner_env.SkewTouches(skew);
    FaultEnv observer_env(Env::Default());
    Claimer owner = s.Make(&owner_env, "owner");
    Claim mine;
    ASSERT_OK(owner.ClaimNext(&mine));
    ASSERT_OK(owner.Heartbeat(mine));  // stamped with the skewed clock
    Claimer observer = s.Make(&observer_env, "observer");
    ClaimTheRest(&s, &observer);

    // Ten minutes of heartbeats every 20 s: never taken over.
    Claim c;
    for (int beat = 0; beat < 30; ++beat) {
      EXPECT_TRUE(observer.ClaimNext(&c).IsNotFound()) << "beat " << beat;
      observer_env.AdvanceClock(kBeat);
      owner_env.AdvanceClock(kBeat);
      // Each beat lands at a later real time, so the stamp changes.
      ASSERT_OK(testing::BeatUntilChanged(&owner, mine, s.layout));
    }
    EXPECT_FALSE(Env::Default()->Exists(s.layout.attempt_dir(0, 2)));

    // The owner dies. The observer takes over once the stamp has stayed the
    // same for a lease of its own clock: not before, and not much after.
    EXPECT_TRUE(observer.ClaimNext(&c).IsNotFound());  // sees the last stamp
    observer_env.AdvanceClock(kLease - 1);
    EXPECT_TRUE(observer.ClaimNext(&c).IsNotFound());
    observer_env.AdvanceClock(1.5);
    ASSERT_OK(observer.ClaimNext(&c));
    EXPECT_EQ(c.index, 0u);
    EXPECT_EQ(c.attempt, 2u);
    EXPECT_EQ(c.previous, TrialState::kStale);
    EXPECT_TRUE(owner.Heartbeat(mine).IsSuperseded());
  }
}

// An idle claimer exits only once every open trial is alive *now*: one seen
// beating once and silent since may have died right after that beat, so it
// is watched until it beats again or stays unchanged for the lease. (Before,
// such a trial counted as alive, the last idle jobs of a sweep on sshfs left,
// and the dead trial was never taken over.)
TEST(LeaseWatch, AnOwnerSeenBeatingOnceAndSilentSinceIsWatchedUntilJudged) {
  Sweep s;
  Claimer owner = s.Make(Env::Default(), "owner");
  Claim mine;
  ASSERT_OK(owner.ClaimNext(&mine));
  FaultEnv clock(Env::Default());
  Claimer observer = s.Make(&clock, "observer");
  ClaimTheRest(&s, &observer);
  Claim c;
  EXPECT_TRUE(observer.ClaimNext(&c).IsNotFound());  // first look
  EXPECT_TRUE(observer.watching());
  clock.AdvanceClock(10);
  ASSERT_OK(testing::BeatUntilChanged(&owner, mine, s.layout));
  EXPECT_TRUE(observer.ClaimNext(&c).IsNotFound());
  EXPECT_FALSE(observer.watching());  // it just beat: alive now, nothing to wait for
  // The owner dies after that beat. A heartbeat and a half later it is no
  // longer alive now: the observer watches it again...
  clock.AdvanceClock(31);
  EXPECT_TRUE(observer.ClaimNext(&c).IsNotFound());
  EXPECT_TRUE(observer.watching());
  // ... and takes it over a lease after the beat it saw.
  clock.AdvanceClock(30);
  ASSERT_OK(observer.ClaimNext(&c));
  EXPECT_EQ(c.index, 0u);
  EXPECT_EQ(c.attempt, 2u);
}

// A running trial's lease thread watches the open trials after its own and
// marks a dead one's entry .stale, so that any claimer (even one that just
// started, with no history) takes it at once, before new points.
TEST(LeaseWatch, APeerMarksADeadTrialStaleAndAFreshClaimerTakesItFirst) {
  Sweep s;
  Claimer dead = s.Make(Env::Default(), "dead");
  Claim d;
  ASSERT_OK(dead.ClaimNext(&d));  // trial 0; its owner dies now
  FaultEnv peer_env(Env::Default());
  Claimer peer = s.Make(&peer_env, "peer");
  Claim p;
  ASSERT_OK(peer.ClaimNext(&p));
  ASSERT_EQ(p.index, 1u);
  EXPECT_EQ(peer.WatchPeers(p), 0);  // first look at trial 0
  peer_env.AdvanceClock(kLease / 2);
  EXPECT_EQ(peer.WatchPeers(p), 0);
  peer_env.AdvanceClock(kLease / 2 + 1);
  EXPECT_EQ(peer.WatchPeers(p), 1);
  EXPECT_TRUE(Env::Default()->Exists(s.layout.stale_lease_path(0, 1)));
  EXPECT_FALSE(Env::Default()->Exists(s.layout.lease_path(0, 1)));
  // The live peer's own trial is not marked by anyone watching it alive.
  Claimer fresh = s.Make(Env::Default(), "fresh");
  Claim c;
  ASSERT_OK(fresh.ClaimNext(&c));
  EXPECT_EQ(c.index, 0u);
  EXPECT_EQ(c.attempt, 2u);
  EXPECT_EQ(c.previous, TrialState::kStale);
  // The stale entry made way for the new attempt's.
  EXPECT_FALSE(Env::Default()->Exists(s.layout.stale_lease_path(0, 1)));
  EXPECT_TRUE(Env::Default()->Exists(s.layout.lease_path(0, 2)));
}

// A verdict is about one attempt: once a newer attempt runs, an old .stale
// entry is garbage and the running attempt is left alone.
TEST(LeaseWatch, AVerdictOnAnOlderAttemptNeverTakesTheNewerOne) {
  Sweep s;
  Claimer a = s.Make(Env::Default(), "a");
  Claim ca;
  ASSERT_OK(a.ClaimNext(&ca));
  ASSERT_OK(a.Release(ca, "{}"));
  Claimer b = s.Make(Env::Default(), "b");
  Claim cb;
  ASSERT_OK(b.ClaimNext(&cb));
  ASSERT_EQ(cb.attempt, 2u);
  // A late verdict on attempt 1, as a slow watcher might leave behind.
  testing::WriteRaw(s.layout.stale_lease_path(0, 1), "");
  Claimer c = s.Make(Env::Default(), "c");
  Claim cc;
  ASSERT_OK(c.ClaimNext(&cc));
  EXPECT_EQ(cc.index, 1u);  // a new point, not trial 0
  EXPECT_FALSE(Env::Default()->Exists(s.layout.attempt_dir(0, 3)));
  ASSERT_OK(b.Heartbeat(cb));
  // Once attempt 2 has committed, the old entry is garbage, removed by the
  // next claim.
  ASSERT_OK(b.Commit(cb, s.Result(cb)));
  ASSERT_OK(c.ClaimNext(&cc));
  EXPECT_EQ(cc.index, 2u);
  EXPECT_FALSE(Env::Default()->Exists(s.layout.stale_lease_path(0, 1)));
}

// `sweep status` shows an observer's verdict: stale, even when the file time
// looks fresh (a skewed client's stamps can).
TEST(LeaseWatch, StatusShowsAJudgedTrialAsStaleWhateverItsFileTime) {
  Sweep s;
  Claimer a = s.Make(Env::Default(), "a");
  Claim ca, cb;
  ASSERT_OK(a.ClaimNext(&ca));
  ASSERT_OK(a.ClaimNext(&cb));
  ASSERT_OK(a.Heartbeat(ca));  // fresh by the file time
  ASSERT_OK(Env::Default()->Rename(s.layout.lease_path(0, 1), s.layout.stale_lease_path(0, 1)));
  SweepScan scan;
  ASSERT_OK(ScanSweep(Env::Default(), s.layout, s.spec, 6, &scan));
  EXPECT_EQ(scan.counts[static_cast<int>(TrialState::kStale)], 1u);
  EXPECT_EQ(scan.counts[static_cast<int>(TrialState::kRunning)], 1u);  // trial 1
  ASSERT_EQ(scan.trials.size(), 2u);
  EXPECT_EQ(scan.trials[0].derived.state, TrialState::kStale);
}

// ESTALE (or ENOENT) from a peer's rename or unlink means "gone, look again":
// never a failed claim, never a broken trial, never a premature verdict.
TEST(LeaseWatch, EstaleFromAPeersRenameIsGoneLookAgainNeverAFailure) {
  Sweep s;
  Claimer a = s.Make(Env::Default(), "a");
  Claim ca;
  ASSERT_OK(a.ClaimNext(&ca));
  ASSERT_OK(a.Release(ca, "{}"));  // trial 0: leases/000000.0001.released
  FaultEnv nfs(Env::Default());
  Claimer b = s.Make(&nfs, "b");
  // The listing of trial 0's directory hits a stale handle: b claims a new
  // point meanwhile, and trial 0 is not called broken.
  nfs.FailOnce("trials/000000", ESTALE);
  Claim cb;
  ASSERT_OK(b.ClaimNext(&cb));
  EXPECT_EQ(cb.index, 1u);
  TrialSnapshot snap;
  ASSERT_OK(ReadTrialSnapshot(Env::Default(), s.layout, 0, &snap));
  EXPECT_TRUE(snap.problem.empty()) << snap.problem;
  ASSERT_OK(b.Commit(cb, s.Result(cb)));
  // Looking again, it takes trial 0.
  ASSERT_OK(b.ClaimNext(&cb));
  EXPECT_EQ(cb.index, 0u);
  EXPECT_EQ(cb.attempt, 2u);

  // Its owner's release: a watcher renamed the lease entry first (judging it
  // stale), and the owner's own rename answers ESTALE: the release still
  // succeeds, and the trial is claimable.
  ASSERT_OK(Env::Default()->Rename(s.layout.lease_path(0, 2), s.layout.stale_lease_path(0, 2)));
  nfs.FailOnce("leases/000000.0002", ESTALE);
  ASSERT_OK(b.Release(cb, "{}"));

  // C takes trial 0 as attempt 3 and dies holding it.
  Claimer c = s.Make(Env::Default(), "c");
  Claim cc;
  ASSERT_OK(c.ClaimNext(&cc));
  ASSERT_EQ(cc.index, 0u);
  ASSERT_EQ(cc.attempt, 3u);
  Claimer d = s.Make(&nfs, "d");
  ClaimTheRest(&s, &d);
  // A watched owner.json answering ESTALE once is neither a dead owner (no
  // takeover then) nor a new stamp (the lease is still counted from the
  // first look).
  Claim cd;
  EXPECT_TRUE(d.ClaimNext(&cd).IsNotFound());
  nfs.AdvanceClock(kLease / 2);
  nfs.FailOnce("attempt-0003/owner.json", ESTALE);
  EXPECT_TRUE(d.ClaimNext(&cd).IsNotFound());
  nfs.AdvanceClock(kLease / 2 + 1);
  ASSERT_OK(d.ClaimNext(&cd));
  EXPECT_EQ(cd.index, 0u);
  EXPECT_EQ(cd.attempt, 4u);
}

// sshfs answers a rename onto a non-empty directory with EPERM: a lost race,
// like EEXIST, so the claimer moves on instead of failing its claim.
TEST(LeaseWatch, AnSshfsEpermFromARenameOntoAPublishedDirectoryIsALostRace) {
  TempDir tmp;
  const std::string staged = tmp.path() + "/staged", target = tmp.path() + "/target";
  ASSERT_OK(Env::Default()->CreateDirs(staged + "/attempt-0001"));
  ASSERT_OK(Env::Default()->CreateDirs(target + "/attempt-0001"));
  FaultEnv sshfs(Env::Default());
  sshfs.FailOnce("/staged", EPERM);
  EXPECT_TRUE(PublishDir(&sshfs, staged, target).IsAlreadyExists());
  // A real permission problem (no target there) stays one.
  ASSERT_OK(Env::Default()->RemoveTree(target));
  sshfs.FailOnce("/staged", EPERM);
  Status s = PublishDir(&sshfs, staged, target);
  EXPECT_FALSE(s.IsAlreadyExists()) << s.ToString();
  EXPECT_FALSE(s.ok());
}

// A claim reads only the trials whose entry is marked released or stale, so
// its cost does not grow with the number of running trials.
TEST(LeaseWatch, AClaimCostsTheSameWithOneOrAThousandTrialsRunning) {
  std::map<int, long> cost;
  for (int running : {1, 1000}) {
    Sweep s;
    const uint64_t points = 4000, claimed = 2000;
    Claimer owners = s.Make(Env::Default(), "owners", points);
    Claim c;
    for (uint64_t i = 0; i < claimed; ++i) {
      ASSERT_OK(owners.ClaimNext(&c));
      if (i < claimed - running) {
        ASSERT_OK(owners.Commit(c, s.Result(c)));
      }
    }
    FaultEnv counting(Env::Default());
    Claimer fresh = s.Make(&counting, "fresh", points);
    ASSERT_OK(fresh.ClaimNext(&c));
    EXPECT_EQ(c.index, claimed);
    ASSERT_OK(fresh.Commit(c, s.Result(c)));
    cost[running] = counting.calls();
  }
  EXPECT_EQ(cost[1000], cost[1]);
  EXPECT_LE(cost[1000], 30);
}

}  // namespace
}  // namespace claimsweep
