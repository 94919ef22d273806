// Derived stages (core/derived.h): announcements made before the upstream's
// commit, their recovery, and the after_all gate, with the claim protocol's
// guarantees under crashes at every operation and racing finishers.
#include "core/derived.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <random>
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

std::string Spec(int points) {
  return R"(
  grid { param { name: "x" range { start: 0 stop: )" +
         std::to_string(points) + R"( step: 1 } } }
  command { argv: "true" }
  claim { lease_seconds: 30 heartbeat_seconds: 1 max_attempts: 2 }
  stage { name: "post" each_trial: true command { argv: "true" } }
  stage { name: "collect" after_all: "post" command { argv: "true" } })";
}

std::string Done(uint64_t index, uint32_t attempt) {
  TrialResult r;
  r.set_index(static_cast<uint32_t>(ItemUpstream(index) ? ItemUpstream(index) : index));
  r.set_attempt(attempt);
  r.set_outcome("done");
  return ToJson(r);
}

struct Pipeline {
  explicit Pipeline(int points) : n(points), sweep(Spec(points)), graph(sweep.spec) {
    for (const StageInfo& s : graph.stages()) {
      const SweepLayout q = SweepLayout::ForStage(sweep.layout.root(), s.name);
      EXPECT_OK(Env::Default()->CreateDirs(q.trials_dir()));
      EXPECT_OK(Env::Default()->CreateDirs(q.leases_dir()));
    }
  }
  const StageInfo& post() const { return *graph.Find("post"); }
  const StageInfo& collect() const { return *graph.Find("collect"); }
  SweepLayout Queue(const std::string& stage) const {
    return SweepLayout::ForStage(sweep.layout.root(), stage);
  }
  std::unique_ptr<Claimer> Points(Env* env, const std::string& token) const {
    return std::make_unique<Claimer>(env, sweep.layout, sweep.spec.claim(), n, token);
  }
  std::unique_ptr<Claimer> Stage(Env* env, const StageInfo& s, const std::string& token) const {
    auto c = std::make_unique<Claimer>(env, Queue(s.name), sweep.spec.claim(), n, token);
    Claimer::QueueOptions q;
    q.ordered = false;
    const SweepLayout root = sweep.layout;
    q.ready = [env, root, &s](uint64_t key) { return InputReady(env, root, s, key); };
    c->set_queue(std::move(q));
    return c;
  }
  // A point's trial done by hand (no claim): its directory and result.json.
  void FinishTrial(uint64_t i) const {
    ASSERT_OK(Env::Default()->CreateDirs(sweep.layout.trial_dir(i)));
    ASSERT_OK(Env::Default()->CreateExclusive(sweep.layout.result_path(i), Done(i, 1)));
  }
  void FinishItem(const StageInfo& s, uint64_t key) const {
    const SweepLayout q = Queue(s.name);
    ASSERT_OK(Env::Default()->CreateDirs(q.trial_dir(key)));
    ASSERT_OK(Env::Default()->CreateExclusive(q.result_path(key), Done(key, 1)));
  }
  size_t LeaseEntries(const std::string& stage) const {
    std::vector<std::string> names;
    Env::Default()->ListDir(Queue(stage).leases_dir(), &names).IgnoreError();
    return names.size();
  }
  bool Announced(const std::string& stage, uint64_t key) const {
    return Env::Default()->Exists(Queue(stage).released_lease_path(key, 0));
  }
  int n;
  InitedSweep sweep;
  StageGraph graph;
};

TEST(Derived, TheGraphNamesEachStagesKindAndInput) {
  Pipeline p(3);
  ASSERT_EQ(p.graph.stages().size(), 2u);
  EXPECT_EQ(p.post().kind, StageKind::kEachTrial);
  EXPECT_EQ(p.post().input, kTrialsStageName);
  EXPECT_EQ(p.collect().kind, StageKind::kAfterAll);
  EXPECT_EQ(p.collect().input, "post");
  ASSERT_EQ(p.graph.FunnelsOf("post").size(), 1u);
  EXPECT_TRUE(p.graph.FunnelsOf(kTrialsStageName).empty());
  EXPECT_EQ(p.graph.Find("nope"), nullptr);
}

TEST(Derived, AnAnnouncementIsMadeOnceAndIsReadyOnlyOnceItsInputIsCommitted) {
  Pipeline p(3);
  const SweepLayout post = p.Queue("post");
  ASSERT_OK(Announce(Env::Default(), post, StageItemKey(1)));
  ASSERT_OK(Announce(Env::Default(), post, StageItemKey(1)));  // a retransmit, a retry
  EXPECT_EQ(p.LeaseEntries("post"), 1u);
  EXPECT_FALSE(InputReady(Env::Default(), p.sweep.layout, p.post(), StageItemKey(1)));
  // Announced early (its upstream crashed before committing): left alone.
  auto c = p.Stage(Env::Default(), p.post(), "a");
  Claim cl;
  EXPECT_TRUE(c->ClaimNext(&cl).IsNotFound());
  EXPECT_EQ(p.LeaseEntries("post"), 1u);
  p.FinishTrial(1);
  EXPECT_TRUE(InputReady(Env::Default(), p.sweep.layout, p.post(), StageItemKey(1)));
  ASSERT_OK(c->ClaimNext(&cl));
  EXPECT_EQ(cl.index, StageItemKey(1));
}

// The upstream owner's sequence (claim, announce, commit) and then the
// downstream item's (claim, commit), crashed at every filesystem operation:
// a second worker finishes both, every trial and item done once.
TEST(Derived, ACrashAtEveryOperationOfClaimAnnounceCommitLosesNothing) {
  auto run = [](Pipeline& p, Env* env, const std::string& token, std::map<std::string, int>* ok) {
    auto points = p.Points(env, token);
    auto post = p.Stage(env, p.post(), token);
    Claim c;
    if (!points->ClaimNext(&c).ok()) return;
    if (!Announce(env, p.Queue("post"), StageItemKey(c.index)).ok()) return;
    if (!points->Commit(c, Done(c.index, c.attempt)).ok()) return;
    ++(*ok)["trial " + TrialName(c.index)];
    Claim d;
    if (!post->ClaimNext(&d).ok()) return;
    if (post->Commit(d, Done(d.index, d.attempt)).ok()) ++(*ok)["item " + ItemName(d.index)];
  };
  long full = 0;
  {
    Pipeline p(1);
    FaultEnv counting(Env::Default());
    std::map<std::string, int> ok;
    run(p, &counting, "a", &ok);
    ASSERT_EQ(ok.size(), 2u);
    full = counting.ops();
  }
  ASSERT_GT(full, 8);
  for (long crash_at = 0; crash_at <= full; ++crash_at) {
    SCOPED_TRACE("crash at op " + std::to_string(crash_at));
    Pipeline p(1);
    std::map<std::string, int> ok;
    FaultEnv dying(Env::Default());
    dying.CrashAtOp(crash_at);
    run(p, &dying, "a", &ok);
    // The next worker: downstream items first, then the sweep's points, each
    // taken over once stale (its clock moved past the lease).
    FaultEnv later(Env::Default());
    later.AdvanceClock(31);
    auto points = p.Points(&later, "b");
    auto post = p.Stage(&later, p.post(), "b");
    for (int guard = 0; guard < 10; ++guard) {
      Claim c;
      if (testing::ClaimWatching(post.get(), &later, &c).ok()) {
        ASSERT_OK(post->Commit(c, Done(c.index, c.attempt)));
        ++ok["item " + ItemName(c.index)];
        continue;
      }
      if (!testing::ClaimWatching(points.get(), &later, &c).ok()) break;
      ASSERT_OK(Announce(&later, p.Queue("post"), StageItemKey(c.index)));
      ASSERT_OK(points->Commit(c, Done(c.index, c.attempt)));
      ++ok["trial " + TrialName(c.index)];
    }
    EXPECT_TRUE(Env::Default()->Exists(p.sweep.layout.result_path(0)));
    EXPECT_TRUE(Env::Default()->Exists(p.Queue("post").result_path(StageItemKey(0))));
    // A crash can fall after a commit's link and before it reports: the
    // result is there, and nobody committed it again.
    for (const auto& [what, n] : ok) EXPECT_EQ(n, 1) << what;
    EXPECT_EQ(p.LeaseEntries("post"), 0u);
  }
}

TEST(Derived, AnAnnouncementLostToAFalseEexistIsMadeByReconcile) {
  Pipeline p(4);
  FaultEnv lying(Env::Default());
  lying.FailOnce(".0000.released", EEXIST);
  // The owner of trial 2 is told its announcement exists; it commits.
  ASSERT_OK(Announce(&lying, p.Queue("post"), StageItemKey(2)));
  p.FinishTrial(2);
  p.FinishTrial(0);
  ASSERT_OK(Announce(Env::Default(), p.Queue("post"), StageItemKey(0)));
  auto post = p.Stage(Env::Default(), p.post(), "a");
  Claim c;
  ASSERT_OK(post->ClaimNext(&c));
  EXPECT_EQ(c.index, StageItemKey(0));
  EXPECT_TRUE(post->ClaimNext(&c).IsNotFound());  // item (2,0) was never announced
  uint64_t announced = 0;
  ASSERT_OK(ReconcileAnnouncements(Env::Default(), p.sweep.layout, p.post(), 4, &announced));
  EXPECT_EQ(announced, 1u);  // (2,0); (0,0) is claimed; trials 1 and 3 are not done
  ASSERT_OK(post->ClaimNext(&c));
  EXPECT_EQ(c.index, StageItemKey(2));
  ASSERT_OK(ReconcileAnnouncements(Env::Default(), p.sweep.layout, p.post(), 4, &announced));
  EXPECT_EQ(announced, 0u);
}

// Gate over the `post` stage's items: member point i is complete when item
// (i,0) is done.
struct GateFixture {
  explicit GateFixture(int points, uint64_t block = Gate::kBlock)
      : p(points), gate(Env::Default(), p.sweep.layout, &p.graph, &p.collect(), nullptr, block) {}
  void Finish(uint64_t i) { p.FinishItem(p.post(), StageItemKey(i)); }
  bool Announced(uint32_t v = 1) const { return p.Announced("collect", FunnelKey(v)); }
  Pipeline p;
  Gate gate;
};

TEST(Gate, TheLastFinisherAnnouncesOnceAndNoOneBefore) {
  // Two full blocks and a tail (blocks of 40 here, of 1000 on disk),
  // finished in a random order.
  const int n = 95;
  GateFixture g(n, 40);
  std::vector<uint64_t> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(7));
  int announcements = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    g.Finish(order[k]);
    bool announced = false;
    ASSERT_OK(g.gate.PointDone(order[k], n, 1, &announced));
    announcements += announced;
    if (k + 1 < order.size()) {
      ASSERT_FALSE(g.Announced()) << "after " << k + 1 << " members";
    }
  }
  EXPECT_EQ(announcements, 1);
  EXPECT_TRUE(g.Announced());
  // A member reporting again changes nothing.
  bool again = true;
  ASSERT_OK(g.gate.PointDone(order[0], n, 1, &again));
  EXPECT_FALSE(again);
}

