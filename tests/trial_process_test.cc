// `trial` as researchers run it: many identical processes on one directory,
// killed with SIGKILL, signalled at walltime, superseded after a stall.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <thread>

#include "core/json.h"
#include "core/layout.h"
#include "proc_sweep.h"
#include "process_util.h"
#include "records.pb.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

TEST(TrialProcess, SixteenRacingWorkersRunEveryPointExactlyOnce) {
  const int kPoints = 2000, kWorkers = 16;
  ProcSweep s(
      Spec(std::to_string(kPoints), "echo {index} >> {sweep_dir}/ran.log", "trials_per_job: 0"));
  std::vector<Spawned> workers;
  for (int w = 0; w < kWorkers; ++w) workers.push_back(s.StartTrial("w" + std::to_string(w)));
  for (auto& w : workers) EXPECT_EQ(WaitExit(w.pid), 0) << ReadAll(w.output_path);

  // The witness is the commands' own log, not claimsweep's bookkeeping.
  auto ran = CountLines(s.dir + "/ran.log");
  EXPECT_EQ(ran.size(), static_cast<size_t>(kPoints)) << "points missing";
  int duplicates = 0;
  for (const auto& [idx, n] : ran) duplicates += n - 1;
  EXPECT_EQ(duplicates, 0);
  for (int i = 0; i < kPoints; ++i) ASSERT_EQ(ran[std::to_string(i)], 1) << "point " << i;
  auto counts = StatusCounts(s.dir);
  EXPECT_EQ(counts["done"], kPoints);
  EXPECT_EQ(counts["pending"], 0);
  // No spurious takeovers, and the lease index is empty again.
  for (int i = 0; i < kPoints; i += 97) EXPECT_FALSE(s.AttemptExists(i, 2)) << i;
  std::vector<std::string> leases;
  ASSERT_OK(Env::Default()->ListDir(s.layout.leases_dir(), &leases));
  EXPECT_TRUE(leases.empty()) << leases.size() << " lease entries left";
}

TEST(TrialProcess, KilledWorkersTrialsAreTakenOverAfterTheLeaseAsAttemptTwo) {
  // Points 0-2 hang on attempt 1 (until killed); point 3 runs for 6 s (a live
  // peer); everything else is instant.
  ProcSweep s(Spec("8",
                   "if [ {attempt} = 1 ] && [ {index} -lt 3 ]; then exec sleep 60; fi; "
                   "if [ {index} = 3 ]; then sleep 6; fi; "
                   "echo {index} >> {sweep_dir}/ran.log",
                   "lease_seconds: 2 heartbeat_seconds: 0.4 trials_per_job: 1"));
  std::vector<Spawned> victims;
  for (int w = 0; w < 3; ++w) victims.push_back(s.StartTrial("victim" + std::to_string(w)));
  ASSERT_TRUE(WaitFor([&] { return StatusCounts(s.dir)["running"] == 3; }, 10));
  for (auto& v : victims) {
    KillNineWithChildren(v.pid);
    EXPECT_EQ(WaitExit(v.pid), 128 + SIGKILL);
  }
  const auto killed = std::chrono::steady_clock::now();

  // A new worker takes point 3 and, while it runs, its lease thread watches
  // the trials after its own (wrapping to 0-2): their heartbeats stay
  // unchanged for a lease of its clock, and it marks them .stale.
  Spawned peer = s.StartTrial("peer");
  for (uint64_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        WaitFor([&] { return ::access(s.layout.stale_lease_path(i, 1).c_str(), F_OK) == 0; }, 15))
        << "trial " << i << "\n"
        << ReadAll(peer.output_path);
  }
  // Not before the lease: the peer must have seen them unchanged that long.
  EXPECT_GE(std::chrono::steady_clock::now() - killed, std::chrono::seconds(2));
  for (uint64_t i = 0; i < 3; ++i) EXPECT_FALSE(s.AttemptExists(i, 2));

  // Marked stale, they are claimed before the remaining new points.
  for (int k = 0; k < 3; ++k) {
    RunResult r = s.RunTrial();
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("attempt 2 (was stale)"), std::string::npos) << r.output;
  }
  EXPECT_EQ(WaitExit(peer.pid), 0) << ReadAll(peer.output_path);
  for (int k = 0; k < 4; ++k) s.RunTrial();
  RunResult last = s.RunTrial();
  EXPECT_NE(last.output.find("nothing to claim"), std::string::npos) << last.output;
  EXPECT_EQ(last.exit_code, 0);

  for (uint64_t i = 0; i < 8; ++i)
    EXPECT_EQ(s.Result(i).attempt(), i < 3 ? 2u : 1u) << "trial " << i;
  auto ran = CountLines(s.dir + "/ran.log");
  EXPECT_EQ(ran.size(), 8u);
  for (const auto& [idx, n] : ran) EXPECT_EQ(n, 1) << "point " << idx;
}

