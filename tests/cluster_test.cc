// claimsweep on a private multi-node cluster (tests/cluster/cluster.sh): three
// slurmd nodes on this machine, each in its own mount and UTS namespace with
// its own client of a shared GlusterFS (or sshfs) volume. Each test starts its
// own cluster, submits identical `sweep submit` jobs of `trial`, injects a
// fault (node death, a frozen filesystem client, a filesystem server restart)
// and checks exactly-once from the commands' own marker files and that no
// fenced write landed. Needs root and the packages of `make deps`; skipped
// (with the reason) otherwise. ctest -L cluster.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "core/json.h"
#include "core/layout.h"
#include "process_util.h"
#include "records.pb.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Polls `cond` once a second (a poll may cost a `sweep status` over FUSE).
bool Poll(const std::function<bool()>& cond, double seconds) {
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return cond();
}

std::vector<std::string> ListNames(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
  }
  return names;
}

// What is missing for the cluster tests, or "" if nothing.
std::string MissingRequirement() {
  if (::geteuid() != 0)
    return "the cluster tests start daemons and FUSE mounts and must run as root";
  for (const char* tool :
       {"/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged", "/usr/sbin/glusterd",
        "/usr/sbin/glusterfs", "/usr/bin/sshfs", "/usr/sbin/sshd", "/usr/bin/ssh-keygen"}) {
    if (::access(tool, X_OK) != 0) {
      return std::string(tool) +
             " is missing: run `make deps` (slurm-wlm munge glusterfs-server glusterfs-client "
             "sshfs openssh-server faketime)";
    }
  }
  if (::access("/dev/fuse", F_OK) != 0) return "/dev/fuse is missing (no FUSE)";
  return "";
}

