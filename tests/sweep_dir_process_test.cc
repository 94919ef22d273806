// `sweep` commands without DIR (found like `trial` finds it), `sweep log`,
// and where `sweep status` says each running trial's log is.
#include <gtest/gtest.h>

#include "core/env.h"
#include "core/layout.h"
#include "proc_sweep.h"
#include "process_util.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

TEST(SweepDir, EveryCommandFindsTheSweepFromTheWorkingDirectory) {
  ProcSweep s(Spec("3", "echo ran {index}", "trials_per_job: 1"));
  ASSERT_EQ(s.RunTrial().exit_code, 0);  // 0 done
  const std::string inside =
      s.layout.trials_dir();  // below the sweep: its nearest ancestor holds it
  auto sweep = [&](std::vector<std::string> args, const std::string& cwd) {
    args.insert(args.begin(), SWEEP_BIN);
    return RunProcess(args, {"SWEEP_DIR="}, cwd);
  };
  RunResult status = sweep({"status"}, inside);
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("sweep 't' in " + s.dir + ": 3 points"), std::string::npos)
      << status.output;
  EXPECT_EQ(sweep({"points", "--format", "csv"}, inside).output, "index,x\n0,0\n1,1\n2,2\n");
  RunResult summary = sweep({"summary", "--format", "csv"}, inside);
  EXPECT_EQ(summary.exit_code, 0) << summary.output;
  EXPECT_NE(summary.output.find("done"), std::string::npos) << summary.output;
  RunResult report = sweep({"report", "-o", s.tmp.path() + "/r.html"}, inside);
  EXPECT_EQ(report.exit_code, 0) << report.output;
  EXPECT_TRUE(Env::Default()->Exists(s.tmp.path() + "/r.html"));
  RunResult submit = sweep({"submit", "--dry-run"}, inside);
  EXPECT_EQ(submit.exit_code, 0) << submit.output;
  EXPECT_NE(submit.output.find(s.dir), std::string::npos) << submit.output;
  RunResult log = sweep({"log", "0"}, inside);
  EXPECT_EQ(log.exit_code, 0) << log.output;
  EXPECT_NE(log.output.find("ran 0"), std::string::npos) << log.output;

  // Arguments that are indices are indices; the first one that is not is DIR.
  RunResult stop = sweep({"stop", "1"}, inside);
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  EXPECT_NE(stop.output.find("000001: stopped (was pending"), std::string::npos) << stop.output;
  RunResult resume = sweep({"resume", "1"}, inside);
  EXPECT_EQ(resume.exit_code, 0) << resume.output;
  RunResult reset = sweep({"reset", "2"}, inside);
  EXPECT_EQ(reset.exit_code, 0) << reset.output;  // pending: already where a reset brings it
  RunResult retry = sweep({"retry", "0"}, inside);
  EXPECT_EQ(retry.exit_code, 1) << retry.output;  // done: refused
  EXPECT_NE(retry.output.find("000000: done: nothing to retry"), std::string::npos) << retry.output;

  // $SWEEP_DIR, from anywhere; DIR named explicitly, from anywhere.
  RunResult env = RunProcess({SWEEP_BIN, "status"}, {"SWEEP_DIR=" + s.dir}, "/");
  EXPECT_EQ(env.exit_code, 0) << env.output;
  RunResult named = sweep({"stop", s.dir, "2"}, "/");
  EXPECT_EQ(named.exit_code, 0) << named.output;
  EXPECT_NE(named.output.find("000002: stopped"), std::string::npos) << named.output;
  RunResult named_range = sweep({"resume", s.dir, "1-2"}, "/");
  EXPECT_EQ(named_range.exit_code, 1)
      << named_range.output;  // 1 is not stopped (resumed above); 2 is
  EXPECT_NE(named_range.output.find("000002: resumed"), std::string::npos) << named_range.output;

  // Nowhere to be found: a usage error that says what was searched.
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"status"}, {"stop", "1"}, {"log", "0"}, {"summary"}}) {
    RunResult lost = sweep(args, "/");
    EXPECT_EQ(lost.exit_code, 2) << args[0] << ": " << lost.output;
    EXPECT_NE(lost.output.find("no sweep found"), std::string::npos) << lost.output;
  }
  RunResult wrong = sweep({"stop", s.tmp.path() + "/nosweep", "1"}, "/");
  EXPECT_EQ(wrong.exit_code, 2) << wrong.output;
}