// With nothing new to claim, a trial does not exit while an open trial's
// heartbeat has not been seen to change: it watches it, and takes it over
// once it has stayed unchanged for a lease of its own clock, whatever the
// file times say. Live trials are left alone.
TEST(TrialProcess, AnIdleTrialWatchesHeldTrialsAndTakesOverTheDeadOneOnly) {
  ProcSweep s(Spec("2",
                   "if [ {attempt} = 1 ] && [ {index} = 0 ]; then exec sleep 60; fi; "
                   "if [ {index} = 1 ]; then sleep 8; fi; echo {index} >> {sweep_dir}/ran.log",
                   "lease_seconds: 3 heartbeat_seconds: 0.5 trials_per_job: 1"));
  Spawned victim = s.StartTrial("victim");
  ASSERT_TRUE(WaitFor([&] { return s.AttemptExists(0, 1); }, 10));
  Spawned alive = s.StartTrial("alive");
  ASSERT_TRUE(WaitFor([&] { return s.AttemptExists(1, 1); }, 10));
  KillNineWithChildren(victim.pid);
  WaitExit(victim.pid);
  const auto t0 = std::chrono::steady_clock::now();
  RunResult r = s.RunTrial();
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("watching the open trials"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("trial 000000 attempt 2 (was stale)"), std::string::npos) << r.output;
  EXPECT_LT(waited, 3 + 2 * 0.5 + 3) << r.output;  // lease + 2 heartbeats, and start-up slack
  EXPECT_EQ(WaitExit(alive.pid), 0) << ReadAll(alive.output_path);
  EXPECT_FALSE(s.AttemptExists(1, 2));
  auto ran = CountLines(s.dir + "/ran.log");
  EXPECT_EQ(ran.size(), 2u);
  for (const auto& [idx, n] : ran) EXPECT_EQ(n, 1) << "point " << idx;
}

TEST(TrialProcess, StalledOwnerIsSupersededAndCannotCommit) {
  ProcSweep s(Spec("1", "sleep 2; echo {attempt} >> {sweep_dir}/ran.log",
                   "lease_seconds: 1.5 heartbeat_seconds: 0.3 trials_per_job: 1"));
  Spawned a = s.StartTrial("a");
  ASSERT_TRUE(WaitFor([&] { return StatusCounts(s.dir)["running"] == 1; }, 10));
  ::kill(a.pid, SIGSTOP);  // a stall: GC pause, swapped out, network partition
  ASSERT_TRUE(WaitFor([&] { return StatusCounts(s.dir)["stale"] == 1; }, 10));
  RunResult b = s.RunTrial();
  EXPECT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("attempt 2 (was stale)"), std::string::npos) << b.output;
  ::kill(a.pid, SIGCONT);
  EXPECT_EQ(WaitExit(a.pid), 1);
  std::string a_out = ReadAll(a.output_path);
  EXPECT_NE(a_out.find("lost the claim"), std::string::npos) << a_out;

  EXPECT_EQ(s.Result(0).attempt(), 2u);
  EXPECT_FALSE(Env::Default()->Exists(s.layout.released_path(0, 1)));
  EXPECT_FALSE(Env::Default()->Exists(s.layout.failed_path(0, 1)));
  EXPECT_EQ(StatusCounts(s.dir)["done"], 1);
}

