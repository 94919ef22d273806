// The results loader (core/results.h, `sweep summary`, `report`, `watch`) and
// the status scan (core/sweep_scan.h, `sweep status`) on a damaged
// result.json: cut at every byte, as ninja's tests cut its state files.
#include <gtest/gtest.h>

#include "core/claim.h"
#include "core/json.h"
#include "core/points.h"
#include "core/results.h"
#include "core/sweep_scan.h"
#include "records.pb.h"
#include "test_util.h"

namespace claimsweep {
namespace {

// A real result.json (committed by a claimer, with the point's values and
// metrics), then every prefix of it in its place: the loader and the scan
// never crash, never count the trial done with other values than the
// record's, and name the file when they cannot read it.
TEST(Results, AResultCutAtEveryByteIsNeverReadAsDoneWithWrongValues) {
  const testing::InitedSweep sweep(R"(grid { param { name: "lr" values: ["0.1", "0.01"] } }
                                      command { argv: "true" }
                                      claim { lease_seconds: 30 heartbeat_seconds: 1 max_attempts: 2 })");
  const SweepSpec& spec = sweep.spec;
  const SweepLayout& layout = sweep.layout;
  auto ps = PointSpace::Create(spec);
  ASSERT_OK(ps);
  Claimer claimer(Env::Default(), layout, spec.claim(), ps->size(), "a");
  Claim c;
  ASSERT_OK(claimer.ClaimNext(&c));
  TrialResult r;
  r.set_format_version(kJsonRecordVersion);
  r.set_index(static_cast<uint32_t>(c.index));
  r.set_attempt(c.attempt);
  r.set_outcome("done");
  r.set_duration_seconds(12.5);
  r.set_total_seconds(20.25);
  r.set_host("node7");
  for (const auto& [k, v] : ps->At(c.index).values) (*r.mutable_params())[k] = v;
  (*r.mutable_metrics()->mutable_fields())["val_loss"].set_number_value(0.375);
  (*r.mutable_metrics()->mutable_fields())["val_acc"].set_number_value(0.9);
  const std::string full = ToJson(r);
  ASSERT_OK(claimer.Commit(c, full));
  const std::string path = layout.result_path(c.index);

  std::unique_ptr<Env> confined = NewSweepEnv(layout.root());
  for (Env* env : {Env::Default(), confined.get()}) {
    SweepResults whole;
    ASSERT_OK(LoadResults(env, layout.root(), LoadOptions(), &whole));
    ASSERT_EQ(whole.trials.size(), 1u);
    const TrialRecord want = whole.trials[0];
    ASSERT_EQ(want.state, TrialState::kDone);
    ASSERT_TRUE(want.problem.empty()) << want.problem;
    ASSERT_EQ(want.metrics.size(), 2u);

    for (size_t len = 0; len < full.size(); ++len) {
      SCOPED_TRACE("result.json cut to " + std::to_string(len) + " of " +
                   std::to_string(full.size()) + " bytes");
      testing::WriteRaw(path, full.substr(0, len));
      SweepResults res;
      ASSERT_OK(LoadResults(env, layout.root(), LoadOptions(), &res));
      ASSERT_EQ(res.trials.size(), 1u);
      const TrialRecord& t = res.trials[0];
      if (t.problem.empty()) {
        // Read as whole: only the record without its final newline may be.
        EXPECT_EQ(len + 1, full.size());
        EXPECT_EQ(t.state, TrialState::kDone);
        EXPECT_EQ(t.metrics, want.metrics);
        EXPECT_EQ(t.params, want.params);
        EXPECT_EQ(t.wall_seconds, want.wall_seconds);
        EXPECT_EQ(t.host, "node7");
      } else {
        // Listed, named, and nothing taken from it: shown as done (broken)
        // (claimers do not run it again) or broken, never with values.
        EXPECT_NE(t.problem.find(path), std::string::npos) << t.problem;
        EXPECT_TRUE(t.state == TrialState::kDone || t.state == TrialState::kBroken)
            << TrialStateName(t.state);
        EXPECT_TRUE(t.metrics.empty());
        EXPECT_EQ(t.wall_seconds, -1);
        EXPECT_EQ(t.params, want.params);  // the frozen spec's point
      }

      // `sweep status` judges done trials by one stat of result.json: an
      // empty one is broken and named; a longer cut one is done as far as
      // claimers are concerned (the loader above names it).
      SweepScan scan;
      ASSERT_OK(ScanSweep(env, layout, spec, ps->size(), &scan));
      ASSERT_EQ(scan.trials.size(), 1u);
      const DerivedState& d = scan.trials[0].derived;
      if (len == 0) {
        EXPECT_EQ(d.state, TrialState::kBroken);
        EXPECT_NE(d.problem.find(layout.relative(path)), std::string::npos) << d.problem;
      } else {
        EXPECT_EQ(d.state, TrialState::kDone);
      }
      EXPECT_EQ(scan.counts[static_cast<int>(TrialState::kPending)], ps->size() - 1);
    }
  }
}

}  // namespace
}  // namespace claimsweep
