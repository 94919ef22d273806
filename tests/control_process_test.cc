// `sweep stop|reset|retry` against real `trial` processes on real directories.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "core/json.h"
#include "core/layout.h"
#include "proc_sweep.h"
#include "process_util.h"
#include "records.pb.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

bool ProcessAlive(pid_t pid) { return ::kill(pid, 0) == 0; }

// The command's pid, written by the command itself.
pid_t ReadPid(const std::string& path) {
  std::ifstream in(path);
  long pid = -1;
  in >> pid;
  return static_cast<pid_t>(pid);
}

// (a) stop a running command trial; (b) reset --stopped runs it to done.
TEST(ControlProcess, StopEndsARunningTrialThenResetRunsItAgainFromAttemptOne) {
  // Point 0 sleeps on its first run only; the others finish at once.
  ProcSweep s(Spec("3",
                   "echo $$ > {sweep_dir}/pid.{index}.{attempt}; "
                   "if [ {index} = 0 ] && [ ! -e {sweep_dir}/archive ]; then exec sleep 60; fi; "
                   "echo ran {index}",
                   "lease_seconds: 3 heartbeat_seconds: 0.5 trials_per_job: 0"));
  Spawned a = s.StartTrial("a");
  ASSERT_TRUE(WaitFor([&] { return StatusCounts(s.dir)["running"] == 1; }, 10))
      << ReadAll(a.output_path);
  ASSERT_TRUE(WaitFor([&] { return ReadPid(s.dir + "/pid.0.1") > 0; }, 5));
  const pid_t command = ReadPid(s.dir + "/pid.0.1");
  ASSERT_TRUE(ProcessAlive(command));

  const auto t0 = std::chrono::steady_clock::now();
  RunResult stop = s.Sweep({"stop", s.dir, "0"});
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  EXPECT_NE(stop.output.find("000000: stopped (was running attempt 1; its trial will checkpoint "
                             "and stop within ~0.5 s)"),
            std::string::npos)
      << stop.output;
  // Within a few seconds the command is gone (SIGTERM to its process group)...
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(command); }, 5));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5);
  // ...and the same `trial` goes on with the next points (no exit 75).
  EXPECT_EQ(WaitExit(a.pid), 0);
  const std::string out = ReadAll(a.output_path);
  EXPECT_NE(out.find("trial 000000 attempt 1: stopped by the user (sweep stop)"), std::string::npos)
      << out;
  EXPECT_NE(out.find("trial 000002 attempt 1: done"), std::string::npos) << out;
  auto counts = StatusCounts(s.dir);
  EXPECT_EQ(counts["stopped"], 1);
  EXPECT_EQ(counts["done"], 2);
  TrialResult rel;
  ASSERT_OK(ParseJson(ReadAll(s.layout.released_path(0, 1)), "released", &rel));
  EXPECT_EQ(rel.outcome(), "stopped");
  EXPECT_EQ(rel.term_signal(), SIGTERM);

  // A new `trial` does not claim the stopped trial.
  RunResult b = s.RunTrial();
  EXPECT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("nothing to claim"), std::string::npos) << b.output;
  EXPECT_FALSE(Env::Default()->Exists(s.layout.attempt_dir(0, 2)));

  // A pending point stopped before anyone claims it: stopped, never claimed.
  RunResult bad = s.Sweep({"stop", s.dir, "3"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("index 3 is out of range: the sweep has 3 points (0-2)"),
            std::string::npos)
      << bad.output;

  // (b) reset --stopped, then a trial runs it to done as attempt 1.
  RunResult reset = s.Sweep({"reset", s.dir, "--stopped"});
  EXPECT_EQ(reset.exit_code, 0) << reset.output;
  EXPECT_NE(reset.output.find("000000: reset (was stopped, 1 attempt)"), std::string::npos)
      << reset.output;
  auto archives = s.List(s.dir + "/archive");
  ASSERT_EQ(archives.size(), 1u);
  EXPECT_EQ(archives[0].rfind("000000-", 0), 0u) << archives[0];
  const std::string archive = s.dir + "/archive/" + archives[0];
  EXPECT_EQ(s.List(archive), (std::vector<std::string>{"attempt-0001", "attempt-0001.released.json",
                                                       "stop", "work"}));
  EXPECT_NE(ReadAll(archive + "/attempt-0001/log").find("claimsweep: trial 000000 attempt 1"),
            std::string::npos);
  EXPECT_EQ(StatusCounts(s.dir)["interrupted"], 1);

  RunResult c = s.RunTrial();
  EXPECT_EQ(c.exit_code, 0) << c.output;
  EXPECT_NE(c.output.find("claimed trial 000000 attempt 1 (was interrupted)"), std::string::npos)
      << c.output;
  EXPECT_EQ(s.Result(0).attempt(), 1u);
  counts = StatusCounts(s.dir);
  EXPECT_EQ(counts["done"], 3);
  EXPECT_EQ(counts["stopped"], 0);
  EXPECT_TRUE(s.List(s.layout.leases_dir()).empty());
}

