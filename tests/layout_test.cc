#include <gtest/gtest.h>

#include "core/layout.h"
#include "core/template.h"

namespace claimsweep {
namespace {

TEST(Layout, NamesParseBackToTheirNumbers) {
  for (uint64_t i : {0ull, 7ull, 123456ull, 99999999ull}) {
    uint64_t back = 1;
    ASSERT_TRUE(ParseTrialName(TrialName(i), &back)) << TrialName(i);
    EXPECT_EQ(back, i);
    uint32_t a = 0;
    ASSERT_TRUE(ParseLeaseName(LeaseName(i, 3), &back, &a));
    EXPECT_EQ(back, i);
    EXPECT_EQ(a, 3u);
  }
  LeaseMark mark = LeaseMark::kStale;
  uint64_t i = 0;
  uint32_t a = 0;
  ASSERT_TRUE(ParseLeaseName("000042.0003", &i, &a, &mark));
  EXPECT_EQ(mark, LeaseMark::kOpen);
  ASSERT_TRUE(ParseLeaseName("000042.0003.released", &i, &a, &mark));
  EXPECT_EQ(mark, LeaseMark::kReleased);
  EXPECT_EQ(i, 42u);
  EXPECT_EQ(a, 3u);
  ASSERT_TRUE(ParseLeaseName("000042.0004.stale", &i, &a, &mark));
  EXPECT_EQ(mark, LeaseMark::kStale);
  EXPECT_EQ(a, 4u);
  uint32_t k = 0;
  AttemptEntry kind;
  ASSERT_TRUE(ParseAttemptEntry(AttemptName(12), &k, &kind));
  EXPECT_EQ(k, 12u);
  EXPECT_EQ(kind, AttemptEntry::kDir);
  ASSERT_TRUE(ParseAttemptEntry(AttemptName(2) + ".failed.json", &k, &kind));
  EXPECT_EQ(kind, AttemptEntry::kFailed);
}

TEST(Layout, RejectsForeignNames) {
  uint64_t i = 0;
  uint32_t a = 0;
  AttemptEntry kind;
  EXPECT_FALSE(ParseTrialName("12", &i));  // too short to be ours
  EXPECT_FALSE(ParseTrialName("00001x", &i));
  EXPECT_FALSE(ParseLeaseName("000001.", &i, &a));
  EXPECT_FALSE(ParseLeaseName("000001.0000", &i, &a));  // attempts start at 1
  EXPECT_FALSE(ParseAttemptEntry("attempt-0001.released.json.tmp.x", &a, &kind));
  EXPECT_FALSE(ParseAttemptEntry("attempt-", &a, &kind));
}

// Every name the layout builds in a trial directory parses back to what it
// is, so the states (trial_state.cc) and reset's move order (control.cc)
// read the same names the writers write.
TEST(Layout, EveryTrialEntryItBuildsParsesBackToItsKind) {
  SweepLayout l("/s/");
  EXPECT_EQ(l.trial_dir(3), "/s/trials/000003");
  auto name = [&](const std::string& path) {
    const std::string dir = l.trial_dir(3) + "/";
    EXPECT_EQ(path.compare(0, dir.size(), dir), 0) << path;
    return path.substr(dir.size());
  };
  const std::pair<std::string, TrialEntry> want[] = {
      {name(l.result_path(3)), TrialEntry::kResult},
      {name(l.stop_path(3)), TrialEntry::kStop},
      {name(l.unordered_path(3)), TrialEntry::kUnordered},
      {name(l.work_dir(3)), TrialEntry::kWork},
      {name(l.checkpoints_dir(3)), TrialEntry::kCheckpoints},
      {name(l.metrics_csv_path(3, /*in_work_dir=*/false)), TrialEntry::kMetricsCsv},
      {RetryMarkerName(2), TrialEntry::kRetryMarker},
      {name(l.attempt_dir(3, 2)), TrialEntry::kAttempt},
      {name(l.released_path(3, 2)), TrialEntry::kAttempt},
      {name(l.failed_path(3, 2)), TrialEntry::kAttempt},
      {name(l.fatal_path(3, 2)), TrialEntry::kAttempt},
      {"model.pt", TrialEntry::kOther},
      {"result.json.tmp.x", TrialEntry::kOther},
  };
  for (const auto& [n, kind] : want) {
    uint32_t k = 0;
    AttemptEntry ak;
    EXPECT_EQ(ParseTrialEntry(n, &k, &ak), kind) << n;
    if (kind == TrialEntry::kAttempt || kind == TrialEntry::kRetryMarker) {
      EXPECT_EQ(k, 2u) << n;
    }
  }
  EXPECT_EQ(l.metrics_csv_path(3, /*in_work_dir=*/true), l.work_dir(3) + "/metrics.csv");
  // Staged in tmp/, the same names a publish makes visible.
  const std::string staged = l.tmp_path("tok", ".0");
  EXPECT_EQ(SweepLayout::staged_owner_path(SweepLayout::staged_attempt_dir(staged, 1)),
            staged + "/attempt-0001/owner.json");
  EXPECT_EQ(SweepLayout::staged_stop_path(staged), staged + "/stop");
  // Released lease entries are named and parsed in one place too.
  uint64_t i = 0;
  uint32_t a = 0;
  LeaseMark mark = LeaseMark::kOpen;
  ASSERT_TRUE(ParseLeaseName(LeaseName(42, 3, LeaseMark::kReleased), &i, &a, &mark));
  EXPECT_EQ(mark, LeaseMark::kReleased);
  EXPECT_EQ(l.released_lease_path(42, 3),
            l.leases_dir() + "/" + LeaseName(42, 3, LeaseMark::kReleased));
  EXPECT_EQ(l.stale_lease_path(42, 3), l.leases_dir() + "/000042.0003.stale");
  EXPECT_EQ(l.archive_dir(4, "T"), "/s/archive/000004-T");
  EXPECT_EQ(l.archive_dir(4, "T", 2), "/s/archive/000004-T-2");
}

TEST(Layout, MessagesNameEntriesRelativeToTheSweep) {
  SweepLayout l("/data/s");
  EXPECT_EQ(l.relative(l.result_path(3)), "trials/000003/result.json");
  EXPECT_EQ(l.relative(l.owner_path(3, 1)), "trials/000003/attempt-0001/owner.json");
  EXPECT_EQ(l.relative("/data/sx/trials"), "/data/sx/trials");  // not below the sweep: as is
  EXPECT_EQ(l.relative("/data/s"), "/data/s");
  EXPECT_EQ(SweepLayout("/").relative("/trials/000001"), "trials/000001");
}

TEST(Template, SubstitutesEscapesAndRefusesUnknown) {
  std::string out;
  ASSERT_TRUE(Substitute("--lr={lr} {{x}} {index}", {{"lr", "0.1"}, {"index", "4"}}, &out).ok());
  EXPECT_EQ(out, "--lr=0.1 {x} 4");
  Status s = Substitute("{nope}", {{"lr", "1"}}, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("{nope}"), std::string::npos);
  std::vector<std::string> names;
  EXPECT_FALSE(CollectPlaceholders("awk '{ print }'", &names).ok());
  EXPECT_FALSE(CollectPlaceholders("a}b", &names).ok());
}

}  // namespace
}  // namespace claimsweep
