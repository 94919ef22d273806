// SHA and ASHA decisions (core/asha.h): the ASHA decisions equal a hand-computed
// trace of the paper's rule (Li et al. 2020, Alg. 2), the SHA promotion set does
// not depend on arrival order, failed / NaN / infinite results are never
// promoted, and the compute fraction of the issue's example.
#include "core/asha.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace claimsweep {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

RungResult Ok(uint64_t config, double value) { return {config, value, false}; }
RungResult Failed(uint64_t config, double reported) { return {config, reported, true}; }

// One step of the trace: the results published since the last decision (none
// when a second free worker decides), then the decision a free worker makes.
struct Step {
  std::vector<std::pair<uint32_t, RungResult>> published;  // (rung, result)
  AshaDecision::Kind kind;
  uint32_t rung;
  uint64_t config;
  const char* why;
};

constexpr AshaDecision::Kind kNew = AshaDecision::kNew;
constexpr AshaDecision::Kind kPromote = AshaDecision::kPromote;

// Rungs 0, 1, 2 (budgets 1, 3, 9), reduction 3, maximize. Pk: promoted from rung k.
// Each expected decision was computed by hand from the rule, not by the code.
const std::vector<Step>& Trace() {
  static const std::vector<Step> steps = {
      {{{0, Ok(0, 0.50)}}, kNew, 0, 0, "rung 0 has 1 result, floor(1/3)=0: no candidate -> new"},
      {{{0, Ok(1, 0.62)}}, kNew, 0, 0, "rung 0 has 2, floor(2/3)=0 -> new"},
      {{{0, Ok(2, 0.71)}},
       kPromote,
       1,
       2,
       "rung 0 has 3, top floor(3/3)=1 is c2 (0.71), not promoted -> promote c2 to rung 1"},
      {{{0, Ok(3, kNaN)}},
       kNew,
       0,
       0,
       "rung 0 has 4 (NaN counts in n), top 1 is c2, promoted; rung 1 empty -> new"},
      {{{0, Failed(4, 0.99)}},
       kNew,
       0,
       0,
       "c4 failed (reported 0.99, ranks worst); n=5, top 1 is c2, promoted -> new"},
      {{{0, Ok(5, 0.62)}},
       kPromote,
       1,
       1,
       "n=6 (failed ones count), top 2 = c2 0.71, c1 0.62 (ties c5, lower id first); "
       "c2 promoted -> promote c1 to rung 1"},
      {{{1, Ok(2, 0.80)}},
       kNew,
       0,
       0,
       "rung 1 has 1, floor(1/3)=0; rung 0 top 2 = c2, c1, both promoted -> new"},
      {{{0, Ok(6, 0.90)}},
       kPromote,
       1,
       6,
       "rung 1 has 1: none; rung 0 n=7, top 2 = c6 0.90, c2 -> promote c6 to rung 1"},
      {{{1, Ok(1, 0.75)}},
       kNew,
       0,
       0,
       "rung 1 has 2, floor(2/3)=0; rung 0 top 2 = c6, c2, promoted -> new"},
      {{{1, Ok(6, 0.85)}, {0, Ok(7, 0.95)}},
       kPromote,
       2,
       6,
       "two publish before a decision. rung 1 n=3, top 1 = c6 0.85, not promoted from 1; "
       "rung 0 also has c7 0.95 unpromoted, but the higher rung goes first -> promote c6 to "
       "rung 2"},
      {{},
       kPromote,
       1,
       7,
       "the second free worker: rung 1 top 1 = c6, promoted; rung 0 n=8, top 2 = c7 0.95, "
       "c6 0.90 -> promote c7 to rung 1"},
      {{{0, Ok(8, 0.30)}},
       kNew,
       0,
       0,
       "rung 0 n=9, top 3 = c7, c6, c2, all promoted; rung 1 top 1 = c6, promoted -> new"},
      {{{1, Failed(7, 0.99)}},
       kNew,
       0,
       0,
       "c7 diverged at rung 1: n=4, top 1 still c6 (promoted); rung 0 top 3 promoted -> new"},
      {{{2, Ok(6, 0.88)}},
       kNew,
       0,
       0,
       "c6 done at the top rung, which never promotes; rungs 1 and 0 as before -> new"},
      {{{0, Ok(9, 0.20)}}, kNew, 0, 0, "rung 0 n=10, floor 3, top 3 unchanged, promoted -> new"},
      {{{0, Ok(10, 0.10)}}, kNew, 0, 0, "rung 0 n=11, floor 3 -> new"},
      {{{0, Ok(11, 0.66)}},
       kPromote,
       1,
       11,
       "rung 0 n=12, top floor(12/3)=4 = c7, c6, c2, c11 0.66 (above c1, c5 0.62) -> "
       "promote c11 to rung 1"},
      {{{1, Ok(11, 0.86)}},
       kPromote,
       2,
       11,
       "rung 1 n=5, top 1 = c11 0.86 (above c6 0.85), not promoted from 1 -> promote c11 to "
       "rung 2"},
  };
  return steps;
}