TEST(TrialProcess, WalltimeSignalReleasesExits75AndIsResumedFirst) {
  ProcSweep s(
      Spec("3", "if [ {attempt} = 1 ]; then exec sleep 60; fi; echo {index} >> {sweep_dir}/ran.log",
           "lease_seconds: 60 heartbeat_seconds: 5 trials_per_job: 1"));
  Spawned a = s.StartTrial("a");
  ASSERT_TRUE(WaitFor([&] { return StatusCounts(s.dir)["running"] == 1; }, 10));
  ::kill(a.pid, SIGUSR1);  // what --signal=B:USR1@N delivers
  EXPECT_EQ(WaitExit(a.pid), 75) << ReadAll(a.output_path);
  EXPECT_TRUE(Env::Default()->Exists(s.layout.released_path(0, 1)));
  auto counts = StatusCounts(s.dir);
  EXPECT_EQ(counts["interrupted"], 1);
  EXPECT_EQ(counts["pending"], 2);

  RunResult b = s.RunTrial();  // no lease wait for a released trial
  EXPECT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("trial 000000 attempt 2 (was interrupted)"), std::string::npos)
      << b.output;
  EXPECT_EQ(StatusCounts(s.dir)["pending"], 2);
}

// A walltime signal can land at any instant: while claiming, between fork and
// exec of the command, while it runs. It must never be lost (the command would
// then run to completion past the walltime).
TEST(TrialProcess, WalltimeSignalAtAnyInstantIsNeverLost) {
  ProcSweep s(
      Spec("40", "exec sleep 60", "lease_seconds: 60 heartbeat_seconds: 5 trials_per_job: 1"));
  for (int k = 0; k < 10; ++k) {
    SCOPED_TRACE("signal " + std::to_string(k * 300) + " us after the claim appeared");
    Spawned a = s.StartTrial("race");
    // Each worker resumes trial 0 (interrupted trials come first) as attempt
    // k+1. Wait for that claim, then signal at a different instant each time:
    // before the fork, between fork and exec, after exec.
    ASSERT_TRUE(
        WaitFor([&] { return Env::Default()->Exists(s.layout.attempt_dir(0, k + 1)); }, 30));
    ::usleep(k * 300);
    ::kill(a.pid, SIGUSR1);
    auto t0 = std::chrono::steady_clock::now();
    int rc = WaitExit(a.pid);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(took, 20) << "the signal was lost: " << ReadAll(a.output_path);
    EXPECT_EQ(rc, 75) << ReadAll(a.output_path);
    EXPECT_TRUE(Env::Default()->Exists(s.layout.released_path(0, k + 1)));
  }
}

TEST(TrialProcess, CommandExit75IsAnInterruptionNotAFailure) {
  ProcSweep s(Spec("1", "[ {attempt} -gt 1 ] || exit 75", "max_attempts: 1"));
  RunResult a = s.RunTrial();
  EXPECT_EQ(a.exit_code, 75) << a.output;
  RunResult b = s.RunTrial();
  EXPECT_EQ(b.exit_code, 0) << b.output;
  EXPECT_EQ(s.Result(0).attempt(), 2u);  // max_attempts 1 did not count the interruption
}

TEST(TrialProcess, FailedAttemptsAreRetriedUpToMaxAttempts) {
  ProcSweep s(Spec("1", "echo boom; exit 3", "max_attempts: 3"));
  for (int k = 1; k <= 3; ++k) {
    RunResult r = s.RunTrial();
    EXPECT_EQ(r.exit_code, 1) << r.output;
    TrialResult rec;
    ASSERT_OK(ParseJson(ReadAll(s.layout.failed_path(0, k)), "failed", &rec));
    EXPECT_EQ(rec.exit_code(), 3);
    EXPECT_NE(ReadAll(s.layout.log_path(0, k)).find("boom"), std::string::npos);
  }
  RunResult r = s.RunTrial();
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("nothing to claim"), std::string::npos) << r.output;
  EXPECT_EQ(StatusCounts(s.dir)["failed"], 1);
}

TEST(TrialProcess, TrialsPerJobBoundsHowManyOneProcessRuns) {
  ProcSweep s(Spec("5", "true", "trials_per_job: 3"));
  RunResult r = s.RunTrial();
  EXPECT_EQ(r.exit_code, 0) << r.output;
  auto counts = StatusCounts(s.dir);
  EXPECT_EQ(counts["done"], 3);
  EXPECT_EQ(counts["pending"], 2);
}