// A reset trial is claimed again through the `.released` entry that `sweep
// reset` left. If its new owner then dies, its lease must still be watched
// and the trial taken over: a dead owner of a reset trial loses nothing.
TEST(ControlProcess, AResetTrialWhoseNewOwnerDiesIsTakenOver) {
  TempDir knob;
  const std::string sleep_file = knob.path() + "/sleep";
  WriteRaw(sleep_file, "0");
  ProcSweep s(Spec("1", "sleep $(cat " + sleep_file + ")",
                   "lease_seconds: 2 heartbeat_seconds: 0.5 max_attempts: 3"));
  ASSERT_EQ(s.RunTrial().exit_code, 0);
  RunResult r = s.Sweep({"reset", s.dir, "0"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  WriteRaw(sleep_file, "60");
  Spawned a = s.StartTrial("a");
  ASSERT_TRUE(WaitFor([&] { return s.AttemptExists(0, 1); }, 20));
  ASSERT_TRUE(WaitFor([&] { return StatusCounts(s.dir)["running"] == 1; }, 20));
  KillNineWithChildren(a.pid);
  WaitExit(a.pid);
  WriteRaw(sleep_file, "0");
  r = s.RunTrial();
  EXPECT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(Env::Default()->Exists(s.layout.result_path(0))) << r.output;
  EXPECT_EQ(s.Result(0).attempt(), 2u) << r.output;
  EXPECT_EQ(s.Result(0).outcome(), "done");
}

TEST(ControlProcess, StopOfAPendingPointIsNeverClaimed) {
  ProcSweep s(Spec("4", "echo {index} >> {sweep_dir}/ran.log", "trials_per_job: 0"));
  RunResult stop = s.Sweep({"stop", s.dir, "1", "3"});
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  EXPECT_NE(stop.output.find("000001: stopped (was pending; it will not be claimed)"),
            std::string::npos)
      << stop.output;
  RunResult t = s.RunTrial();
  EXPECT_EQ(t.exit_code, 0) << t.output;
  auto ran = CountLines(s.dir + "/ran.log");
  EXPECT_EQ(ran, (std::map<std::string, int>{{"0", 1}, {"2", 1}}));
  auto counts = StatusCounts(s.dir);
  EXPECT_EQ(counts["done"], 2);
  EXPECT_EQ(counts["stopped"], 2);
  EXPECT_EQ(counts["pending"], 0);
  RunResult again = s.Sweep({"stop", s.dir, "0"});
  EXPECT_NE(again.output.find("000000: already done: nothing to stop"), std::string::npos)
      << again.output;
}

// (c) a command that fails until a marker file exists.
TEST(ControlProcess, RetryGivesAFailedTrialNewAttemptsAndKeepsItsHistory) {
  ProcSweep s(
      Spec("1", "if [ ! -e {sweep_dir}/fixed ]; then echo broken; exit 3; fi", "max_attempts: 2"));
  for (int k = 1; k <= 2; ++k) {
    RunResult r = s.RunTrial();
    EXPECT_EQ(r.exit_code, 1) << r.output;
  }
  EXPECT_EQ(StatusCounts(s.dir)["failed"], 1);
  RunResult none = s.RunTrial();
  EXPECT_NE(none.output.find("nothing to claim"), std::string::npos) << none.output;

  RunResult retry = s.Sweep({"retry", s.dir, "--failed"});
  EXPECT_EQ(retry.exit_code, 0) << retry.output;
  EXPECT_NE(
      retry.output.find(
          "000000: retry (was failed after 2 failed attempts; kept as history); the next claim "
          "runs attempt 3"),
      std::string::npos)
      << retry.output;
  EXPECT_EQ(StatusCounts(s.dir)["interrupted"], 1);
  std::ofstream(s.dir + "/fixed") << "";

  RunResult r = s.RunTrial();
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("claimed trial 000000 attempt 3 (was interrupted)"), std::string::npos)
      << r.output;
  EXPECT_EQ(s.Result(0).attempt(), 3u);
  EXPECT_EQ(StatusCounts(s.dir)["done"], 1);
  for (uint32_t k = 1; k <= 2; ++k)
    EXPECT_TRUE(Env::Default()->Exists(s.layout.failed_path(0, k))) << k;
  RunResult nothing = s.Sweep({"retry", s.dir, "--failed"});
  EXPECT_EQ(nothing.exit_code, 0);
  EXPECT_NE(nothing.output.find("no failed trials"), std::string::npos) << nothing.output;
}

TEST(ControlProcess, ResetRefusesARunningTrialAndSaysToStopItFirst) {
  ProcSweep s(
      Spec("1", "exec sleep 60", "lease_seconds: 30 heartbeat_seconds: 0.5 trials_per_job: 1"));
  Spawned a = s.StartTrial("a");
  ASSERT_TRUE(WaitFor([&] { return StatusCounts(s.dir)["running"] == 1; }, 10));
  RunResult reset = s.Sweep({"reset", s.dir, "0"});
  EXPECT_EQ(reset.exit_code, 1) << reset.output;
  EXPECT_NE(reset.output.find("not reset; `sweep stop` it first"), std::string::npos)
      << reset.output;
  EXPECT_FALSE(Env::Default()->Exists(s.dir + "/archive"));
  RunResult stop = s.Sweep({"stop", s.dir, "0"});
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  EXPECT_EQ(WaitExit(a.pid), 0) << ReadAll(a.output_path);
  reset = s.Sweep({"reset", s.dir, "0"});
  EXPECT_EQ(reset.exit_code, 0) << reset.output;
  EXPECT_EQ(StatusCounts(s.dir)["interrupted"], 1);
}

// A command trial stopped mid-run, then resumed: attempt 2 continues it (here
// from the command's own checkpoint file) and completes.
TEST(ControlProcess, ResumeOfATrialStoppedMidRunContinuesItAsTheNextAttempt) {
  ProcSweep s(Spec(
      "1",
      "if [ -e {sweep_dir}/ckpt ]; then echo resumed from $(cat {sweep_dir}/ckpt); exit 0; fi; "
      "echo 7 > {sweep_dir}/ckpt; exec sleep 60",
      "lease_seconds: 30 heartbeat_seconds: 0.5 trials_per_job: 1"));
  Spawned a = s.StartTrial("a");
  ASSERT_TRUE(WaitFor([&] { return Env::Default()->Exists(s.dir + "/ckpt"); }, 10))
      << ReadAll(a.output_path);
  RunResult stop = s.Sweep({"stop", s.dir, "0"});
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  EXPECT_EQ(WaitExit(a.pid), 0) << ReadAll(a.output_path);
  ASSERT_EQ(StatusCounts(s.dir)["stopped"], 1);

  RunResult resume = s.Sweep({"resume", s.dir, "0"});
  EXPECT_EQ(resume.exit_code, 0) << resume.output;
  EXPECT_NE(resume.output.find("000000: resumed; the next claim continues it as attempt 2"),
            std::string::npos)
      << resume.output;
  EXPECT_EQ(StatusCounts(s.dir)["interrupted"], 1);
  RunResult b = s.RunTrial();
  EXPECT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("claimed trial 000000 attempt 2 (was interrupted)"), std::string::npos)
      << b.output;
  EXPECT_NE(b.output.find("resumed from 7"), std::string::npos) << b.output;
  EXPECT_EQ(s.Result(0).attempt(), 2u);
  EXPECT_TRUE(s.List(s.layout.leases_dir()).empty());

  // Not stopped any more: a second resume is refused.
  RunResult again = s.Sweep({"resume", s.dir, "0"});
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_NE(again.output.find("000000: done: not stopped, nothing to resume"), std::string::npos)
      << again.output;
}

