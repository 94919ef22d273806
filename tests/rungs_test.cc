// Early stopping's rungs on disk (core/rungs.h): exact score markers, SHA's
// promotions made once and the same whatever the arrival order, ASHA's
// decisions following the paper's rule through the filesystem, promotions
// exactly once under racing deciders, and lost scores repaired.
#include "core/rungs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <thread>

#include "core/json.h"
#include "fault_env.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::InitedSweep;
using testing::WriteRaw;

std::string Spec(int points, bool synchronous) {
  return R"(
  grid { param { name: "x" range { start: 0 stop: )" +
         std::to_string(points) + R"( step: 1 } } }
  command { argv: "true" }
  claim { lease_seconds: 30 heartbeat_seconds: 1 max_attempts: 2 }
  early_stopping { asha { metric: "val_acc" maximize: true min_epochs: 1 max_epochs: 9
                          reduction: 3 synchronous: )" +
         (synchronous ? "true" : "false") + " } }";
}

struct Fixture {
  Fixture(int points, bool synchronous)
      : n(points),
        sweep(Spec(points, synchronous)),
        rungs(Env::Default(), sweep.layout, sweep.spec.early_stopping().asha()) {}
  // The configurations announced (not yet claimed) in rung k's queue.
  std::set<uint64_t> Announced(uint32_t k) const {
    std::set<uint64_t> out;
    std::vector<std::string> names;
    EXPECT_OK(Env::Default()->ListDir(RungQueue(sweep.layout, k).leases_dir(), &names));
    for (const std::string& name : names) {
      uint64_t key = 0;
      EXPECT_EQ(name.substr(name.size() - 14), ".0000.released") << name;
      EXPECT_TRUE(ParseItemName(name.substr(0, name.size() - 14), &key)) << name;
      out.insert(ItemUpstream(key));
    }
    return out;
  }
  RungResult R(uint64_t c, double v) const { return RungResult{c, v, false}; }
  int n;
  InitedSweep sweep;
  Rungs rungs;
};

TEST(Rungs, ScoreMarkersKeepTheValueExactly) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (double v : {0.1, 1.0 / 3, -2.5e-300, 0.0, -0.0, 0.87654321012345678, 1e300}) {
    SCOPED_TRACE(v);
    RungResult back;
    const std::string name = ScoreMarkerName(RungResult{42, v, false});
    ASSERT_TRUE(ParseScoreMarker(name, &back)) << name;
    EXPECT_EQ(back.config, 42u);
    EXPECT_FALSE(back.failed);
    EXPECT_EQ(back.value, v);  // bit for bit (0 and -0 compare equal)
    EXPECT_EQ(name.find("-0") == std::string::npos || v != 0, true) << name;
  }
  for (double v : {nan, inf, -inf})
    EXPECT_EQ(ScoreMarkerName(RungResult{7, v, false}), "000007=fail");
  EXPECT_EQ(ScoreMarkerName(RungResult{7, 0.5, true}), "000007=fail");
  RungResult r;
  for (const char* bad :
       {"000001", "x=0.5", "000001=", "000001=nan", "000001=inf", "000001=0.5x", "000001=1e999"})
    EXPECT_FALSE(ParseScoreMarker(bad, &r)) << bad;
}

TEST(Rungs, ReadCountsAConfigurationOnceByItsFiniteResult) {
  Fixture f(3, true);
  ASSERT_OK(f.rungs.Publish(0, RungResult{1, 0, true}));  // failed, then retried by the user
  ASSERT_OK(f.rungs.Publish(0, f.R(1, 0.25)));
  ASSERT_OK(f.rungs.Publish(0, f.R(1, 0.25)));                    // again: no error, one marker
  WriteRaw(RungScoresDir(f.sweep.layout, 0) + "/notes.txt", "");  // not a marker: ignored
  std::vector<RungResult> got;
  ASSERT_OK(f.rungs.Read(0, &got));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].config, 1u);
  EXPECT_FALSE(got[0].failed);
  EXPECT_EQ(got[0].value, 0.25);
}

