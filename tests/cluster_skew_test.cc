// Clock skew across nodes (issue 11, 2e): on the multi-node cluster
// (tests/cluster/cluster.sh) with n2's clock 120 s ahead and n3's 120 s
// behind (libfaketime in each node's jobs and in its file-system client), a
// 60 s lease and 20 s heartbeats, real sbatch jobs of `trial`:
//   - no live trial is taken over: every trial runs longer than the lease
//     (90 s) and has exactly one attempt, by the commands' own files;
//   - the trial of a node that dies (kill-node of n3) is taken over within
//     lease + 2 heartbeats of its death, measured with the host's clock
//     (death: when kill-node returned; takeover: when the host first sees
//     the new attempt's owner.json).
// Once on GlusterFS, once on sshfs (whose client stamps file times with its
// own, skewed clock). ctest -L cluster; needs root and `make deps`, else skipped.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "core/env.h"
#include "core/json.h"
#include "core/layout.h"
#include "process_util.h"
#include "records.pb.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

constexpr int kLease = 60;
constexpr int kHeartbeat = 20;
constexpr int kPoints = 4;
constexpr int kLiveSeconds = 90;  // a first attempt's command: longer than the lease

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class ClockSkew : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0)
      GTEST_SKIP() << "the cluster tests start Slurm nodes and mounts: run as root";
    for (const char* need : {"/usr/sbin/slurmd", "/usr/sbin/glusterd", "/usr/bin/sshfs",
                             "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"}) {
      if (::access(need, F_OK) != 0) GTEST_SKIP() << need << " is missing: run `make deps`";
    }
    ::umask(022);
    cluster_ = tmp_.path() + "/cluster";
    RunResult r =
        RunProcess({CLUSTER_SH, "start", cluster_, "--fs", GetParam(), "--skew", "n2=120,n3=-120"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    started_ = true;
    // `export NAME=VALUE` lines.
    std::istringstream in(r.output);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("export ", 0) != 0) continue;
      const size_t eq = line.find('=');
      std::string value = line.substr(eq + 1);
      // printf %q quoting: backslash escapes (a path with odd characters).
      std::string unquoted;
      for (size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) ++i;
        unquoted += value[i];
      }
      value = unquoted;
      vars_[line.substr(7, eq - 7)] = value;
    }
    ASSERT_FALSE(vars_["SLURM_CONF"].empty()) << r.output;
    ASSERT_FALSE(vars_["CLUSTER_SHARED"].empty()) << r.output;
    ::setenv("SLURM_CONF", vars_["SLURM_CONF"].c_str(), 1);
  }
  void TearDown() override {
    if (!started_) return;
    RunResult r = RunProcess({CLUSTER_SH, "stop", cluster_});
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  static std::string Sh(const std::string& cmd) { return RunProcess({"sh", "-c", cmd}).output; }
  // An sbatch job of `trial` on NODE for the sweep DIR: its id.
  std::string SubmitOn(const std::string& node, const std::string& dir) {
    RunResult r = RunProcess({"sbatch", "--parsable", "-w", node, "-J", "skew", "-c", "1",
                              "--time=10", "--chdir=" + dir, "--output=" + dir + "/slurm/%j.out",
                              "--export=ALL,SWEEP_DIR=" + dir, "--wrap", "exec " TRIAL_BIN});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::string id = r.output.substr(0, r.output.find_first_of(";\n"));
    return id;
  }
  // The node's hostname, as its processes see it (owner.json's host).
  std::string HostnameOf(const std::string& node) {
    std::string h = RunProcess({CLUSTER_SH, "exec", cluster_, node, "--", "hostname"}).output;
    return h.substr(0, h.find('\n'));
  }

  TempDir tmp_;
  std::string cluster_;
  std::map<std::string, std::string> vars_;
  bool started_ = false;
};

