// Reading early stopping's rungs (core/rung_scan.h, #14 item 4) on hand-made
// sweep directories: each configuration's rung and epochs, each rung's
// configurations by state, the compute used, what LoadResults and the HTML
// report make of them.
#include <gtest/gtest.h>

#include "core/results.h"
#include "core/rung_scan.h"
#include "core/sweep_scan.h"
#include "rung_fixture.h"
#include "sweep/report_html.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::RungSweep;

RungScan Scan(const RungSweep& f, uint64_t n) {
  SweepScan trials;
  EXPECT_OK(ScanSweep(Env::Default(), f.root, f.sweep.spec, n, &trials));
  std::vector<std::pair<uint64_t, TrialState>> claimed;
  for (const ScannedTrial& t : trials.trials) claimed.push_back({t.index, t.derived.state});
  bool from_fs = false;
  const int64_t now = ScanClock(Env::Default(), f.root, &from_fs);
  RungScan rs;
  EXPECT_OK(ScanRungs(Env::Default(), f.root.root(), f.sweep.spec, claimed, n, now, &rs));
  return rs;
}

// (rung, epochs_done, state) of configuration c.
std::string Where(const RungScan& rs, uint64_t c) {
  const ConfigRung* cr = rs.Find(c);
  if (cr == nullptr) return "none";
  return std::to_string(cr->rung) + "/" + std::to_string(cr->epochs_done) + "/" +
         TrialStateName(cr->state);
}

TEST(RungScan, AShaTreeGivesEveryConfigurationItsRungAndEpochsTrained) {
  RungSweep f(9);
  f.FullTree(9);  // 9 -> 3 (6, 7, 8) -> 1 (8)
  const RungScan rs = Scan(f, 9);
  EXPECT_EQ(rs.budgets, (std::vector<int>{1, 3, 9}));
  EXPECT_EQ(rs.configs.size(), 9u);
  for (uint64_t c = 0; c < 6; ++c) EXPECT_EQ(Where(rs, c), "0/1/done") << c;
  EXPECT_EQ(Where(rs, 6), "1/3/done");
  EXPECT_EQ(Where(rs, 7), "1/3/done");
  EXPECT_EQ(Where(rs, 8), "2/9/done");
  ASSERT_EQ(rs.rungs.size(), 3u);
  EXPECT_EQ(RungLine(rs.rungs[0]), "rung 0 (1 epoch): 9 configurations: 9 done");
  EXPECT_EQ(RungLine(rs.rungs[1]), "rung 1 (3 epochs): 3 configurations: 3 done");
  EXPECT_EQ(RungLine(rs.rungs[2]), "rung 2 (9 epochs): 1 configuration: 1 done");
  // 9*1 + 3*2 + 1*6 = 21 epochs of 9*9 = 81.
  EXPECT_EQ(rs.reached, (std::vector<uint64_t>{9, 3, 1}));
  EXPECT_EQ(rs.epochs_used, 21u);
  EXPECT_EQ(rs.epochs_exhaustive, 81u);
  EXPECT_DOUBLE_EQ(rs.compute_fraction, 21.0 / 81.0);
}

TEST(RungScan, AFailedRungARunningOneAndAnAnnouncedPromotionAreWhereTheyStand) {
  RungSweep f(9);
  for (uint64_t c = 0; c < 9; ++c) f.Done(0, c);
  f.Running(1, 8);    // promoted, training to 3 epochs
  f.Failed(1, 7);     // promoted, failed for good at rung 1
  f.Announced(1, 6);  // promoted, no worker has claimed it yet
  const RungScan rs = Scan(f, 9);
  EXPECT_EQ(Where(rs, 8), "1/1/running");
  EXPECT_EQ(Where(rs, 7), "1/1/failed");
  EXPECT_EQ(Where(rs, 6), "1/1/pending");
  EXPECT_EQ(Where(rs, 5), "0/1/done");
  EXPECT_EQ(RungLine(rs.rungs[0]), "rung 0 (1 epoch): 9 configurations: 9 done");
  EXPECT_EQ(RungLine(rs.rungs[1]),
            "rung 1 (3 epochs): 3 configurations: 1 running, 1 promoted (not started), 1 failed");
  EXPECT_EQ(RungLine(rs.rungs[2]), "rung 2 (9 epochs): 0 configurations");
  EXPECT_EQ(rs.rungs[1].count(TrialState::kPending), 1u);
  // Only done rungs count: 9 epochs of 81.
  EXPECT_EQ(rs.epochs_used, 9u);
  EXPECT_EQ(rs.epochs_exhaustive, 81u);
}