// One trial's records, as read back from the sweep directory.
struct TrialRecords {
  bool has_result = false;
  TrialResult result;
  uint32_t latest_attempt = 0;  // the highest attempt-<k>/ published
  std::set<uint32_t> failed;    // attempt-<k>.failed.json
  std::set<uint32_t> released;  // attempt-<k>.released.json
};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string missing = MissingRequirement();
    if (!missing.empty()) GTEST_SKIP() << missing;
    ::umask(022);
    cluster_ = tmp_.path() + "/c";
  }
  void TearDown() override {
    if (!started_) return;
    // On failure keep the daemons' and clients' logs, and each sweep's job
    // output and listing (the volume goes with the cluster), beyond the temp dir.
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::string keep = std::string(::getenv("TMPDIR") ? ::getenv("TMPDIR") : "/tmp") +
                             "/claimsweep-cluster-logs/" + info->name();
    if (HasFailure()) {
      Sh("rm -rf '" + keep + "' && mkdir -p '" + keep + "/sweeps' && cd '" + shared_ +
         "' && for d in */; do [ -f \"$d/sweep.textproto\" ] || continue; mkdir -p '" + keep +
         "/sweeps/'\"$d\" && cp -r \"$d/slurm\" '" + keep + "/sweeps/'\"$d\"; (cd \"$d\" && " +
         "ls -la --time-style=full-iso trials trials/* leases) > '" + keep +
         "/sweeps/'\"$d/listing\" 2>&1; done");
    }
    const auto t0 = Clock::now();
    RunResult r = RunProcess({CLUSTER_SH, "stop", cluster_});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::cerr << "[cluster] stopped in " << SecondsSince(t0) << " s\n";
    if (HasFailure()) {
      Sh("cp -r '" + cluster_ + "/log' '" + keep + "/'");
      std::cerr << "[cluster] logs kept in " << keep << "/log, the sweeps' job output in " << keep
                << "/sweeps\n";
    }
  }

  // Starts the cluster; `args` e.g. {"--fs", "sshfs"}.
  void StartCluster(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {CLUSTER_SH, "start", cluster_};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto t0 = Clock::now();
    RunResult r = RunProcess(argv);
    started_ = true;  // stop even a half-started cluster
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::istringstream in(r.output);
    for (std::string line; std::getline(in, line);) {
      const std::string tag = "export CLUSTER_SHARED=";
      if (line.rfind(tag, 0) == 0) shared_ = line.substr(tag.size());
    }
    ASSERT_FALSE(shared_.empty()) << r.output;
    ::setenv("SLURM_CONF", (cluster_ + "/slurm.conf").c_str(), 1);
    markers_ = shared_ + "/ran";
    ASSERT_EQ(::mkdir(markers_.c_str(), 0755), 0) << markers_;
    std::cerr << "[cluster] up in " << SecondsSince(t0) << " s\n";
  }
  RunResult Cluster(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {CLUSTER_SH};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv);
  }

  // A sweep on the shared volume: `points` points, command `cmd` (sh -c).
  std::string InitSweep(const std::string& name, int points, const std::string& cmd,
                        const std::string& claim) {
    const std::string spec_path = tmp_.path() + "/" + name + ".textproto";
    std::ofstream(spec_path) << "name: \"cluster-test\"\ngrid { param { name: \"x\" range { "
                                "start: 0 stop: "
                             << points << " step: 1 } } }\ncommand { argv: \"sh\" argv: \"-c\" "
                             << "argv: \"" << cmd << "\" }\nclaim { " << claim
                             << " }\nresources { cpus: 1 time: \"30\" }\n";
    const std::string dir = shared_ + "/" + name;
    RunResult r = RunProcess({SWEEP_BIN, "init", spec_path, dir});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return dir;
  }
  std::vector<std::string> Submit(const std::string& dir, int jobs) {
    RunResult r = RunProcess({SWEEP_BIN, "submit", dir, "--jobs", std::to_string(jobs)});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::vector<std::string> ids;
    std::istringstream in(r.output);
    for (std::string line; std::getline(in, line);) {
      const std::string tag = "submitted job ";
      if (line.rfind(tag, 0) == 0) ids.push_back(line.substr(tag.size()));
    }
    EXPECT_EQ(ids.size(), static_cast<size_t>(jobs)) << r.output;
    return ids;
  }
  static std::string Sh(const std::string& cmd) { return RunProcess({"sh", "-c", cmd}).output; }
  static std::string JobField(const std::string& id, const std::string& field) {
    std::string out = Sh("scontrol show job -o " + id);
    size_t p = out.find(" " + field + "=");
    if (p == std::string::npos) return "";
    p += field.size() + 2;
    return out.substr(p, out.find_first_of(" \n", p) - p);
  }
  static bool AllFinished(const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
      const std::string s = JobField(id, "JobState");
      if (s != "COMPLETED" && s != "FAILED" && s != "CANCELLED" && s != "TIMEOUT" &&
          s != "NODE_FAIL")
        return false;
    }
    return true;
  }
  // The last lines of every job's output, and its warnings and errors.
  static std::string JobOutputs(const std::string& dir) {
    return Sh("cd " + dir +
              "/slurm && for f in *.out; do echo \"==== $f\"; "
              "grep -E '\\[(warn|error)\\]' \"$f\" | head -20; tail -n 8 \"$f\"; done");
  }
  static std::string Diagnose(const std::string& dir) {
    return Sh("squeue; sinfo; " + std::string(SWEEP_BIN) + " status " + dir + " 2>&1 | tail -20") +
           JobOutputs(dir);
  }

  // One point's files, lease entries, status row and log lines.
  static std::string DiagnosePoint(const std::string& dir, int index) {
    char name[16];
    std::snprintf(name, sizeof name, "%06d", index);
    const std::string n = name;
    return Sh("cd " + dir + " && ls -la --time-style=full-iso trials/" + n + " trials/" + n +
              "/* 2>&1; ls -la leases | grep " + n + "; " + std::string(SWEEP_BIN) +
              " status . --limit 0 2>&1 | grep '^" + n + "'; grep -h '" + n + "' slurm/*.out; " +
              "echo '-- the neighbours:'; cat trials/" + TrialName(index + 1) +
              "/attempt-0001/owner.json; echo; grep -h 'claim: trial " + TrialName(index + 1) +
              "' slurm/*.out; ls leases | head; grep -h 'cannot claim' slurm/*.out | head");
  }

  // Markers "<index>.<attempt>" that commands wrote: index -> attempts.
  std::map<int, std::vector<uint32_t>> Markers() {
    std::map<int, std::vector<uint32_t>> m;
    for (const auto& n : ListNames(markers_)) {
      const size_t dot = n.find('.');
      m[std::stoi(n.substr(0, dot))].push_back(
          static_cast<uint32_t>(std::stoul(n.substr(dot + 1))));
    }
    return m;
  }
  static TrialRecords Records(const std::string& dir, int index) {
    SweepLayout layout(dir);
    TrialRecords rec;
    const std::string result = ReadAll(layout.result_path(index));
    if (!result.empty()) {
      rec.has_result = true;
      EXPECT_OK(ParseJson(result, "", &rec.result));
    }
    for (const auto& n : ListNames(layout.trial_dir(index))) {
      unsigned k = 0;
      char rest[64] = {0};
      if (std::sscanf(n.c_str(), "attempt-%u%63s", &k, rest) < 1) continue;
      const std::string suffix = rest;
      if (suffix.empty()) rec.latest_attempt = std::max(rec.latest_attempt, k);
      if (suffix == ".failed.json") rec.failed.insert(k);
      if (suffix == ".released.json") rec.released.insert(k);
    }
    return rec;
  }

  // The sweep's invariants once it is over: every point done once, by the
  // latest attempt (no superseded owner committed), and the command of that
  // attempt ran to its end exactly once; a marker of any other attempt is
  // only allowed where `allow_other` says so (e.g. attempts that failed).
  void ExpectExactlyOnce(const std::string& dir, int points,
                         const std::function<bool(int, uint32_t, const TrialRecords&,
                                                  const std::string&)>& allow_other) {
    auto markers = Markers();
    int done = 0;
    for (int i = 0; i < points; ++i) {
      TrialRecords rec = Records(dir, i);
      ASSERT_TRUE(rec.has_result) << "point " << i << " has no result.json\n"
                                  << DiagnosePoint(dir, i) << Diagnose(dir);
      EXPECT_EQ(rec.result.outcome(), "done") << "point " << i;
      // A fenced (superseded) owner's commit would carry an older attempt.
      EXPECT_EQ(rec.result.attempt(), rec.latest_attempt) << "point " << i;
      int committed = 0;
      for (uint32_t a : markers[i]) {
        if (a == rec.result.attempt()) {
          ++committed;
        } else {
          char name[16];
          std::snprintf(name, sizeof name, "%06d", i);
          const std::string log =
              Sh("grep -h 'trial " + std::string(name) + "' " + dir + "/slurm/*.out; " +
                 std::string(SWEEP_BIN) + " log " + dir + " " + std::to_string(i) + " --attempt " +
                 std::to_string(a) + " 2>&1 | tail -n 20");
          EXPECT_TRUE(allow_other(i, a, rec, log))
              << "point " << i << ": the command of attempt " << a << " also ran to its end "
              << "(committed: attempt " << rec.result.attempt() << ")\n"
              << log;
          if (allow_other(i, a, rec, log)) {
            std::cerr << "[cluster] point " << i << ": attempt " << a << " ran to its end, attempt "
                      << rec.result.attempt() << " committed:\n"
                      << log;
          }
        }
      }
      EXPECT_EQ(committed, 1) << "point " << i << ": markers of the committed attempt";
      done += rec.result.outcome() == "done";
    }
    EXPECT_EQ(done, points);
    EXPECT_EQ(markers.size(), static_cast<size_t>(points)) << "markers of unknown points";
  }

  // The race: `points` points of a marker-only command, `jobs` identical
  // jobs looping over the sweep, no faults. Everything exactly once.
  void Race(int points, int jobs) {
    const std::string dir = InitSweep("race", points, "touch " + markers_ + "/{index}.{attempt}",
                                      "lease_seconds: 60 heartbeat_seconds: 5 trials_per_job: 0");
    const auto t0 = Clock::now();
    std::vector<std::string> ids = Submit(dir, jobs);
    ASSERT_TRUE(Poll([&] { return AllFinished(ids); }, 600)) << Diagnose(dir);
    const double secs = SecondsSince(t0);
    std::cerr << "[cluster] " << points << " points, " << jobs << " jobs: " << secs << " s ("
              << points / secs << " trials/s)\n";
    std::set<std::string> hosts;
    for (const auto& id : ids) {
      EXPECT_EQ(JobField(id, "ExitCode"), "0:0") << id << "\n" << Diagnose(dir);
      hosts.insert(JobField(id, "NodeList"));
    }
    EXPECT_EQ(hosts.size(), 3u) << "the jobs ran on every node";
    const auto c0 = Clock::now();
    ExpectExactlyOnce(dir, points,
                      [](int, uint32_t, const TrialRecords&, const std::string&) { return false; });
    std::cerr << "[cluster] records checked in " << SecondsSince(c0) << " s\n";
    // No takeovers in a race without faults: every trial was attempt 1.
    for (int i = 0; i < points; i += 97) EXPECT_EQ(Records(dir, i).latest_attempt, 1u) << i;
  }

  void ServerRestart();  // the body of test (d)

  TempDir tmp_;
  std::string cluster_, shared_, markers_;
  bool started_ = false;
};

