// A derived stage's work queue (docs/derived-work.md, step 2): the same
// Claimer over SweepLayout::ForStage, claiming items only through their
// announcements (`<key>.0000.released`) and takeovers, with the claim
// protocol's guarantees: one winner, early announcements left alone, a
// crash at every operation losing and duplicating nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <thread>

#include "claim_util.h"
#include "core/claim.h"
#include "core/json.h"
#include "fault_env.h"
#include "records.pb.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::InitedSweep;

const char kSpec[] = R"(
  grid { param { name: "x" range { start: 0 stop: 5 step: 1 } } }
  command { argv: "true" }
  claim { lease_seconds: 30 heartbeat_seconds: 1 max_attempts: 2 })";

struct Queue {
  InitedSweep sweep{kSpec};
  SweepLayout eval = SweepLayout::ForStage(sweep.layout.root(), "eval");
  Queue() {
    EXPECT_OK(Env::Default()->CreateDirs(eval.trials_dir()));
    EXPECT_OK(Env::Default()->CreateDirs(eval.leases_dir()));
  }
  void Announce(uint64_t key) {
    ASSERT_OK(Env::Default()->CreateExclusive(eval.released_lease_path(key, 0), ""));
  }
  std::unique_ptr<Claimer> Make(Env* env, const std::string& token,
                                std::function<bool(uint64_t)> ready = nullptr) {
    auto c = std::make_unique<Claimer>(env, eval, sweep.spec.claim(), 5, token);
    Claimer::QueueOptions q;
    q.ordered = false;
    q.ready = std::move(ready);
    c->set_queue(std::move(q));
    return c;
  }
  std::string Result(uint64_t key, uint32_t attempt) {
    TrialResult r;
    r.set_index(static_cast<uint32_t>(ItemUpstream(key)));
    r.set_attempt(attempt);
    r.set_outcome("done");
    return ToJson(r);
  }
  size_t Entries() {
    std::vector<std::string> n;
    Env::Default()->ListDir(eval.leases_dir(), &n).IgnoreError();
    return n.size();
  }
};

TEST(DerivedQueue, AnAnnouncedItemIsClaimedOnceAndNothingElseIs) {
  Queue q;
  const uint64_t key = ItemKey(2, 4);
  q.Announce(key);
  auto c = q.Make(Env::Default(), "a");
  Claim cl;
  ASSERT_OK(c->ClaimNext(&cl));
  EXPECT_EQ(cl.index, key);
  EXPECT_EQ(cl.attempt, 1u);
  EXPECT_TRUE(Env::Default()->Exists(q.eval.attempt_dir(key, 1)));
  EXPECT_TRUE(Env::Default()->Exists(q.eval.lease_path(key, 1)));
  EXPECT_FALSE(Env::Default()->Exists(q.eval.released_lease_path(key, 0)));
  ASSERT_OK(c->Commit(cl, q.Result(key, 1)));
  EXPECT_TRUE(Env::Default()->Exists(q.eval.result_path(key)));
  EXPECT_EQ(q.Entries(), 0u);
  // No new items are made up in index order, and the sweep's own points are
  // another queue.
  EXPECT_TRUE(c->ClaimNext(&cl).IsNotFound());
  EXPECT_FALSE(Env::Default()->Exists(q.sweep.layout.trial_dir(0)));
}

TEST(DerivedQueue, EarlyAndUnknownAnnouncementsAreLeftAlone) {
  Queue q;
  q.Announce(ItemKey(1, 0));
  q.Announce(ItemKey(9, 0));  // upstream point 9: beyond this claimer's 5 points
  bool committed = false;
  auto c = q.Make(Env::Default(), "a", [&](uint64_t) { return committed; });
  Claim cl;
  EXPECT_TRUE(c->ClaimNext(&cl).IsNotFound());
  EXPECT_EQ(q.Entries(), 2u);
  committed = true;
  ASSERT_OK(c->ClaimNext(&cl));
  EXPECT_EQ(cl.index, ItemKey(1, 0));
  EXPECT_TRUE(Env::Default()->Exists(q.eval.released_lease_path(ItemKey(9, 0), 0)));
}

TEST(DerivedQueue, RacingClaimersOfOneAnnouncementHaveOneWinner) {
  for (int round = 0; round < 20; ++round) {
    Queue q;
    q.Announce(ItemKey(3, 0));
    std::atomic<int> won{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        auto c = q.Make(Env::Default(), "t" + std::to_string(t));
        Claim cl;
        if (c->ClaimNext(&cl).ok()) ++won;
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(won.load(), 1) << "round " << round;
  }
}

// A claimer dies at every operation of claim + commit over three announced
// items; a second claimer (its clock a lease later) finishes: each item is
// committed exactly once, and no entry is left.
TEST(DerivedQueue, ACrashAtEveryOperationLosesNothingAndDuplicatesNothing) {
  const std::vector<uint64_t> keys = {ItemKey(0, 2), ItemKey(0, 4), ItemKey(3, 0)};
  long full = 0;
  {
    Queue q;
    for (uint64_t k : keys) q.Announce(k);
    FaultEnv counting(Env::Default());
    auto a = q.Make(&counting, "a");
    Claim c;
    ASSERT_OK(a->ClaimNext(&c));
    ASSERT_OK(a->Commit(c, q.Result(c.index, 1)));
    full = counting.ops();
  }
  ASSERT_GT(full, 4);
  for (long crash_at = 0; crash_at <= full; ++crash_at) {
    SCOPED_TRACE("crash at op " + std::to_string(crash_at));
    Queue q;
    for (uint64_t k : keys) q.Announce(k);
    FaultEnv dying(Env::Default());
    dying.CrashAtOp(crash_at);
    auto a = q.Make(&dying, "a");
    std::map<uint64_t, int> commits;
    Claim ca;
    if (a->ClaimNext(&ca).ok() && a->Commit(ca, q.Result(ca.index, ca.attempt)).ok())
      ++commits[ca.index];
    FaultEnv later(Env::Default());
    later.AdvanceClock(31);
    auto b = q.Make(&later, "b");
    Claim cb;
    int guard = 0;
    while (testing::ClaimWatching(b.get(), &later, &cb).ok() && ++guard < 20) {
      ASSERT_OK(b->Commit(cb, q.Result(cb.index, cb.attempt)));
      ++commits[cb.index];
    }
    for (uint64_t k : keys) {
      EXPECT_EQ(commits[k], 1) << q.eval.entry_name(k);
      EXPECT_TRUE(Env::Default()->Exists(q.eval.result_path(k))) << q.eval.entry_name(k);
    }
    EXPECT_EQ(commits.size(), keys.size());
    EXPECT_EQ(q.Entries(), 0u);
  }
}

}  // namespace
}  // namespace claimsweep