TEST(Gate, AMemberNotCompleteIsNotMarked) {
  GateFixture g(3);
  g.Finish(0);
  g.Finish(1);
  // Point 2 claims to be done, but its item has no result.
  ASSERT_OK(g.gate.PointDone(2, 3, 1));
  ASSERT_OK(g.gate.PointDone(0, 3, 1));
  ASSERT_OK(g.gate.PointDone(1, 3, 1));
  EXPECT_FALSE(g.Announced());
  g.Finish(2);
  ASSERT_OK(g.gate.PointDone(2, 3, 1));
  EXPECT_TRUE(g.Announced());
}

TEST(Gate, RacingFinishersAnnounceExactlyOnce) {
  for (int round = 0; round < 12; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const int n = 16;
    GateFixture g(n);
    std::atomic<int> announcements{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (uint64_t i = t; i < static_cast<uint64_t>(n); i += 8) {
          g.Finish(i);
          bool announced = false;
          EXPECT_OK(g.gate.PointDone(i, n, 1, &announced));
          announcements += announced;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(announcements.load(), 1);
    EXPECT_TRUE(g.Announced());
  }
}

// The last two finishers both crash at every operation of their gate steps
// (results committed, markers partly made): nothing is announced, and Repair,
// run by an idle worker, announces exactly once.
TEST(Gate, ACrashAtEveryOperationOfTheLastTwoFinishersIsRepaired) {
  long full = 0;
  {
    GateFixture g(3);
    for (uint64_t i = 0; i < 3; ++i) g.Finish(i);
    ASSERT_OK(g.gate.PointDone(0, 3, 1));
    FaultEnv counting(Env::Default());
    Gate gate(&counting, g.p.sweep.layout, &g.p.graph, &g.p.collect());
    ASSERT_OK(gate.PointDone(1, 3, 1));
    ASSERT_OK(gate.PointDone(2, 3, 1));
    ASSERT_TRUE(g.Announced());
    full = counting.ops();
  }
  ASSERT_GE(full, 3);
  for (long crash_at = 0; crash_at <= full; ++crash_at) {
    SCOPED_TRACE("crash at op " + std::to_string(crash_at));
    GateFixture g(3);
    for (uint64_t i = 0; i < 3; ++i) g.Finish(i);
    ASSERT_OK(g.gate.PointDone(0, 3, 1));
    FaultEnv dying(Env::Default());
    dying.CrashAtOp(crash_at);
    Gate gate(&dying, g.p.sweep.layout, &g.p.graph, &g.p.collect());
    int announcements = 0;
    for (uint64_t i : {1, 2}) {
      bool announced = false;
      if (gate.PointDone(i, 3, 1, &announced).ok()) announcements += announced;
    }
    bool repaired = false;
    ASSERT_OK(g.gate.Repair(3, 1, &repaired));
    announcements += repaired;
    EXPECT_TRUE(g.Announced());
    // Made once: by a finisher, or by the repair (a create that crashed may
    // still have made the file, then neither reports it).
    EXPECT_LE(announcements, 1);
    if (crash_at >= full) {
      EXPECT_EQ(announcements, 1);
    }
    // Repairing again finds the announcement and does nothing.
    ASSERT_OK(g.gate.Repair(3, 1, &repaired));
    EXPECT_FALSE(repaired);
  }
}

TEST(Gate, RepairStopsAtThePointNotCompleteAndAnnouncesNothing) {
  GateFixture g(5);
  for (uint64_t i : {0, 1, 3, 4}) g.Finish(i);  // no gate steps ran at all
  bool announced = true;
  ASSERT_OK(g.gate.Repair(5, 1, &announced));
  EXPECT_FALSE(announced);
  EXPECT_FALSE(g.Announced());
  g.Finish(2);
  ASSERT_OK(g.gate.Repair(5, 1, &announced));
  EXPECT_TRUE(announced);
  EXPECT_TRUE(g.Announced());
}

// `sweep extend` grew the sweep from 3 to 5 points (version 2) while the
// first three finished: the funnel waits for all five and runs for version 2.
TEST(Gate, ANewerSpecVersionsPointsAreWaitedFor) {
  Pipeline p(5);
  int refreshes = 0;
  Gate gate(Env::Default(), p.sweep.layout, &p.graph, &p.collect(),
            [&refreshes](uint64_t* n, uint32_t* v) {
              if (*v >= 2) return false;
              ++refreshes;
              *n = 5;
              *v = 2;
              return true;
            });
  for (uint64_t i = 0; i < 3; ++i) {
    p.FinishItem(p.post(), StageItemKey(i));
    ASSERT_OK(gate.PointDone(i, 3, 1));
  }
  EXPECT_GE(refreshes, 1);
  EXPECT_FALSE(p.Announced("collect", FunnelKey(1)));
  EXPECT_FALSE(p.Announced("collect", FunnelKey(2)));
  for (uint64_t i = 3; i < 5; ++i) {
    p.FinishItem(p.post(), StageItemKey(i));
    ASSERT_OK(gate.PointDone(i, 5, 2));
  }
  EXPECT_FALSE(p.Announced("collect", FunnelKey(1)));
  EXPECT_TRUE(p.Announced("collect", FunnelKey(2)));
}

TEST(Gate, AnEachCheckpointInputNeedsTheTrialAndEveryKeptItemDone) {
  InitedSweep sweep(R"(
    grid { param { name: "seed" values: "1" values: "2" } }
    train { model: "resnet_cifar" depth: 8 dataset: "d" epochs: 4 keep_checkpoints_every: 2 }
    stage { name: "eval" each_checkpoint: true command { argv: "true" } }
    stage { name: "collect" after_all: "eval" command { argv: "true" } })");
  StageGraph graph(sweep.spec);
  const SweepLayout eval = SweepLayout::ForStage(sweep.layout.root(), "eval");
  Env* env = Env::Default();
  Gate gate(env, sweep.layout, &graph, graph.Find("collect"));
  for (uint64_t i = 0; i < 2; ++i) {
    ASSERT_OK(env->CreateDirs(KeptDir(sweep.layout, i)));
    for (uint32_t e : {2u, 4u}) {
      ASSERT_OK(env->CreateExclusive(KeptCheckpointPath(sweep.layout, i, e), "ckpt"));
      ASSERT_OK(env->CreateDirs(eval.trial_dir(StageItemKey(i, e))));
    }
  }
  std::vector<uint32_t> epochs;
  ASSERT_OK(ListKeptEpochs(env, sweep.layout, 1, &epochs));
  EXPECT_EQ(epochs, (std::vector<uint32_t>{2, 4}));
  auto done = [&](const std::string& path) { ASSERT_OK(env->CreateExclusive(path, "{}")); };
  done(eval.result_path(StageItemKey(0, 2)));
  done(eval.result_path(StageItemKey(0, 4)));
  EXPECT_FALSE(gate.PointComplete(0));  // trial 0 is still training: more may be kept
  ASSERT_OK(env->CreateDirs(sweep.layout.trial_dir(0)));
  done(sweep.layout.result_path(0));
  EXPECT_TRUE(gate.PointComplete(0));
  ASSERT_OK(env->CreateDirs(sweep.layout.trial_dir(1)));
  done(sweep.layout.result_path(1));
  done(eval.result_path(StageItemKey(1, 2)));
  EXPECT_FALSE(gate.PointComplete(1));  // epoch 4's item is not done
  done(eval.result_path(StageItemKey(1, 4)));
  EXPECT_TRUE(gate.PointComplete(1));
}

}  // namespace
}  // namespace claimsweep