TEST(TrialProcess, CommandGetsValuesInArgvAndEnvironmentAndMetricsReachTheResult) {
  ProcSweep s(Spec(
      "2",
      "test \\\"$SWEEP_PARAM_x\\\" = {x} && test \\\"$SWEEP_INDEX\\\" = {index} && "
      "test \\\"$SWEEP_TRIAL_DIR\\\" = \\\"$PWD\\\" && test \\\"$SWEEP_ATTEMPT\\\" = {attempt} && "
      "printf 'epoch,loss,tag\\\\n1,0.5,a\\\\n2,0.25,b\\\\n' > metrics.csv",
      "trials_per_job: 0"));
  RunResult r = s.RunTrial();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  TrialResult res = s.Result(1);
  EXPECT_EQ(res.params().at("x"), "1");
  EXPECT_EQ(res.metrics().fields().at("loss").number_value(), 0.25);
  EXPECT_EQ(res.metrics().fields().at("tag").string_value(), "b");
  EXPECT_EQ(res.exit_code(), 0);
  EXPECT_FALSE(res.host().empty());
}

TEST(TrialProcess, RefusesGroupWritableSweepNamingTheFix) {
  ProcSweep s(Spec("1", "true", ""));
  ASSERT_EQ(::chmod(s.dir.c_str(), 0775), 0);
  RunResult r = s.RunTrial();
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(s.dir + " is writable by group"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("chmod go-w"), std::string::npos) << r.output;
  EXPECT_EQ(StatusCounts(s.dir)["pending"], 1);  // nothing ran
}

TEST(TrialProcess, FindsItsSweepFromTheWorkingDirectory) {
  ProcSweep s(Spec("1", "true", ""));
  RunResult r = RunProcess({TRIAL_BIN}, {"SWEEP_DIR="}, s.layout.trials_dir());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(StatusCounts(s.dir)["done"], 1);
  RunResult lost = RunProcess({TRIAL_BIN}, {"SWEEP_DIR="}, "/");
  EXPECT_EQ(lost.exit_code, 2);
  EXPECT_NE(lost.output.find("no sweep found"), std::string::npos) << lost.output;
  EXPECT_EQ(RunProcess({TRIAL_BIN, "extra"}).exit_code, 2);
  EXPECT_EQ(RunProcess({TRIAL_BIN, "--help"}).exit_code, 0);
}

// Walltime: a job with less time left than a trial needs to reach its first
// checkpoint claims nothing more (the end comes from SLURM_JOB_END_TIME here;
// the real-Slurm tests learn it from squeue).
TEST(TrialProcess, AJobThatCannotReachACheckpointBeforeItsEndClaimsNothing) {
  ProcSweep s(Spec("4", "true", "trials_per_job: 0 min_seconds_left: 60"));
  const std::string end = std::to_string(std::time(nullptr) + 30);
  Spawned t = s.StartTrial("t", {"SLURM_JOB_ID=41", "SLURM_JOB_END_TIME=" + end});
  EXPECT_EQ(WaitExit(t.pid), 0);
  std::string out = ReadAll(t.output_path);
  EXPECT_NE(out.find("less than the 60 s a trial needs"), std::string::npos) << out;
  EXPECT_EQ(StatusCounts(s.dir)["pending"], 4);
}

TEST(TrialProcess, WithoutAFloorTheJobLearnsWhatATrialNeedsFromItsOwnTrials) {
  // Each trial takes 3 s and the walltime signal comes 1 s before the end:
  // a trial needs 4 s. With 9 s left the job runs one trial, then (6 s left)
  // a second, then (3 s left) stops.
  ProcSweep s(Spec("5", "sleep 3", "trials_per_job: 0") + "resources { signal_seconds: 1 }\n");
  const std::string end = std::to_string(std::time(nullptr) + 9);
  Spawned t = s.StartTrial("t", {"SLURM_JOB_ID=42", "SLURM_JOB_END_TIME=" + end});
  EXPECT_EQ(WaitExit(t.pid), 0);
  std::string out = ReadAll(t.output_path);
  EXPECT_NE(out.find("a trial needs to reach its first checkpoint"), std::string::npos) << out;
  auto counts = StatusCounts(s.dir);
  EXPECT_EQ(counts["done"], 2) << out;
  EXPECT_EQ(counts["pending"], 3) << out;
}