TEST(SweepLog, FollowPrintsWhatTheAttemptAppendsUntilItEndsAndStatusSaysWhereItIs) {
  ProcSweep s(Spec("2",
                   "echo start {attempt}; while [ ! -e {sweep_dir}/go ]; do sleep 0.05; done; echo "
                   "end {attempt}",
                   "trials_per_job: 1 lease_seconds: 30 heartbeat_seconds: 1"));
  Spawned t = s.StartTrial("t");
  const std::string log = s.layout.log_path(0, 1);
  ASSERT_TRUE(WaitFor([&] { return ReadAll(log).find("start 1") != std::string::npos; }, 10))
      << ReadAll(t.output_path);

  // status: a line per running trial (table), and "logs" (json).
  RunResult status = s.Sweep({"status", s.dir});
  EXPECT_NE(status.output.find("logs of running trials (sweep log IDX --follow):\n  000000  " +
                               log + "\n"),
            std::string::npos)
      << status.output;
  RunResult json = s.Sweep({"status", s.dir, "--format", "json"});
  EXPECT_NE(json.output.find("\"logs\":[{\"index\":0,\"attempt\":1,\"log\":\"" + log + "\"}]"),
            std::string::npos)
      << json.output;

  Spawned follow = Spawn({SWEEP_BIN, "log", s.dir, "0", "--follow"}, {}, s.tmp.path(),
                         s.tmp.path() + "/follow.out");
  ASSERT_TRUE(WaitFor(
      [&] { return ReadAll(follow.output_path).find("start 1") != std::string::npos; }, 10));
  EXPECT_EQ(ReadAll(follow.output_path).find("end 1"), std::string::npos);
  WriteRaw(s.dir + "/go", "");
  EXPECT_EQ(WaitExit(follow.pid), 0);  // the attempt ended: so does --follow
  EXPECT_EQ(WaitExit(t.pid), 0);
  const std::string followed = ReadAll(follow.output_path);
  EXPECT_NE(followed.find("start 1\n"), std::string::npos) << followed;
  EXPECT_NE(followed.find("end 1\n"), std::string::npos) << followed;
  EXPECT_EQ(followed, ReadAll(log));  // every byte, once

  RunResult plain = s.Sweep({"log", s.dir, "0", "--attempt", "1"});
  EXPECT_EQ(plain.exit_code, 0);
  EXPECT_EQ(plain.output, ReadAll(log));
  RunResult done = s.Sweep({"status", s.dir});
  EXPECT_EQ(done.output.find("logs of running trials"), std::string::npos) << done.output;

  // Refusals: a missing attempt, a trial never run, an index out of range.
  RunResult no_attempt = s.Sweep({"log", s.dir, "0", "--attempt", "2"});
  EXPECT_EQ(no_attempt.exit_code, 1);
  EXPECT_NE(no_attempt.output.find("trial 000000 has no attempt 2 (latest: 1)"), std::string::npos)
      << no_attempt.output;
  RunResult pending = s.Sweep({"log", s.dir, "1"});
  EXPECT_EQ(pending.exit_code, 1);
  EXPECT_NE(pending.output.find("trial 000001 has no attempt yet (pending)"), std::string::npos)
      << pending.output;
  EXPECT_EQ(s.Sweep({"log", s.dir, "1", "--follow"}).exit_code, 1);
  EXPECT_EQ(s.Sweep({"log", s.dir, "5"}).exit_code, 2);
  EXPECT_EQ(s.Sweep({"log", s.dir}).exit_code, 2);
}

}  // namespace
}  // namespace claimsweep::testing