// (a) 2,000 points, 9 identical jobs over 3 nodes, each node its own GlusterFS
// client: every point exactly once.
TEST_F(ClusterTest, GlusterRaceOverTwoThousandPointsRunsEachExactlyOnce) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"--fs", "gluster"}));
  Race(2000, 9);
}

// (a) The same on sshfs, whose clients stamp file times with their own clock.
TEST_F(ClusterTest, SshfsRaceOverTwoThousandPointsRunsEachExactlyOnce) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"--fs", "sshfs"}));
  Race(2000, 9);
}

// A command that checkpoints its own progress in its work directory: 16
// steps of 0.5 s, resuming from the last step it recorded. It records where
// each attempt started (SHARED/started/<index>.<attempt>.<step>.<node>) and,
// at its end, the marker SHARED/ran/<index>.<attempt>.
std::string CheckpointingCommand(const std::string& shared, int steps) {
  const std::string markers = shared + "/ran";
  return "s=0; [ -f progress ] && s=$(cat progress); touch " + shared +
         "/started/{index}.{attempt}.$s.$(hostname); while [ $s -lt " + std::to_string(steps) +
         " ]; do sleep 0.5; s=$((s+1)); echo $s > progress.tmp && mv progress.tmp progress; "
         "done; touch " +
         markers + "/{index}.{attempt}";
}