TEST(RungScan, UnclaimedPointsArePendingAtRungZeroOnly) {
  RungSweep f(9);
  f.Done(0, 0);
  f.Running(0, 1);
  const RungScan rs = Scan(f, 9);
  EXPECT_EQ(RungLine(rs.rungs[0]),
            "rung 0 (1 epoch): 9 configurations: 1 done, 1 running, 7 pending");
  EXPECT_EQ(Where(rs, 1), "0/0/running");
  EXPECT_EQ(Where(rs, 2), "none");  // unclaimed: counted, not listed
  EXPECT_EQ(rs.rungs[1].configurations, 0u);
}

SweepResults Load(const RungSweep& f, bool curves) {
  SweepResults res;
  LoadOptions lo;
  lo.curves = curves;
  lo.log_tails = curves;
  EXPECT_OK(LoadResults(Env::Default(), f.root.root(), lo, &res));
  return res;
}

const TrialRecord& Trial(const SweepResults& res, uint64_t c) {
  for (const auto& t : res.trials) {
    if (t.index == c) return t;
  }
  ADD_FAILURE() << "no trial " << c;
  return res.trials[0];
}

TEST(RungResults, AConfigurationShowsItsNewestDoneRungsMetricsAndItsStateAtItsRung) {
  RungSweep f(9);
  for (uint64_t c = 0; c < 9; ++c) f.Done(0, c);
  f.Done(1, 8);
  f.Done(2, 8);
  f.Done(1, 7);
  f.Failed(1, 6);
  const SweepResults res = Load(f, false);
  ASSERT_TRUE(res.early_stopping);
  const TrialRecord& t8 = Trial(res, 8);
  EXPECT_EQ(t8.rung, 2);
  EXPECT_EQ(t8.epochs_done, 9);
  EXPECT_EQ(t8.state, TrialState::kDone);
  EXPECT_DOUBLE_EQ(t8.metrics.at("val_acc"), 0.82);  // rung 2's record, not rung 0's 0.80
  EXPECT_DOUBLE_EQ(t8.wall_seconds, 3);              // its three rungs' records
  EXPECT_EQ(t8.problem, "");
  EXPECT_EQ(t8.attempts, 1u);  // its rung-2 record's attempt
  const TrialRecord& t7 = Trial(res, 7);
  EXPECT_EQ(t7.rung, 1);
  EXPECT_EQ(t7.epochs_done, 3);
  EXPECT_DOUBLE_EQ(t7.metrics.at("val_acc"), 0.71);
  const TrialRecord& t6 = Trial(res, 6);
  EXPECT_EQ(t6.rung, 1);
  EXPECT_EQ(t6.epochs_done, 1);
  EXPECT_EQ(t6.state, TrialState::kFailed);
  EXPECT_EQ(t6.attempts, 3u);
  EXPECT_EQ(t6.outcome_message, "exit status 1");    // rung 1's failure, not rung 0's success
  EXPECT_DOUBLE_EQ(t6.metrics.at("val_acc"), 0.60);  // its last done rung's
  const TrialRecord& t0 = Trial(res, 0);
  EXPECT_EQ(t0.rung, 0);
  EXPECT_EQ(t0.epochs_done, 1);
  // The counts are the configurations' states at their rungs.
  EXPECT_EQ(res.counts[static_cast<int>(TrialState::kFailed)], 1u);
  EXPECT_EQ(res.counts[static_cast<int>(TrialState::kDone)], 8u);
}