TEST_P(ClockSkew, NoLiveTrialIsTakenOverAndADeadOneIsWithinLeasePlusTwoHeartbeats) {
  const std::string dir = vars_["CLUSTER_SHARED"] + "/skew";
  const std::string spec_path = tmp_.path() + "/skew.textproto";
  // Each attempt leaves a file of its own in ran/ (no two clients append to
  // one file): index.attempt.host.pid.
  std::ofstream(spec_path) << "name: \"skew\"\ngrid { param { name: \"x\" range { start: 0 stop: "
                           << kPoints
                           << " step: 1 } } }\n"
                              "command { argv: \"sh\" argv: \"-c\" argv: \"touch "
                              "{sweep_dir}/ran/{index}.{attempt}.$(hostname).$$; "
                              "if [ {attempt} = 1 ]; then sleep "
                           << kLiveSeconds
                           << "; fi\" }\n"
                              "claim { lease_seconds: "
                           << kLease << " heartbeat_seconds: " << kHeartbeat
                           << " trials_per_job: 0 max_attempts: 5 }\n";
  RunResult init = RunProcess({SWEEP_BIN, "init", spec_path, dir});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  ASSERT_EQ(::mkdir((dir + "/ran").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir + "/slurm").c_str(), 0755), 0);
  SweepLayout layout(dir);
  const std::string n3_host = HostnameOf("n3");

  // n3's job claims first, so that the node that dies holds a trial; then
  // two jobs on n1 and two on n2 (the ahead and the unskewed clock): three
  // claim the other points, one has nothing left to claim.
  std::vector<std::string> ids = {SubmitOn("n3", dir)};
  auto victim = [&]() -> int {
    for (int i = 0; i < kPoints; ++i) {
      AttemptOwner o;
      std::string text;
      if (!Env::Default()->ReadFile(layout.owner_path(i, 1), &text).ok()) continue;
      if (ParseJson(text, layout.owner_path(i, 1), &o).ok() && o.host() == n3_host) return i;
    }
    return -1;
  };
  ASSERT_TRUE(WaitFor([&] { return victim() >= 0; }, 60)) << Sh("squeue; ls -R " + dir);
  const int v = victim();
  for (const char* node : {"n1", "n2", "n1", "n2"}) ids.push_back(SubmitOn(node, dir));
  auto all_claimed = [&] {
    for (int i = 0; i < kPoints; ++i) {
      if (!Env::Default()->Exists(layout.owner_path(i, 1))) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitFor(all_claimed, 60)) << Sh("squeue; " SWEEP_BIN " status " + dir);

  // Kill n3 after its trial's first heartbeat. Until then every trial is live.
  std::this_thread::sleep_for(std::chrono::seconds(kHeartbeat + 3));
  for (int i = 0; i < kPoints; ++i) {
    EXPECT_FALSE(Env::Default()->Exists(layout.attempt_dir(i, 2)))
        << "live trial " << i << " was taken over within " << kHeartbeat + 3 << " s of its start\n"
        << Sh(SWEEP_BIN " status " + dir + "; ls " + dir + "/ran");
  }
  const bool taken_alive = Env::Default()->Exists(layout.attempt_dir(v, 2));
  RunResult kill = RunProcess({CLUSTER_SH, "kill-node", cluster_, "n3"});
  ASSERT_EQ(kill.exit_code, 0) << kill.output;
  const double death = Now();

  const std::string taken = layout.owner_path(v, 2);
  const double bound = kLease + 2 * kHeartbeat;
  bool seen = WaitFor([&] { return Env::Default()->Exists(taken); }, bound + 60);
  const double delay = Now() - death;
  if (taken_alive) {
    std::printf("clock skew on %s: trial %d of n3 was taken over while it was alive\n",
                GetParam().c_str(), v);
  } else {
    std::printf(
        "clock skew on %s: trial %d of dead node n3 taken over %.1f s after its death "
        "(bound: lease + 2 heartbeats = %.0f s)\n",
        GetParam().c_str(), v, delay, bound);
  }
  ASSERT_TRUE(seen) << "no second attempt of trial " << v << " within " << bound + 60 << " s\n"
                    << Sh(SWEEP_BIN " status " + dir + "; ls " + dir + "/leases; tail -n 4 " + dir +
                          "/slurm/*.out");
  EXPECT_LE(delay, bound);

  // Everything done; exactly one attempt per live trial, two for the dead
  // node's (its first never finished: no result of attempt 1).
  ASSERT_TRUE(WaitFor([&] { return StatusCounts(dir)["done"] == kPoints; }, kLiveSeconds + 60))
      << Sh(SWEEP_BIN " status " + dir);
  std::vector<std::string> ran;
  ASSERT_OK(Env::Default()->ListDir(dir + "/ran", &ran));
  std::map<int, std::set<int>> attempts;
  std::map<int, int> runs;
  for (const auto& name : ran) {
    int index = -1, attempt = -1;
    ASSERT_EQ(std::sscanf(name.c_str(), "%d.%d.", &index, &attempt), 2) << name;
    attempts[index].insert(attempt);
    ++runs[index];
  }
  for (int i = 0; i < kPoints; ++i) {
    const std::set<int> want = i == v ? std::set<int>{1, 2} : std::set<int>{1};
    EXPECT_EQ(attempts[i], want) << "trial " << i << (i == v ? " (dead node's)" : " (live)")
                                 << Sh(SWEEP_BIN " status " + dir + "; ls " + dir + "/ran");
    EXPECT_EQ(runs[i], static_cast<int>(want.size())) << "trial " << i;
    EXPECT_FALSE(Env::Default()->Exists(layout.attempt_dir(i, i == v ? 3 : 2))) << "trial " << i;
    std::string text;
    ASSERT_OK(Env::Default()->ReadFile(layout.result_path(i), &text));
    TrialResult r;
    ASSERT_OK(ParseJson(text, layout.result_path(i), &r));
    EXPECT_EQ(r.attempt(), i == v ? 2u : 1u) << text;
    EXPECT_EQ(r.outcome(), "done") << text;
  }
  Sh("scancel " + ids[0] + " " + ids[1] + " " + ids[2] + " " + ids[3] + " " + ids[4]);
}

INSTANTIATE_TEST_SUITE_P(Fs, ClockSkew, ::testing::Values("gluster", "sshfs"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace claimsweep::testing
