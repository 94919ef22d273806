// `sweep summary` and `sweep status` of an early-stopping sweep (#14 item 4),
// the real binary on a hand-made directory (tests/rung_fixture.h): a rung and
// epochs_done per configuration, configurations per rung.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "proc_sweep.h"
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
                    "configurations done at rung 0 to 9 epochs)\n"
                    "  (`sweep status --stage rung-<k>` lists rung k's configurations, the "
                    "running ones' logs)\n"),
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

TEST(RungStatus, StageRungKListsThatRungsConfigurations) {
  Fixture f;
  f.Announced(2, 7);
  RunResult r = RunProcess({SWEEP_BIN, "status", f.root.root(), "--stage", "rung-1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("stage 'rung-1' of sweep 'es' in " + f.root.root() +
                          " (each_trial of trials): 3 items\n"
                          "pending 0  running 0  interrupted 0  stale 0  done 2  failed 1"),
            std::string::npos)
      << r.output;
  for (const char* row : {"000006-0000  failed", "000007-0000  done", "000008-0000  done"})
    EXPECT_NE(r.output.find(row), std::string::npos) << row << "\n" << r.output;
  // Rung 2: 8 done, 7 announced (pending, no directory yet).
  r = RunProcess({SWEEP_BIN, "status", f.root.root(), "--stage", "rung-2", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("{\"stage\":\"rung-2\",\"kind\":\"each_trial\",\"input\":\"rung-1\","
                          "\"total\":2,\"pending\":1,\"running\":0,\"interrupted\":0,"
                          "\"stale\":0,\"done\":1,"),
            std::string::npos)
      << r.output;
  r = RunProcess({SWEEP_BIN, "status", f.root.root(), "--stage", "rung-3"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("(stages: none; rungs: rung-1, rung-2)"), std::string::npos) << r.output;
}

// The runtime's own SHA run (one `trial` doing all the work: 9 -> 3 -> 1 at
// 1, 3, 9 epochs), read back: what the hand-made directories above stand for.
// The trainer resumes from its work directory to {budget}, val_acc = x/100 +
// epoch/1000.
TEST(RungSummary, ARealShaRunReadsAsItsRungs) {
  ProcSweep s(
      "name: \"es\"\ngrid { param { name: \"x\" range { start: 0 stop: 9 step: 1 } } }\n"
      "command { argv: \"sh\" argv: \"-c\" argv: \"exec {spec_dir}/train.sh {x} {budget}\" }\n"
      "early_stopping { asha { metric: \"val_acc\" maximize: true min_epochs: 1 max_epochs: 9 "
      "reduction: 3 synchronous: true } }\n"
      "claim { lease_seconds: 30 heartbeat_seconds: 0.5 trials_per_job: 0 }\n");
  const std::string trainer = s.tmp.path() + "/train.sh";
  std::ofstream(trainer) << "#!/bin/sh\nset -e\ne=0; [ -f epochs.txt ] && e=$(cat epochs.txt)\n"
                            "[ -f metrics.csv ] || echo epoch,val_acc > metrics.csv\n"
                            "while [ $e -lt $2 ]; do e=$((e+1)); "
                            "echo \"$e,$(awk \"BEGIN{printf \\\"%.3f\\\", $1/100 + $e/1000}\")\" "
                            ">> metrics.csv; echo $e > epochs.txt; done\n";
  ::chmod(trainer.c_str(), 0755);
  RunResult t = s.RunTrial();
  ASSERT_EQ(t.exit_code, 0) << t.output;

  RunResult r = s.Sweep({"summary", s.dir, "--format", "csv", "--sort", "val_acc", "--desc"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> rows;
  for (size_t at = 0, nl; (nl = r.output.find('\n', at)) != std::string::npos; at = nl + 1) {
    const std::string line = r.output.substr(at, nl - at);
    // Up to the metrics (the record's: metrics.csv's last row): the times vary.
    size_t cut = 0;
    for (int commas = 0; cut < line.size() && commas < 8; ++cut) commas += line[cut] == ',';
    rows.push_back(line.substr(0, cut));
  }
  ASSERT_EQ(rows.size(), 10u) << r.output;
  EXPECT_EQ(rows[0], "index,state,rung,epochs_done,attempts,x,epoch,val_acc,");
  EXPECT_EQ(rows[1], "000008,done,2,9,1,8,9,0.089,");
  EXPECT_EQ(rows[2], "000007,done,1,3,1,7,3,0.073,");
  EXPECT_EQ(rows[3], "000006,done,1,3,1,6,3,0.063,");
  EXPECT_EQ(rows[4], "000005,done,0,1,1,5,1,0.051,");
  EXPECT_EQ(rows[9], "000000,done,0,1,1,0,1,0.001,");

  r = s.Sweep({"status", s.dir});
  EXPECT_NE(r.output.find("  rung 0 (1 epoch): 9 configurations: 9 done\n"
                          "  rung 1 (3 epochs): 3 configurations: 3 done\n"
                          "  rung 2 (9 epochs): 1 configuration: 1 done\n"
                          "  compute: 21 of 81 epochs (0.2593 of training"),
            std::string::npos)
      << r.output;
  const std::string html = s.tmp.path() + "/r.html";
  r = s.Sweep({"report", s.dir, "-o", html});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(ReadAll(html).find("Compute used: 21 epochs of 9&times;9 = 81 (fraction 0.2593)"),
            std::string::npos);
}

}  // namespace
}  // namespace claimsweep::testing
