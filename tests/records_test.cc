// Records (records.proto) written by a newer claimsweep are refused by name,
// never read as if they were of this version.
#include <gtest/gtest.h>
#include <unistd.h>

#include "core/claim.h"
#include "core/json.h"
#include "core/results.h"
#include "records.pb.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::MustParse;
using testing::TempDir;

TEST(Records, ANewerFormatVersionIsRefusedNamingTheFileAndBothVersions) {
  TrialResult r;
  r.set_format_version(7);
  r.set_outcome("done");
  TrialResult back;
  Status s = ParseRecord(ToJson(r), "trials/000003/result.json", &back);
  EXPECT_EQ(s.code(), Status::Code::kUnsupported);
  EXPECT_EQ(s.message(),
            "trials/000003/result.json has format_version 7; this claimsweep reads up to 1: use a "
            "newer claimsweep");

  for (uint32_t v : {0u, 1u}) {  // 0: a field the record left out
    r.set_format_version(v);
    EXPECT_OK(ParseRecord(ToJson(r), "result.json", &back)) << v;
    EXPECT_EQ(back.outcome(), "done");
  }
  AttemptOwner o;
  o.set_format_version(2);
  AttemptOwner ob;
  EXPECT_EQ(ParseRecord(ToJson(o), "owner.json", &ob).code(), Status::Code::kUnsupported);
  // A torn record is still Corruption, not a version problem.
  EXPECT_EQ(ParseRecord("{\"format_version\": 7, \"ind", "r.json", &back).code(),
            Status::Code::kCorruption);
}

struct Sweep {
  TempDir tmp;
  SweepSpec spec = MustParse(R"(
    grid { param { name: "x" range { start: 0 stop: 3 step: 1 } } }
    command { argv: "true" }
    claim { lease_seconds: 30 heartbeat_seconds: 1 max_attempts: 2 })");
  SweepLayout layout{tmp.path() + "/s"};
  Sweep() { testing::InitSweep(layout.root(), spec); }
  void WriteResult(uint64_t i, uint32_t version, double loss) {
    Env* env = Env::Default();
    ASSERT_OK(env->CreateDirs(layout.attempt_dir(i, 1)));
    TrialResult r;
    r.set_format_version(version);
    r.set_index(static_cast<uint32_t>(i));
    r.set_attempt(1);
    r.set_outcome("done");
    (*r.mutable_metrics()->mutable_fields())["loss"].set_number_value(loss);
    ASSERT_OK(env->WriteFileAtomic(layout.result_path(i), ToJson(r)));
  }
};

// The summary and report loader: the trial is listed (done: result.json
// exists), but its metrics are not taken from a record it cannot read.
TEST(Records, ResultsLoaderNamesANewerResultAndTakesNoMetricsFromIt) {
  Sweep s;
  s.WriteResult(0, 1, 0.5);
  s.WriteResult(1, 7, 0.25);
  SweepResults res;
  ASSERT_OK(LoadResults(Env::Default(), s.layout.root(), LoadOptions(), &res));
  EXPECT_EQ(res.trials[0].metrics.at("loss"), 0.5);
  EXPECT_TRUE(res.trials[0].problem.empty()) << res.trials[0].problem;
  EXPECT_EQ(res.trials[1].state, TrialState::kDone);
  EXPECT_TRUE(res.trials[1].metrics.empty());
  EXPECT_NE(res.trials[1].problem.find(
                s.layout.result_path(1) +
                " has format_version 7; this claimsweep reads up to 1: use a newer claimsweep"),
            std::string::npos)
      << res.trials[1].problem;
}

// owner.json decides whether a running trial's Slurm job is gone: one of a
// newer format is not read, so its trial is left to its lease.
TEST(Records, AnOwnerRecordOfANewerVersionIsNotJudgedGone) {
  for (uint32_t version : {1u, 7u}) {
    SCOPED_TRACE("owner.json format_version " + std::to_string(version));
    Sweep s;
    Claimer a(Env::Default(), s.layout, s.spec.claim(), 3, "a");
    Claim ca;
    ASSERT_OK(a.ClaimNext(&ca));
    ASSERT_EQ(ca.index, 0u);
    AttemptOwner o;
    o.set_format_version(version);
    o.set_index(0);
    o.set_attempt(1);
    o.set_slurm_job_id("111");
    o.set_uid(static_cast<uint32_t>(::getuid()));
    ASSERT_OK(Env::Default()->WriteFileAtomic(s.layout.owner_path(0, 1), ToJson(o)));

    Claimer b(Env::Default(), s.layout, s.spec.claim(), 3, "b");
    b.set_job_gone([](const std::string& job) { return job == "111"; });
    Claim cb;
    ASSERT_OK(b.ClaimNext(&cb));
    if (version == 1) {
      EXPECT_EQ(cb.index, 0u);  // taken over at once, before new points
      EXPECT_EQ(cb.attempt, 2u);
    } else {
      EXPECT_EQ(cb.index, 1u);  // left to its lease
      EXPECT_EQ(cb.attempt, 1u);
    }
  }
}

}  // namespace
}  // namespace claimsweep