// Running trials by node: node -> indexes (from the commands' started markers,
// for attempts without a result yet).
std::map<std::string, std::set<int>> RunningByNode(const std::string& shared,
                                                   const std::string& dir) {
  std::map<std::string, std::set<int>> m;
  for (const auto& n : ListNames(shared + "/started")) {
    int index = 0, step = 0;
    unsigned attempt = 0;
    char host[64] = {0};
    if (std::sscanf(n.c_str(), "%d.%u.%d.%63s", &index, &attempt, &step, host) != 4) continue;
    if (::access(SweepLayout(dir).result_path(index).c_str(), F_OK) == 0) continue;
    m[host].insert(index);
  }
  return m;
}

// (b) Node death: n2's slurmd, slurmstepds, jobs and filesystem client are
// SIGKILLed mid-trial. Its trials are taken over by jobs on the other nodes
// and resume from the command's own checkpoint; every point done once.
// (The train-task variant follows: built with libtorch only.)
TEST_F(ClusterTest, TrialsOfAKilledNodeAreTakenOverElsewhereAndResumeFromTheirCheckpoint) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"--fs", "gluster"}));
  ASSERT_EQ(::mkdir((shared_ + "/started").c_str(), 0755), 0);
  const int points = 12;
  const std::string dir =
      InitSweep("death", points, CheckpointingCommand(shared_, 16),
                "lease_seconds: 8 heartbeat_seconds: 1 max_attempts: 3 trials_per_job: 0");
  std::vector<std::string> ids = Submit(dir, 6);
  // Wait until n2 runs trials that have checkpointed a few steps.
  std::set<int> victims;
  ASSERT_TRUE(Poll(
      [&] {
        victims = RunningByNode(shared_, dir)["n2"];
        if (victims.empty()) return false;
        std::string p = ReadAll(SweepLayout(dir).work_dir(*victims.begin()) + "/progress");
        return !p.empty() && std::stoi(p) >= 4;
      },
      120))
      << Diagnose(dir);
  const auto killed_at = Clock::now();
  RunResult k = Cluster({"kill-node", cluster_, "n2"});
  ASSERT_EQ(k.exit_code, 0) << k.output;
  std::cerr << "[cluster] killed n2 running points";
  for (int v : victims) std::cerr << " " << v;
  std::cerr << "\n";

  // Each victim is taken over (attempt 2) on another node.
  for (int v : victims) {
    ASSERT_TRUE(Poll([&] { return Records(dir, v).latest_attempt >= 2; }, 120))
        << "point " << v << " was not taken over\n"
        << Diagnose(dir);
    std::cerr << "[cluster] point " << v << " taken over " << SecondsSince(killed_at)
              << " s after the kill\n";
  }
  ASSERT_TRUE(Poll([&] { return StatusCounts(dir)["done"] == points; }, 240)) << Diagnose(dir);
  ASSERT_TRUE(Poll([&] { return AllFinished(ids); }, 120)) << Diagnose(dir);
  std::cerr << "[cluster] all done " << SecondsSince(killed_at) << " s after the kill\n";

  ExpectExactlyOnce(dir, points,
                    [](int, uint32_t, const TrialRecords&, const std::string&) { return false; });
  for (int v : victims) {
    TrialRecords rec = Records(dir, v);
    EXPECT_NE(rec.result.host(), "n2") << "point " << v;
    EXPECT_GE(rec.result.attempt(), 2u) << "point " << v;
  }
  // The takers resumed from the checkpoint: their attempt started past step 0.
  int resumed = 0;
  for (const auto& n : ListNames(shared_ + "/started")) {
    int index = 0, step = 0;
    unsigned attempt = 0;
    if (std::sscanf(n.c_str(), "%d.%u.%d", &index, &attempt, &step) == 3 && victims.count(index) &&
        attempt >= 2) {
      EXPECT_GE(step, 4) << n << ": the taker started over instead of resuming";
      ++resumed;
    }
  }
  EXPECT_GE(resumed, static_cast<int>(victims.size()));
}