TEST(AshaDecideTest, EqualsHandComputedTraceOfThePapersRule) {
  std::vector<std::vector<RungResult>> results(3);
  std::vector<std::set<uint64_t>> promoted(2);
  int n = 0;
  for (const Step& step : Trace()) {
    ++n;
    for (const auto& [rung, result] : step.published) results[rung].push_back(result);
    const AshaDecision d = AshaDecide(results, promoted, 3, /*maximize=*/true);
    SCOPED_TRACE("step " + std::to_string(n) + ": " + step.why);
    ASSERT_EQ(d.kind, step.kind);
    ASSERT_EQ(d.rung, step.rung);
    if (d.kind == kPromote) {
      ASSERT_EQ(d.config, step.config);
      promoted[d.rung - 1].insert(d.config);  // the worker won the rung slot
    }
  }
}

TEST(AshaDecideTest, TopRungNeverPromotes) {
  std::vector<std::vector<RungResult>> results = {{}, {}, {Ok(0, 0.9), Ok(1, 0.8), Ok(2, 0.7)}};
  const AshaDecision d = AshaDecide(results, {{}, {}}, 3, true);
  EXPECT_EQ(d.kind, kNew);
  EXPECT_EQ(d.rung, 0u);
  // A single rung is the top rung.
  EXPECT_EQ(AshaDecide({{Ok(0, 0.9), Ok(1, 0.8), Ok(2, 0.7)}}, {}, 3, true).kind, kNew);
  EXPECT_EQ(AshaDecide({}, {}, 3, true).kind, kNew);
}

TEST(AshaDecideTest, FewerResultsThanReductionPromoteNobody) {
  // Two excellent results at rung 0 with reduction 3: floor(2/3) = 0.
  EXPECT_EQ(AshaDecide({{Ok(0, 0.99), Ok(1, 0.98)}, {}}, {}, 3, true).kind, kNew);
  // The same with reduction 2 promotes the best.
  const AshaDecision d = AshaDecide({{Ok(0, 0.98), Ok(1, 0.99)}, {}}, {}, 2, true);
  EXPECT_EQ(d.kind, kPromote);
  EXPECT_EQ(d.rung, 1u);
  EXPECT_EQ(d.config, 1u);
}

// 27 results with ties at the cut (five at 0.60 for the 9th place), two failed
// reporting high values, and a NaN.
std::vector<RungResult> TwentySevenResults() {
  const double v[27] = {0.41, 0.55, 0.73, 0.99, 0.60, 0.73, 0.12, 0.88, kNaN,
                        0.60, 0.33, 0.81, 0.60, 0.05, 0.77, 0.29, 0.60, 0.95,
                        0.60, 0.50, 0.47, 0.90, 0.21, 0.66, 0.38, 0.58, 0.69};
  std::vector<RungResult> rung;
  for (uint64_t c = 0; c < 27; ++c) rung.push_back({c, v[c], c == 3 || c == 17});
  return rung;
}

TEST(ShaPromotionsTest, SameSetUnderShuffledArrivalOrders) {
  // floor(27/3) = 9: c21 .90, c7 .88, c11 .81, c14 .77, c2 .73 and c5 .73 (tie: lower id first),
  // c26 .69, c23 .66, then c4 from the tie c4, c9, c12, c16, c18 at .60 (lowest id). The
  // failed c3 (.99) and c17 (.95) and the NaN c8 are not among them.
  const std::vector<uint64_t> expected = {21, 7, 11, 14, 2, 5, 26, 23, 4};
  std::vector<RungResult> rung = TwentySevenResults();
  EXPECT_EQ(ShaPromotions(rung, 3, true), expected);
  for (unsigned seed = 1; seed <= 100; ++seed) {
    std::mt19937 rng(seed);
    std::shuffle(rung.begin(), rung.end(), rng);
    ASSERT_EQ(ShaPromotions(rung, 3, true), expected) << "seed " << seed;
  }
}

