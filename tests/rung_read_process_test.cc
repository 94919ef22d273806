// `sweep summary` and `sweep status` of an early-stopping sweep (#14 item 4),
// the real binary on a hand-made directory (tests/rung_fixture.h): a rung and
// epochs_done per configuration, configurations per rung.
#include <gtest/gtest.h>

#include "process_util.h"
#include "rung_fixture.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

// 9 configurations: all done at rung 0; 8 and 7 done at rung 1, 6 failed
// there; 8 done at rung 2.
struct Fixture : RungSweep {
  Fixture() : RungSweep(9) {
    for (uint64_t c = 0; c < 9; ++c) Done(0, c);
    Done(1, 8);
    Done(1, 7);
    Failed(1, 6);
    Done(2, 8);
  }
};

TEST(RungSummary, CsvHasRungAndEpochsDoneAndRanksLongerTrainedConfigurationsFirst) {
  Fixture f;
  RunResult r = RunProcess(
      {SWEEP_BIN, "summary", f.root.root(), "--format", "csv", "--sort", "val_acc", "--desc"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output,
            "index,state,rung,epochs_done,attempts,seed,val_acc,wall_seconds,last_attempt_seconds\n"
            "000008,done,2,9,1,8,0.82,3,1\n"
            "000007,done,1,3,1,7,0.71,2,1\n"
            "000006,failed,1,1,3,6,0.6,1,1\n"
            "000005,done,0,1,1,5,0.5,1,1\n"
            "000004,done,0,1,1,4,0.4,1,1\n"
            "000003,done,0,1,1,3,0.3,1,1\n"
            "000002,done,0,1,1,2,0.2,1,1\n"
            "000001,done,0,1,1,1,0.1,1,1\n"
            "000000,done,0,1,1,0,0,1,1\n");
  // Ascending: still the most trained first, each group by the metric.
  r = RunProcess({SWEEP_BIN, "summary", f.root.root(), "--format", "csv", "--sort", "val_acc"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.substr(0, r.output.find("000001")),
            "index,state,rung,epochs_done,attempts,seed,val_acc,wall_seconds,last_attempt_seconds\n"
            "000008,done,2,9,1,8,0.82,3,1\n"
            "000007,done,1,3,1,7,0.71,2,1\n"
            "000000,done,0,1,1,0,0,1,1\n");
  // --sort rung and JSON numbers.
  r = RunProcess({SWEEP_BIN, "summary", f.root.root(), "--format", "json", "--sort", "rung",
                  "--desc", "--top", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\"index\":8,\"state\":\"done\",\"rung\":2,\"epochs_done\":9,"),
            std::string::npos)
      << r.output;
}

TEST(RungStatus, ShowsConfigurationsPerRungAndTheComputeUsed) {
  Fixture f;
  f.Announced(2, 7);  // as if promoted late: promoted, not started
  RunResult r = RunProcess({SWEEP_BIN, "status", f.root.root()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(
      r.output.find("early stopping: SHA on val_acc (maximize), rungs 1, 3, 9 epochs, "
                    "reduction 3\n"
                    "  rung 0 (1 epoch): 9 configurations: 9 done\n"
                    "  rung 1 (3 epochs): 3 configurations: 2 done, 1 failed\n"
                    "  rung 2 (9 epochs): 2 configurations: 1 done, 1 promoted (not started)\n"
                    "  compute: 19 of 81 epochs (0.2346 of training each of the 9 "
                    "configurations done at rung 0 to 9 epochs)\n"),
      std::string::npos)
      << r.output;
  r = RunProcess({SWEEP_BIN, "status", f.root.root(), "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\"early_stopping\":{\"rule\":\"SHA on val_acc (maximize), rungs 1, 3, "
                          "9 epochs, reduction 3\",\"rungs\":[{\"rung\":0,\"epochs\":1,"
                          "\"configurations\":9,\"pending\":0,\"running\":0,\"interrupted\":0,"
                          "\"stale\":0,\"done\":9,\"failed\":0,"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("{\"rung\":2,\"epochs\":9,\"configurations\":2,\"pending\":1,"
                          "\"running\":0,\"interrupted\":0,\"stale\":0,\"done\":1,"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("\"epochs_used\":19,\"epochs_exhaustive\":81,\"compute_fraction\":0.23"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace claimsweep::testing