#if HAVE_TRAIN
// (b, train task) The same node death with train tasks: n2's trial is killed
// after its first checkpoint; a job on another node takes it over and the
// trainer resumes from that checkpoint, and every epoch is in metrics.csv once.
TEST_F(ClusterTest, TrainTrialsOfAKilledNodeResumeFromTheirCheckpointElsewhere) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"--fs", "gluster"}));
  const std::string data = shared_ + "/data";
  RunResult d = RunProcess({SWEEP_BIN, "data", "synth", "--out", data, "--train", "384", "--val",
                            "64", "--test", "64", "--size", "16"});
  ASSERT_EQ(d.exit_code, 0) << d.output;
  const int points = 3, epochs = 24;
  const std::string spec_path = tmp_.path() + "/train.textproto";
  std::ofstream(spec_path) << "name: \"cluster-train\"\nseed: 3\n"
                           << "grid { param { name: \"lr\" values: \"0.05\" values: \"0.04\" "
                              "values: \"0.03\" } }\n"
                           << "train { model: \"resnet_cifar\" depth: 8 dataset: \"" << data
                           << "\" epochs: " << epochs
                           << " batch_size: 32 schedule: \"constant\" loader_threads: 1 }\n"
                           << "claim { lease_seconds: 8 heartbeat_seconds: 1 max_attempts: 3 "
                              "trials_per_job: 0 }\nresources { cpus: 1 time: \"30\" }\n";
  const std::string dir = shared_ + "/train";
  RunResult init = RunProcess({SWEEP_BIN, "init", spec_path, dir});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  std::vector<std::string> ids = Submit(dir, points);
  SweepLayout layout(dir);
  // n2's trial: the open attempt whose owner.json names host n2, once it has
  // written a checkpoint.
  int victim = -1;
  ASSERT_TRUE(Poll(
      [&] {
        for (int i = 0; i < points; ++i) {
          const uint32_t a = Records(dir, i).latest_attempt;
          if (a == 0 || ReadAll(layout.result_path(i)) != "") continue;
          AttemptOwner o;
          if (!ParseJson(ReadAll(layout.owner_path(i, a)), "", &o).ok() || o.host() != "n2")
            continue;
          if (!ListNames(layout.trial_dir(i) + "/checkpoints").empty()) victim = i;
        }
        return victim >= 0;
      },
      240))
      << Diagnose(dir);
  const auto killed_at = Clock::now();
  RunResult k = Cluster({"kill-node", cluster_, "n2"});
  ASSERT_EQ(k.exit_code, 0) << k.output;
  std::cerr << "[cluster] killed n2 training point " << victim << "\n";
  ASSERT_TRUE(Poll([&] { return Records(dir, victim).latest_attempt >= 2; }, 120))
      << "point " << victim << " was not taken over\n"
      << Diagnose(dir);
  std::cerr << "[cluster] point " << victim << " taken over " << SecondsSince(killed_at)
            << " s after the kill\n";
  ASSERT_TRUE(Poll([&] { return StatusCounts(dir)["done"] == points; }, 420)) << Diagnose(dir);
  TrialRecords rec = Records(dir, victim);
  EXPECT_GE(rec.result.attempt(), 2u);
  EXPECT_NE(rec.result.host(), "n2");
  const std::string log = ReadAll(layout.log_path(victim, rec.result.attempt()));
  EXPECT_NE(log.find("resuming from"), std::string::npos) << log;
  // One row per epoch, each epoch once: the resumed run neither repeated
  // nor skipped one.
  std::istringstream csv(ReadAll(layout.trial_dir(victim) + "/metrics.csv"));
  std::set<int> seen;
  int rows = 0;
  std::string line;
  std::getline(csv, line);  // header
  while (std::getline(csv, line)) {
    ++rows;
    seen.insert(std::stoi(line.substr(0, line.find(','))));
  }
  EXPECT_EQ(rows, epochs);
  EXPECT_EQ(seen.size(), static_cast<size_t>(epochs));
  for (int i = 0; i < points; ++i) EXPECT_TRUE(Records(dir, i).has_result) << "point " << i;
}
#endif  // HAVE_TRAIN