// A trial whose Slurm job is gone is taken over at once, not after its lease;
// one whose job Slurm still lists, or when Slurm cannot be asked, is not.
// squeue is a stand-in here; the real-Slurm tests cancel a real job.
TEST(TrialProcess, ATrialOfAVanishedJobIsTakenOverWithoutWaitingForTheLease) {
  ProcSweep s(Spec("3", "sleep 60", "lease_seconds: 600 heartbeat_seconds: 0.5 trials_per_job: 1"));
  const std::string bin = s.tmp.path() + "/bin";
  ASSERT_EQ(::mkdir(bin.c_str(), 0755), 0);
  auto fake_squeue = [&](const std::string& body) {
    std::ofstream(bin + "/squeue") << "#!/bin/sh\n" << body << "\n";
    ::chmod((bin + "/squeue").c_str(), 0755);
  };
  const std::string path = "PATH=" + bin + ":" + std::getenv("PATH");
  Spawned a = s.StartTrial("a", {"SLURM_JOB_ID=111"});
  ASSERT_TRUE(WaitFor([&] { return StatusCounts(s.dir)["running"] == 1; }, 10));

  // Slurm still lists job 111: B leaves trial 0 alone and claims point 1.
  fake_squeue("echo 111; echo 222; echo 333");
  Spawned b = s.StartTrial("b", {"SLURM_JOB_ID=222", path});
  ASSERT_TRUE(WaitFor([&] { return s.AttemptExists(1, 1); }, 10)) << ReadAll(b.output_path);
  EXPECT_FALSE(s.AttemptExists(0, 2));
  // squeue fails: no conclusion, C claims point 2.
  fake_squeue("echo 'slurm_load_jobs error: Unable to contact slurm controller' >&2; exit 1");
  Spawned c = s.StartTrial("c", {"SLURM_JOB_ID=333", path});
  ASSERT_TRUE(WaitFor([&] { return s.AttemptExists(2, 1); }, 10)) << ReadAll(c.output_path);
  EXPECT_FALSE(s.AttemptExists(0, 2));

  // Job 111 is gone (its process lingers, as an escaped one would): D takes
  // trial 0 over as attempt 2 at once, and the old owner stops, writing nothing.
  fake_squeue("echo 222; echo 333; echo 444");
  const auto t0 = std::chrono::steady_clock::now();
  Spawned d = s.StartTrial("d", {"SLURM_JOB_ID=444", path});
  ASSERT_TRUE(WaitFor([&] { return s.AttemptExists(0, 2); }, 10)) << ReadAll(d.output_path);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));  // the lease is 600 s
  // Whoever looked at trial 0 first says so: D while claiming, or the
  // lease thread of B or C watching its peers.
  const std::string said = ReadAll(b.output_path) + ReadAll(c.output_path) + ReadAll(d.output_path);
  EXPECT_NE(said.find("job 111 is no longer known to Slurm"), std::string::npos) << said;
  EXPECT_EQ(WaitExit(a.pid), 1) << ReadAll(a.output_path);  // superseded
  EXPECT_NE(ReadAll(a.output_path).find("lost the claim"), std::string::npos)
      << ReadAll(a.output_path);
  for (Spawned* p : {&b, &c, &d}) {
    KillNineWithChildren(p->pid);
    WaitExit(p->pid);
  }
}

// A relative SWEEP_DIR is resolved against the working directory: the command
// runs inside its trial directory, where the relative path would not hold.
TEST(TrialProcess, ARelativeSweepDirReachesTheCommandAsAnAbsolutePath) {
  ProcSweep s(Spec("1", "echo $SWEEP_DIR > {sweep_dir}/seen", "trials_per_job: 1"));
  RunResult r = RunProcess({TRIAL_BIN}, {"SWEEP_DIR=sweep"}, s.tmp.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadAll(s.dir + "/seen"), s.dir + "\n");
}

}  // namespace
}  // namespace claimsweep::testing
