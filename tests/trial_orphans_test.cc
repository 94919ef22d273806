// A trial's command never outlives its trial: whatever kills `trial`, and
// however the command ends, no process of the command keeps running (two
// attempts of one trial must never run at once).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "core/json.h"
#include "proc_sweep.h"
#include "process_util.h"
#include "records.pb.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

// The shell, two background children in its process group, a child orphaned
// by its subshell (reparented away from the shell), and one that left the
// group and the session (setsid, then orphaned): each writes its pid to
// {sweep_dir}/pids. `TAIL` ends the command.
std::string TreeCommand(const std::string& tail) {
  return "echo $$ >> {sweep_dir}/pids; sleep 300 & echo $! >> {sweep_dir}/pids; "
         "sleep 300 & echo $! >> {sweep_dir}/pids; ( sleep 300 & echo $! >> {sweep_dir}/pids ) ; "
         "( setsid sleep 300 & echo $! >> {sweep_dir}/pids ) ; " +
         tail;
}
constexpr int kTreeSize = 5;

std::vector<pid_t> ReadPids(const std::string& path) {
  std::vector<pid_t> pids;
  std::ifstream in(path);
  for (pid_t p; in >> p;) pids.push_back(p);
  return pids;
}

// Alive and not a zombie.
bool Alive(pid_t pid) {
  // read(2), not a stream: a process that exits while we read fails the read.
  const int fd = ::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[512];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  const std::string stat(buf, n > 0 ? static_cast<size_t>(n) : 0);
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

std::string Survivors(const std::vector<pid_t>& pids) {
  std::ostringstream s;
  for (pid_t p : pids) {
    if (Alive(p)) s << p << " ";
  }
  return s.str();
}

// Kills whatever a failed test left behind, so nothing lingers on the machine.
struct KillAtExit {
  std::string path;
  ~KillAtExit() {
    for (pid_t p : ReadPids(path)) {
      if (Alive(p)) ::kill(p, SIGKILL);
    }
  }
};

// Starts `trial` on a one-point sweep running TreeCommand and waits until the
// whole tree is up.
struct TreeTrial {
  ProcSweep s;
  KillAtExit guard{s.dir + "/pids"};
  Spawned t;
  explicit TreeTrial(const std::string& tail)
      : s(Spec("1", TreeCommand(tail),
               "lease_seconds: 60 heartbeat_seconds: 5 trials_per_job: 1")) {
    t = s.StartTrial("t");
    EXPECT_TRUE(WaitFor([&] { return ReadPids(s.dir + "/pids").size() == kTreeSize; }, 20))
        << ReadAll(t.output_path);
  }
  std::vector<pid_t> Pids() { return ReadPids(s.dir + "/pids"); }
  bool AllGone(double seconds) {
    return WaitFor([&] { return Survivors(Pids()).empty(); }, seconds);
  }
};

TEST(TrialOrphans, SigkillOfTrialKillsEveryProcessOfTheCommandWithinTwoSeconds) {
  TreeTrial tt("wait");
  ASSERT_EQ(tt.Pids().size(), static_cast<size_t>(kTreeSize));
  ASSERT_TRUE(Survivors(tt.Pids()).size() > 0);
  ::kill(tt.t.pid, SIGKILL);  // only `trial`, as the OOM killer would
  EXPECT_EQ(WaitExit(tt.t.pid), 128 + SIGKILL);
  EXPECT_TRUE(tt.AllGone(2)) << "still running: " << Survivors(tt.Pids());
  // The lease protocol is unchanged: the trial looks running until its lease expires.
  EXPECT_EQ(StatusCounts(tt.s.dir)["running"], 1);
}

TEST(TrialOrphans, SighupIsHandledLikeSigtermAndLeavesNoProcessBehind) {
  TreeTrial tt("wait");
  ASSERT_EQ(tt.Pids().size(), static_cast<size_t>(kTreeSize));
  ::kill(tt.t.pid, SIGHUP);  // the terminal closed, or the login session ended
  EXPECT_TRUE(tt.AllGone(2)) << "still running: " << Survivors(tt.Pids());
  EXPECT_EQ(WaitExit(tt.t.pid), 75) << ReadAll(tt.t.output_path);
  TrialResult rec;
  ASSERT_OK(ParseJson(ReadAll(tt.s.layout.released_path(0, 1)), "released", &rec))
      << ReadAll(tt.t.output_path);
  EXPECT_EQ(rec.outcome(), "interrupted");
  EXPECT_NE(rec.message().find("signal " + std::to_string(SIGHUP)), std::string::npos)
      << rec.message();
  EXPECT_EQ(StatusCounts(tt.s.dir)["interrupted"], 1);
}

// A command that ignores the forwarded SIGHUP/SIGTERM is killed after the
// grace period (10 s): trial ends and releases the trial instead of holding
// its lease for ever.
TEST(TrialOrphans, ACommandIgnoringTheTerminatingSignalIsKilledAfterTheGrace) {
  ProcSweep s(Spec("1", "echo $$ >> {sweep_dir}/pids; trap '' TERM HUP INT; sleep 300",
                   "lease_seconds: 60 heartbeat_seconds: 5 trials_per_job: 1"));
  KillAtExit guard{s.dir + "/pids"};
  Spawned t = s.StartTrial("t");
  ASSERT_TRUE(WaitFor([&] { return ReadPids(s.dir + "/pids").size() == 1; }, 20))
      << ReadAll(t.output_path);
  ::usleep(300 * 1000);  // the trap is set before sleep starts
  const auto t0 = std::chrono::steady_clock::now();
  ::kill(t.pid, SIGHUP);
  EXPECT_EQ(WaitExit(t.pid), 75) << ReadAll(t.output_path);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GT(took, 9) << "killed before its grace period";
  EXPECT_LT(took, 20);
  EXPECT_EQ(StatusCounts(s.dir)["interrupted"], 1);
  EXPECT_TRUE(Survivors(ReadPids(s.dir + "/pids")).empty());
}

TEST(TrialOrphans, ACommandsBackgroundProcessesEndWithItAndItsExitCodeIsRecorded) {
  TreeTrial tt("exit 3");
  EXPECT_EQ(WaitExit(tt.t.pid), 1) << ReadAll(tt.t.output_path);
  EXPECT_EQ(Survivors(tt.Pids()), "") << "the next attempt would run beside these";
  TrialResult rec;
  ASSERT_OK(ParseJson(ReadAll(tt.s.layout.failed_path(0, 1)), "failed", &rec));
  EXPECT_EQ(rec.exit_code(), 3);
  EXPECT_EQ(rec.term_signal(), 0);
}

TEST(TrialOrphans, ACommandKilledByASignalRecordsThatSignal) {
  TreeTrial tt("kill -USR2 $$");
  EXPECT_EQ(WaitExit(tt.t.pid), 1) << ReadAll(tt.t.output_path);
  EXPECT_EQ(Survivors(tt.Pids()), "");
  TrialResult rec;
  ASSERT_OK(ParseJson(ReadAll(tt.s.layout.failed_path(0, 1)), "failed", &rec));
  EXPECT_EQ(rec.term_signal(), SIGUSR2);
  EXPECT_EQ(rec.exit_code(), -1);
  EXPECT_NE(rec.message().find("killed by signal " + std::to_string(SIGUSR2)), std::string::npos)
      << rec.message();
}

TEST(TrialOrphans, ACleanExitIsDoneAndItsOutputReachesTheLog) {
  ProcSweep s(Spec("1", "echo hello; sleep 300 & echo $! >> {sweep_dir}/pids; exit 0",
                   "trials_per_job: 1"));
  KillAtExit guard{s.dir + "/pids"};
  RunResult r = s.RunTrial();
  EXPECT_EQ(Survivors(ReadPids(s.dir + "/pids")), "");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(s.Result(0).exit_code(), 0);
  EXPECT_NE(ReadAll(s.layout.log_path(0, 1)).find("hello"), std::string::npos);
  EXPECT_NE(r.output.find("hello"), std::string::npos) << r.output;
}

// One guardian serves all the trials of a `trial` process: killed with its
// command, the command dies too (recorded as killed by SIGKILL) and the next
// trial gets a new guardian.
TEST(TrialOrphans, AKilledGuardianTakesItsCommandAlongAndTheNextTrialGetsANewOne) {
  ProcSweep s(Spec("2",
                   "if [ {index} = 0 ]; then echo $$ >> {sweep_dir}/pids; sleep 300 & echo $! >> "
                   "{sweep_dir}/pids; "
                   "kill -KILL $PPID; wait; fi; echo ran {index}",
                   "max_attempts: 1 trials_per_job: 0"));
  KillAtExit guard{s.dir + "/pids"};
  RunResult r = s.RunTrial();
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(ReadPids(s.dir + "/pids").size(), 2u);
  EXPECT_TRUE(WaitFor([&] { return Survivors(ReadPids(s.dir + "/pids")).empty(); }, 2))
      << "still running: " << Survivors(ReadPids(s.dir + "/pids"));
  TrialResult rec;
  ASSERT_OK(ParseJson(ReadAll(s.layout.failed_path(0, 1)), "failed", &rec)) << r.output;
  EXPECT_EQ(rec.term_signal(), SIGKILL);
  EXPECT_EQ(s.Result(1).exit_code(), 0) << r.output;
  EXPECT_NE(ReadAll(s.layout.log_path(1, 1)).find("ran 1"), std::string::npos);
}

}  // namespace
}  // namespace claimsweep::testing