// SHA: nothing is promoted before the rung's last result; then exactly the
// top third, whatever order the results came in (30 shuffles of 9), and the
// next rung's top third once those are done.
TEST(Rungs, ShaPromotesTheTopThirdOnceTheRungIsCompleteInAnyArrivalOrder) {
  const std::vector<double> v = {0.30, 0.91, 0.55, 0.10, 0.91, 0.42, 0.77, 0.05, 0.60};
  // Top 3 by value, ties to the lower config: 1 (0.91), 4 (0.91), 6 (0.77).
  const std::set<uint64_t> top = {1, 4, 6};
  std::mt19937 rng(7);
  for (int round = 0; round < 30; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    Fixture f(9, true);
    std::vector<uint64_t> order = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t i = 0; i < order.size(); ++i) {
      size_t announced = 0;
      ASSERT_OK(f.rungs.Finished(0, f.R(order[i], v[order[i]]), 9, &announced));
      EXPECT_EQ(announced, i + 1 == order.size() ? 3u : 0u) << i;
    }
    EXPECT_EQ(f.Announced(1), top);
    // Rung 1 in reverse order of value: only the last completes it.
    const std::vector<std::pair<uint64_t, double>> r1 = {{6, 0.99}, {4, 0.80}, {1, 0.85}};
    for (size_t i = 0; i < r1.size(); ++i) {
      size_t announced = 0;
      ASSERT_OK(f.rungs.Finished(1, f.R(r1[i].first, r1[i].second), 9, &announced));
      EXPECT_EQ(announced, i + 1 == r1.size() ? 1u : 0u);
    }
    EXPECT_EQ(f.Announced(2), std::set<uint64_t>{6});
    // The top rung promotes nothing.
    size_t announced = 0;
    ASSERT_OK(f.rungs.Finished(2, f.R(6, 0.99), 9, &announced));
    EXPECT_EQ(announced, 0u);
  }
}

TEST(Rungs, AFailedConfigurationRanksLastAndIsNeverPromoted) {
  Fixture f(3, true);
  size_t announced = 0;
  ASSERT_OK(f.rungs.Finished(0, RungResult{0, 0.99, true}, 3, &announced));  // diverged
  ASSERT_OK(f.rungs.Finished(0, f.R(1, std::nan("")), 3, &announced));       // no metric
  ASSERT_OK(f.rungs.Finished(0, f.R(2, 0.01), 3, &announced));
  EXPECT_EQ(announced, 1u);
  EXPECT_EQ(f.Announced(1), std::set<uint64_t>{2});
}