// (c) Partition: n2's filesystem client is frozen (SIGSTOP) past the lease.
// Its trials are taken over on the other nodes; on thaw the old owner writes
// nothing (no result, no record of its attempt, its command does not run to
// its end) and its job exits cleanly.
TEST_F(ClusterTest, AFrozenClientsTrialsAreTakenOverAndOnThawTheOldOwnerWritesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"--fs", "gluster"}));
  ASSERT_EQ(::mkdir((shared_ + "/started").c_str(), 0755), 0);
  const int points = 9;
  const std::string dir =
      InitSweep("partition", points, CheckpointingCommand(shared_, 16),
                "lease_seconds: 6 heartbeat_seconds: 1 max_attempts: 3 trials_per_job: 0");
  std::vector<std::string> ids = Submit(dir, 6);
  std::set<int> victims;
  ASSERT_TRUE(Poll(
      [&] {
        victims = RunningByNode(shared_, dir)["n2"];
        return !victims.empty();
      },
      120))
      << Diagnose(dir);
  std::map<int, uint32_t> frozen_attempt;
  for (int v : victims) frozen_attempt[v] = Records(dir, v).latest_attempt;
  RunResult f = Cluster({"freeze-fs", cluster_, "n2"});
  ASSERT_EQ(f.exit_code, 0) << f.output;
  const auto frozen_at = Clock::now();
  for (int v : victims) {
    const bool taken = Poll([&] { return Records(dir, v).latest_attempt > frozen_attempt[v]; }, 90);
    if (!taken) Cluster({"thaw-fs", cluster_, "n2"});
    ASSERT_TRUE(taken) << "point " << v << " was not taken over\n" << Diagnose(dir);
    std::cerr << "[cluster] point " << v << " taken over " << SecondsSince(frozen_at)
              << " s after the freeze\n";
  }
  // Keep it frozen a little longer, then thaw.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  RunResult t = Cluster({"thaw-fs", cluster_, "n2"});
  ASSERT_EQ(t.exit_code, 0) << t.output;
  std::cerr << "[cluster] thawed n2 after " << SecondsSince(frozen_at) << " s\n";

  ASSERT_TRUE(Poll([&] { return StatusCounts(dir)["done"] == points; }, 240)) << Diagnose(dir);
  ASSERT_TRUE(Poll([&] { return AllFinished(ids); }, 120)) << Diagnose(dir);
  // Let a late write of the old owner land, if it would.
  std::this_thread::sleep_for(std::chrono::seconds(3));

  ExpectExactlyOnce(dir, points,
                    [](int, uint32_t, const TrialRecords&, const std::string&) { return false; });
  for (int v : victims) {
    TrialRecords rec = Records(dir, v);
    const uint32_t old = frozen_attempt[v];
    EXPECT_GT(rec.result.attempt(), old) << "point " << v;
    EXPECT_EQ(rec.failed.count(old), 0u) << "point " << v << ": the fenced attempt wrote a record";
    EXPECT_EQ(rec.released.count(old), 0u)
        << "point " << v << ": the fenced attempt wrote a record";
  }
  // The old owners' `trial` said so and ended by itself: no signal, no hang.
  // (A job whose last trial was lost exits 1, one that went on to finish
  // another trial 0; the other nodes' jobs all exit 0.)
  int lost = 0;
  for (const auto& id : ids) {
    const std::string out = Sh("cat " + dir + "/slurm/*-" + id + ".out");
    const std::string code = JobField(id, "ExitCode");
    lost += static_cast<int>(Count(out, "lost the claim, wrote nothing"));
    if (JobField(id, "NodeList") == "n2") {
      EXPECT_TRUE(code == "0:0" || code == "1:0") << id << " " << code << "\n" << out;
      EXPECT_EQ(out.find("[error]"), std::string::npos) << id << "\n" << out;
    } else {
      EXPECT_EQ(code, "0:0") << id << "\n" << out;
    }
  }
  EXPECT_EQ(lost, static_cast<int>(victims.size())) << Diagnose(dir);
}