TEST(ControlProcess, AStoppedPendingPointResumedIsClaimedAndRun) {
  ProcSweep s(Spec("4", "echo {index} >> {sweep_dir}/ran.log", "trials_per_job: 0"));
  ASSERT_EQ(s.Sweep({"stop", s.dir, "1", "3"}).exit_code, 0);
  ASSERT_EQ(s.RunTrial().exit_code, 0);
  EXPECT_EQ(CountLines(s.dir + "/ran.log"), (std::map<std::string, int>{{"0", 1}, {"2", 1}}));
  RunResult resume = s.Sweep({"resume", s.dir, "--stopped"});
  EXPECT_EQ(resume.exit_code, 0) << resume.output;
  EXPECT_NE(resume.output.find("000001: resumed (was never run; the next claim runs attempt 1)"),
            std::string::npos)
      << resume.output;
  EXPECT_NE(resume.output.find("000003: resumed"), std::string::npos) << resume.output;
  RunResult t = s.RunTrial();
  EXPECT_EQ(t.exit_code, 0) << t.output;
  EXPECT_EQ(CountLines(s.dir + "/ran.log"),
            (std::map<std::string, int>{{"0", 1}, {"1", 1}, {"2", 1}, {"3", 1}}));
  EXPECT_EQ(StatusCounts(s.dir)["done"], 4);
  EXPECT_EQ(s.Result(3).attempt(), 1u);
}