TEST(RungResults, ASweepWithoutEarlyStoppingHasNoRungs) {
  testing::InitedSweep s(R"(grid { param { name: "x" values: "1" } }
command { argv: "true" })");
  SweepResults res;
  ASSERT_OK(LoadResults(Env::Default(), s.layout.root(), LoadOptions(), &res));
  EXPECT_FALSE(res.early_stopping);
  ASSERT_EQ(res.trials.size(), 0u);
}

// The number of points of the overlay chart's line titled `title` (a dot: 1).
int OverlayPoints(const std::string& html, const std::string& title) {
  const size_t t = html.find("<title>" + title + "</title>");
  if (t == std::string::npos) return -1;
  const size_t start = html.rfind('<', t - 1);
  if (html.compare(start, 7, "<circle") == 0) return 1;
  const size_t p = html.find("points=\"", start);
  const size_t end = html.find('"', p + 8);
  if (p == std::string::npos || p > t) return -1;
  return static_cast<int>(testing::Count(html.substr(p + 8, end - p - 8), " ")) + 1;
}

TEST(RungReport, DrawsTheRungsAndTheComputeUsedAgainstExhaustive) {
  RungSweep f(27);
  f.FullTree(27);  // 27 -> 9 -> 3
  for (uint64_t c = 0; c < 27; ++c) f.Curve(c, c >= 24 ? 9 : c >= 18 ? 3 : 1);
  const SweepResults res = Load(f, true);
  ReportOptions ro;
  const std::string html = RenderReportHtml(res, ro);
  // ComputeFraction's example: (27*1 + 9*2 + 3*6) / (27*9) = 63/243.
  EXPECT_NE(html.find("Compute used: 63 epochs of 27&times;9 = 243 (fraction 0.2593)"),
            std::string::npos);
  // The rungs' table: configurations and done per rung.
  for (const char* row :
       {"<tr class=\"rung\" data-rung=\"0\"><td>0</td><td>1</td><td>27</td><td>27</td>",
        "<tr class=\"rung\" data-rung=\"1\"><td>1</td><td>3</td><td>9</td><td>9</td>",
        "<tr class=\"rung\" data-rung=\"2\"><td>2</td><td>9</td><td>3</td><td>3</td>"})
    EXPECT_NE(html.find(row), std::string::npos) << row;
  // A dashed line per rung in the validation chart, labelled.
  EXPECT_EQ(testing::Count(html, "<line class=\"mark\""), 3u);
  for (const char* label : {">rung 0</text>", ">rung 1</text>", ">rung 2</text>"})
    EXPECT_NE(html.find(label), std::string::npos) << label;
  // The results table has each configuration's rung and epochs.
  EXPECT_NE(html.find("<th data-type=\"num\">rung</th><th data-type=\"num\">epochs_done</th>"),
            std::string::npos);
  EXPECT_NE(html.find("<td data-v=\"2\">2</td><td data-v=\"9\">9</td>"), std::string::npos);
  // and the rule's metric (a train task's table otherwise has only best_val_acc and co.).
  EXPECT_NE(html.find("<th data-type=\"num\">val_acc</th>"), std::string::npos);
  EXPECT_NE(html.find("<td data-v=\"2.62\">2.62</td>"), std::string::npos);
  // Curves stop at the rung: 26 (rung 2) has 9 points, 20 (rung 1) 3, and
  // 0 (rung 0) one, a dot.
  EXPECT_EQ(OverlayPoints(html, "000026 (done) seed=26"), 9);
  EXPECT_EQ(OverlayPoints(html, "000020 (done) seed=20"), 3);
  EXPECT_EQ(OverlayPoints(html, "000000 (done) seed=0"), 1);
}

TEST(RungReport, ASweepWithoutEarlyStoppingHasNoRungSection) {
  testing::InitedSweep s(R"(grid { param { name: "x" values: "1" } }
command { argv: "true" })");
  SweepResults res;
  ASSERT_OK(LoadResults(Env::Default(), s.layout.root(), LoadOptions(), &res));
  const std::string html = RenderReportHtml(res, ReportOptions());
  EXPECT_EQ(html.find("<h2>Rungs</h2>"), std::string::npos);
  EXPECT_EQ(html.find("epochs_done"), std::string::npos);
}

}  // namespace
}  // namespace claimsweep
