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

// A derived stage's queue (docs/derived-work.md): its own items and leases
// directories, item names packing (upstream point, sub-key), and attempt 0
// only as an announcement (released). The sweep's own names are unchanged.
TEST(Layout, AStageQueueHasItsOwnDirectoriesAndItemNames) {
  const SweepLayout points("/s");
  const SweepLayout eval = SweepLayout::ForStage("/s", "eval");
  EXPECT_EQ(points.stage(), "");
  EXPECT_EQ(eval.stage(), "eval");
  EXPECT_EQ(eval.trials_dir(), "/s/stages/eval/items");
  EXPECT_EQ(eval.leases_dir(), "/s/stages/eval/leases");
  EXPECT_EQ(eval.tmp_dir(), points.tmp_dir());
  EXPECT_EQ(eval.spec_path(), points.spec_path());
  const uint64_t key = ItemKey(42, 4);
  EXPECT_EQ(ItemUpstream(key), 42u);
  EXPECT_EQ(ItemSub(key), 4u);
  EXPECT_EQ(eval.trial_dir(key), "/s/stages/eval/items/000042-0004");
  EXPECT_EQ(eval.attempt_dir(key, 2), "/s/stages/eval/items/000042-0004/attempt-0002");
  EXPECT_EQ(eval.lease_path(key, 1), "/s/stages/eval/leases/000042-0004.0001");
  EXPECT_EQ(eval.released_lease_path(key, 0), "/s/stages/eval/leases/000042-0004.0000.released");
  EXPECT_EQ(points.trial_dir(42), "/s/trials/000042");
  EXPECT_EQ(points.lease_path(42, 1), "/s/leases/000042.0001");
  for (uint64_t k : {ItemKey(0, 0), ItemKey(7, 12345), ItemKey(UINT32_MAX, UINT32_MAX)}) {
    uint64_t back = 1;
    ASSERT_TRUE(eval.ParseEntryName(eval.entry_name(k), &back)) << eval.entry_name(k);
    EXPECT_EQ(back, k);
    uint32_t a = 9;
    LeaseMark m = LeaseMark::kOpen;
    ASSERT_TRUE(eval.ParseLease(eval.lease_name(k, 3, LeaseMark::kStale), &back, &a, &m));
    EXPECT_EQ(back, k);
    EXPECT_EQ(a, 3u);
    EXPECT_EQ(m, LeaseMark::kStale);
  }
  uint64_t i = 0;
  uint32_t a = 9;
  LeaseMark m = LeaseMark::kOpen;
  ASSERT_TRUE(eval.ParseLease("000042-0004.0000.released", &i, &a, &m));
  EXPECT_EQ(a, 0u);
  EXPECT_EQ(m, LeaseMark::kReleased);
  EXPECT_FALSE(eval.ParseLease("000042-0004.0000", &i, &a));  // attempt 0: only an announcement
  EXPECT_FALSE(eval.ParseLease("000042-0004.0000.stale", &i, &a));
  EXPECT_FALSE(points.ParseLease("000042.0000.released", &i, &a));  // points: attempts from 1
  // Each queue's names are foreign to the other.
  EXPECT_FALSE(eval.ParseEntryName("000042", &i));
  EXPECT_FALSE(points.ParseEntryName("000042-0004", &i));
  EXPECT_FALSE(eval.ParseLease("000042.0001", &i, &a));
  EXPECT_FALSE(points.ParseLease("000042-0004.0001", &i, &a));
  EXPECT_FALSE(ParseItemName("000042-004", &i));       // sub-key: four digits at least
  EXPECT_FALSE(ParseItemName("00042-0004", &i));       // upstream: six at least
  EXPECT_FALSE(ParseItemName("4294967296-0000", &i));  // beyond 32 bits
}

// A kept checkpoint's name says its epoch, and only the writer's spelling parses.
TEST(Layout, KeptCheckpointNamesRoundTrip) {
  SweepLayout l("/s");
  EXPECT_EQ(l.kept_dir(3), "/s/trials/000003/kept");
  EXPECT_EQ(l.kept_checkpoint_path(3, 4), "/s/trials/000003/kept/ckpt-0004.csckpt");
  EXPECT_EQ(SweepLayout::kept_file_path(l.kept_dir(3), 4), l.kept_checkpoint_path(3, 4));
  for (uint32_t e : {1u, 2u, 42u, 9999u, 10000u, 4294967295u}) {
    uint32_t got = 0;
    EXPECT_TRUE(ParseKeptCheckpointName(KeptCheckpointName(e), &got)) << e;
    EXPECT_EQ(got, e);
  }
  EXPECT_EQ(KeptCheckpointName(10000), "ckpt-10000.csckpt");
  uint32_t e = 0;
  for (const char* bad : {"ckpt-0000.csckpt", "ckpt-004.csckpt", "ckpt-00004.csckpt",
                          "ckpt-0004-000000.csckpt", "ckpt-0004.csckpt.tmp.x", "ckpt-.csckpt",
                          "ckpt-4294967296.csckpt", "ckpt-+004.csckpt", "kept"}) {
    EXPECT_FALSE(ParseKeptCheckpointName(bad, &e)) << bad;
  }
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
      {name(l.kept_dir(3)), TrialEntry::kKept},
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