// 8 threads finish 27 configurations at once: the 9 promotions are each
// created once (a racing finisher that also saw the rung complete loses only
// EEXISTs), and at least one finisher saw it.
TEST(Rungs, RacingFinishersCreateEachPromotionOnce) {
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    Fixture f(27, true);
    std::atomic<size_t> created{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        Rungs mine(Env::Default(), f.sweep.layout, f.sweep.spec.early_stopping().asha());
        for (uint64_t c = t; c < 27; c += 8) {
          size_t announced = 0;
          EXPECT_OK(mine.Finished(0, f.R(c, static_cast<double>((c * 7) % 27)), 27, &announced));
          created += announced;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(created.load(), 9u);
    std::set<uint64_t> expected;
    for (uint64_t c = 0; c < 27; ++c) {
      if ((c * 7) % 27 >= 18) expected.insert(c);
    }
    EXPECT_EQ(f.Announced(1), expected);
  }
}

// A worker that committed but died before publishing its score: no promotion
// is made until an idle worker's Repair reads the record and publishes it.
TEST(Rungs, RepairPublishesAScoreLostBetweenCommitAndMarkerAndPromotes) {
  Fixture f(3, true);
  Env* env = Env::Default();
  for (uint64_t c = 0; c < 3; ++c) {
    TrialResult r;
    r.set_index(static_cast<uint32_t>(c));
    r.set_outcome("done");
    (*r.mutable_metrics()->mutable_fields())["val_acc"].set_number_value(0.1 * (c + 1));
    ASSERT_OK(env->CreateDirs(f.sweep.layout.trial_dir(c)));
    WriteRaw(f.sweep.layout.result_path(c), ToJson(r));
  }
  size_t announced = 0;
  ASSERT_OK(f.rungs.Finished(0, f.R(0, 0.1), 3, &announced));
  ASSERT_OK(f.rungs.Finished(0, f.R(1, 0.2), 3, &announced));  // config 2's owner died here
  EXPECT_TRUE(f.Announced(1).empty());
  size_t fixed = 0;
  ASSERT_OK(f.rungs.Repair(3, f.sweep.spec.claim(), &fixed));
  EXPECT_EQ(fixed, 2u);  // the marker, and the promotion
  EXPECT_EQ(f.Announced(1), std::set<uint64_t>{2});
  ASSERT_OK(f.rungs.Repair(3, f.sweep.spec.claim(), &fixed));
  EXPECT_EQ(fixed, 0u);  // nothing left to repair
}

// Rungs::AshaPromote over published results, one decision after each
// arrival, against a trace computed by hand from the paper's Algorithm 2
// (η = 3; candidates at rung k: its top ⌊n_k/3⌋ not promoted yet; the
// highest rung with one first; else a new configuration).
TEST(Rungs, AshaDecisionsThroughTheDirectoryFollowAHandComputedTrace) {
  Fixture f(9, false);
  auto decide = [&](int* to, uint64_t* c) {
    bool promoted = false;
    uint32_t rung = 0;
    EXPECT_OK(f.rungs.AshaPromote(&promoted, &rung, c));
    *to = promoted ? static_cast<int>(rung) : -1;
  };
  auto arrive = [&](uint32_t k, uint64_t c, double v) { ASSERT_OK(f.rungs.Publish(k, f.R(c, v))); };
  int to = 0;
  uint64_t c = 0;
  arrive(0, 0, 0.5);  // n0 = 1: ⌊1/3⌋ = 0 candidates
  decide(&to, &c);
  EXPECT_EQ(to, -1);
  arrive(0, 1, 0.7);
  decide(&to, &c);
  EXPECT_EQ(to, -1);
  arrive(0, 2, 0.6);  // n0 = 3: top 1 = {1}
  decide(&to, &c);
  EXPECT_EQ(to, 1);
  EXPECT_EQ(c, 1u);
  decide(&to, &c);  // 1 is promoted (announced): nothing else
  EXPECT_EQ(to, -1);
  arrive(0, 3, 0.9);  // n0 = 4: top 1 = {3}
  decide(&to, &c);
  EXPECT_EQ(to, 1);
  EXPECT_EQ(c, 3u);
  arrive(0, 4, 0.1);
  arrive(0, 5, 0.2);  // n0 = 6: top 2 = {3, 1}, both promoted
  decide(&to, &c);
  EXPECT_EQ(to, -1);
  arrive(1, 1, 0.75);  // n1 = 1
  arrive(1, 3, 0.95);  // n1 = 2
  decide(&to, &c);
  EXPECT_EQ(to, -1);
  arrive(0, 6, 0.3);
  arrive(0, 7, 0.4);
  arrive(0, 8, 0.8);  // n0 = 9: top 3 = {3, 8, 1}: 8 is new
  decide(&to, &c);
  EXPECT_EQ(to, 1);
  EXPECT_EQ(c, 8u);
  arrive(1, 8, 0.85);  // n1 = 3: top 1 = {3}: to the top rung
  decide(&to, &c);
  EXPECT_EQ(to, 2);
  EXPECT_EQ(c, 3u);
  decide(&to, &c);  // everything promotable is promoted
  EXPECT_EQ(to, -1);
  EXPECT_EQ(f.Announced(1), (std::set<uint64_t>{1, 3, 8}));
  EXPECT_EQ(f.Announced(2), std::set<uint64_t>{3});
  // A promotion a racing decider made between our listing and our create is
  // not made twice: the claim (its item) also counts as promoted.
  ASSERT_OK(Env::Default()->CreateDirs(RungQueue(f.sweep.layout, 1).trial_dir(RungKey(1, 1))));
  ASSERT_OK(Env::Default()->RemoveFile(
      RungQueue(f.sweep.layout, 1).released_lease_path(RungKey(1, 1), 0)));
  decide(&to, &c);
  EXPECT_EQ(to, -1);
}

// 8 threads decide at once over the same 27 published rung-0 results until
// none promotes: the 9 configurations of the top third are each promoted
// exactly once, and nothing else is.
TEST(Rungs, RacingAshaDecidersPromoteEachConfigurationOnce) {
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    Fixture f(27, false);
    for (uint64_t c = 0; c < 27; ++c)
      ASSERT_OK(f.rungs.Publish(0, f.R(c, static_cast<double>((c * 5) % 27))));
    std::atomic<int> promotions{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        Rungs mine(Env::Default(), f.sweep.layout, f.sweep.spec.early_stopping().asha());
        for (;;) {
          bool promoted = false;
          uint32_t to = 0;
          uint64_t c = 0;
          EXPECT_OK(mine.AshaPromote(&promoted, &to, &c));
          if (!promoted) {
            // A loser may give up after a few lost rounds; one more look
            // tells whether anything was left.
            EXPECT_OK(mine.AshaPromote(&promoted, &to, &c));
            if (!promoted) return;
          }
          EXPECT_EQ(to, 1u);
          ++promotions;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(promotions.load(), 9);
    std::set<uint64_t> expected;
    for (uint64_t c = 0; c < 27; ++c) {
      if ((c * 5) % 27 >= 18) expected.insert(c);
    }
    EXPECT_EQ(f.Announced(1), expected);
  }
}

// The last finisher of rung 0 crashes at every mutating operation of its
// publish-and-promote step (its record committed): an idle worker's Repair
// then publishes what is missing and makes exactly the promotions.
TEST(Rungs, ACrashAtEveryOperationOfTheLastFinisherIsRepaired) {
  auto setup = [](Fixture& f) {
    for (uint64_t c = 0; c < 3; ++c) {
      TrialResult r;
      r.set_index(static_cast<uint32_t>(c));
      r.set_outcome("done");
      (*r.mutable_metrics()->mutable_fields())["val_acc"].set_number_value(0.5 - 0.1 * c);
      ASSERT_OK(Env::Default()->CreateDirs(f.sweep.layout.trial_dir(c)));
      WriteRaw(f.sweep.layout.result_path(c), ToJson(r));
    }
    size_t announced = 0;
    ASSERT_OK(f.rungs.Finished(0, f.R(1, 0.4), 3, &announced));
    ASSERT_OK(f.rungs.Finished(0, f.R(2, 0.3), 3, &announced));
  };
  long full = 0;
  {
    Fixture f(3, true);
    setup(f);
    FaultEnv counting(Env::Default());
    Rungs mine(&counting, f.sweep.layout, f.sweep.spec.early_stopping().asha());
    size_t announced = 0;
    ASSERT_OK(mine.Finished(0, f.R(0, 0.5), 3, &announced));
    ASSERT_EQ(announced, 1u);
    full = counting.ops();
  }
  ASSERT_GE(full, 2);  // the marker and the announcement at least
  for (long crash_at = 0; crash_at <= full; ++crash_at) {
    SCOPED_TRACE("crash at op " + std::to_string(crash_at));
    Fixture f(3, true);
    setup(f);
    FaultEnv dying(Env::Default());
    dying.CrashAtOp(crash_at);
    Rungs mine(&dying, f.sweep.layout, f.sweep.spec.early_stopping().asha());
    size_t announced = 0;
    const bool ok = mine.Finished(0, f.R(0, 0.5), 3, &announced).ok();
    EXPECT_EQ(ok, crash_at >= full);
    size_t fixed = 0;
    ASSERT_OK(f.rungs.Repair(3, f.sweep.spec.claim(), &fixed));
    EXPECT_EQ(f.Announced(1), std::set<uint64_t>{0});
    std::vector<RungResult> got;
    ASSERT_OK(f.rungs.Read(0, &got));
    EXPECT_EQ(got.size(), 3u);
    ASSERT_OK(f.rungs.Repair(3, f.sweep.spec.claim(), &fixed));
    EXPECT_EQ(fixed, 0u);
  }
}

}  // namespace
}  // namespace claimsweep