// Exit 1 for every trial the command did not do what was asked for; 0 when it
// did, or the trial already was where it would bring it.
TEST(ControlProcess, RefusalsExit1AndAlreadyDoneCasesExit0) {
  ProcSweep s(
      Spec("3", "if [ {index} = 1 ]; then exit 3; fi", "max_attempts: 1 trials_per_job: 0"));
  EXPECT_EQ(s.RunTrial().exit_code, 1);  // 0 done, 1 failed, 2 done
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {{"retry", "0"}, 1, "000000: done: nothing to retry"},
           {{"stop", "0"}, 1, "000000: already done: nothing to stop"},
           {{"stop", "1"}, 1, "000001: failed: nothing to stop"},
           {{"resume", "1"}, 1, "000001: failed: not stopped, nothing to resume"},
           {{"retry", "0", "1"},
            1,
            "000001: retry (was failed"},  // one refused: exit 1, the other done
           {{"stop", "1"}, 0, "000001: stopped (was interrupted"},
           {{"stop", "1"}, 0, "000001: already stopped"},
           {{"retry", "1"}, 1, "000001: stopped: not retried"},
           {{"reset", "1"}, 0, "000001: reset (was stopped"},
           {{"reset", "1"}, 0, "000001: nothing to archive (already reset)"},
       }) {
    std::vector<std::string> args = c.args;
    args.insert(args.begin() + 1, s.dir);
    RunResult r = s.Sweep(args);
    EXPECT_EQ(r.exit_code, c.exit_code) << args[0] << " " << args.back() << ": " << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace claimsweep::testing