TEST(ShaPromotionsTest, CountsFailedInTheQuotaAndPromotesFewer) {
  // n = 6, floor(6/3) = 2, but only one usable result: one goes on.
  std::vector<RungResult> rung = {Ok(4, 0.2),  Failed(0, 0.9), Failed(1, 0.9),
                                  Ok(2, kNaN), Ok(3, kInf),    Ok(5, -kInf)};
  EXPECT_EQ(ShaPromotions(rung, 3, true), std::vector<uint64_t>({4}));
  EXPECT_EQ(ShaPromotions(rung, 3, false), std::vector<uint64_t>({4}));
  // n < reduction: nobody.
  EXPECT_TRUE(ShaPromotions({Ok(0, 0.9), Ok(1, 0.8)}, 3, true).empty());
  EXPECT_TRUE(ShaPromotions({}, 3, true).empty());
}

TEST(FailedResultsTest, NeverPromotedEvenWhenFewResultsExist) {
  // Rung 0 has exactly reduction results, all unusable: no promotion, whichever
  // direction (+inf would be the best when maximizing, -inf when minimizing).
  const std::vector<RungResult> bad = {Failed(0, 0.99), Ok(1, kNaN), Ok(2, kInf)};
  const std::vector<RungResult> bad_min = {Failed(0, 0.0), Ok(1, kNaN), Ok(2, -kInf)};
  EXPECT_TRUE(TopConfigs(bad, 3, true).empty());
  EXPECT_TRUE(TopConfigs(bad_min, 3, false).empty());
  EXPECT_TRUE(ShaPromotions(bad, 3, true).empty());
  EXPECT_TRUE(ShaPromotions(bad_min, 3, false).empty());
  EXPECT_EQ(AshaDecide({bad, {}}, {}, 3, true).kind, kNew);
  EXPECT_EQ(AshaDecide({bad_min, {}}, {}, 3, false).kind, kNew);
  // With one usable result among them, that one is promoted.
  std::vector<RungResult> one_ok = bad;
  one_ok.push_back(Ok(3, 0.01));
  one_ok.push_back(Ok(4, kNaN));
  one_ok.push_back(Failed(5, 1.0));
  const AshaDecision d = AshaDecide({one_ok, {}}, {}, 3, true);
  EXPECT_EQ(d.kind, kPromote);
  EXPECT_EQ(d.config, 3u);
}

TEST(TopConfigsTest, MinimizeRanksLowerValuesFirst) {
  const std::vector<RungResult> rung = {Ok(0, 0.3), Ok(1, 0.1), Ok(2, 0.2), Ok(3, 0.1)};
  EXPECT_EQ(TopConfigs(rung, 3, false), std::vector<uint64_t>({1, 3, 2}));
  EXPECT_EQ(TopConfigs(rung, 3, true), std::vector<uint64_t>({0, 2, 1}));
  EXPECT_EQ(TopConfigs(rung, 10, false), std::vector<uint64_t>({1, 3, 2, 0}));
  EXPECT_TRUE(TopConfigs(rung, 0, false).empty());
  // ASHA minimizing a loss: rung 0 with 3 results promotes the lowest.
  const AshaDecision d = AshaDecide({{Ok(0, 2.5), Ok(1, 0.7), Ok(2, 1.1)}, {}}, {}, 3, false);
  EXPECT_EQ(d.kind, kPromote);
  EXPECT_EQ(d.rung, 1u);
  EXPECT_EQ(d.config, 1u);
}

TEST(ComputeFractionTest, IssueExampleIs63Over243) {
  // 27 configs at rungs 1, 3, 9 epochs; SHA keeps 27 -> 9 -> 3. Each promoted
  // config resumes, so it trains 2 more epochs at rung 1 and 6 at rung 2.
  EXPECT_EQ(ComputeFraction({1, 3, 9}, {27, 9, 3}), 63.0 / 243.0);
  EXPECT_EQ(ComputeFraction({1, 3, 9}, {27, 27, 27}), 1.0);   // everything to max_epochs
  EXPECT_EQ(ComputeFraction({1, 3, 9}, {27}), 27.0 / 243.0);  // nothing promoted yet
  EXPECT_EQ(ComputeFraction({}, {}), 0.0);
  EXPECT_EQ(ComputeFraction({1, 3, 9}, {0, 0, 0}), 0.0);
}

}  // namespace
}  // namespace claimsweep