// (d) The filesystem server is killed and restarted while trials run
// (gluster: brick process and glusterd; sshfs: sshd and every session):
// nothing lost, nothing twice. Trials may fail transiently and be retried;
// every point ends done exactly once.
TEST_F(ClusterTest, AFilesystemServerRestartLosesNothingAndRunsNothingTwice) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"--fs", "gluster"}));
  ServerRestart();
}

TEST_F(ClusterTest, AnSshfsServerRestartLosesNothingAndRunsNothingTwice) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"--fs", "sshfs"}));
  ServerRestart();
}

void ClusterTest::ServerRestart() {
  const int points = 300;
  const std::string dir =
      InitSweep("restart", points, "sleep 0.2; touch " + markers_ + "/{index}.{attempt}",
                "lease_seconds: 10 heartbeat_seconds: 1 max_attempts: 10 trials_per_job: 0");
  std::vector<std::string> ids = Submit(dir, 6);
  ASSERT_TRUE(Poll([&] { return Markers().size() >= 40; }, 120)) << Diagnose(dir);
  const size_t before = Markers().size();
  const auto t0 = Clock::now();
  RunResult r = Cluster({"restart-fs", cluster_});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::cerr << "[cluster] server restarted in " << SecondsSince(t0) << " s, " << before
            << " points had run\n";
  ASSERT_TRUE(Poll([&] { return AllFinished(ids); }, 400)) << Diagnose(dir);
  // Jobs that gave up during the outage leave points behind: more jobs finish them.
  auto counts = StatusCounts(dir);
  if (counts["done"] < points) {
    std::cerr << "[cluster] after the first jobs: " << counts["done"] << " done; resubmitting. "
              << "Their errors:\n"
              << Sh("cat " + dir + "/slurm/*.out | grep -E '\\[(warn|error)\\]' | head -12");
    std::vector<std::string> more = Submit(dir, 3);
    ASSERT_TRUE(Poll([&] { return AllFinished(more); }, 300)) << Diagnose(dir);
  }
  // Points passed over by every claimer (an exclusive create or a lookup
  // answered wrongly), claimed later from the listing of trials/.
  std::cerr << "[cluster] holes claimed: "
            << Sh("grep -ho 'trial [0-9]* was never claimed' " + dir + "/slurm/*.out | wc -l");
  ExpectExactlyOnce(dir, points, [](int, uint32_t a, const TrialRecords& rec, const std::string&) {
    // A failed attempt's command may have run to its end; so may that of an
    // attempt superseded by a retry whose owner could record nothing (its
    // commit and its failure record both hit the outage; after an sshfs
    // reconnect even its job output is gone). Such attempts are printed in
    // the test's output; the committed attempt's command still ran exactly
    // once, and no superseded attempt committed.
    if (rec.failed.count(a) > 0) return true;
    return a < rec.result.attempt() && rec.released.count(a) == 0;
  });
}

}  // namespace
}  // namespace claimsweep::testing
