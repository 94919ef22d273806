// claimsweep against a real Slurm: each test starts a private single-node
// cluster (munge, slurmctld, slurmd; 2 CPUs, 4 fake GPUs) with
// tests/slurm/cluster.sh, submits jobs with `sweep submit`, and stops the
// cluster after. Needs root and Debian's slurm-wlm + munge (`make test`
// installs them). ctest -L slurm.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/json.h"
#include "core/layout.h"
#include "process_util.h"
#include "records.pb.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

class RealSlurm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/usr/sbin/slurmctld", X_OK) != 0 || ::access("/usr/sbin/munged", X_OK) != 0) {
      GTEST_FAIL() << "slurm-wlm and munge are not installed: run `make deps` (the real-Slurm "
                      "tests need them)";
    }
    if (::geteuid() != 0) GTEST_FAIL() << "the real-Slurm tests start slurmd and must run as root";
    ::umask(022);
    cluster_ = tmp_.path() + "/cluster";
    RunResult r = RunProcess({CLUSTER_SH, "start", cluster_});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ::setenv("SLURM_CONF", (cluster_ + "/slurm.conf").c_str(), 1);
    started_ = true;
  }
  void TearDown() override {
    if (!started_) return;
    RunResult r = RunProcess({CLUSTER_SH, "stop", cluster_});
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }

  // A sweep from `spec`, initialized in tmp/<name>.
  std::string InitSweep(const std::string& name, const std::string& spec) {
    std::ofstream(tmp_.path() + "/" + name + ".textproto") << spec;
    const std::string dir = tmp_.path() + "/" + name;
    RunResult r = RunProcess({SWEEP_BIN, "init", tmp_.path() + "/" + name + ".textproto", dir});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return dir;
  }
  // `sweep submit DIR --jobs N [extra]`: the job ids it printed.
  std::vector<std::string> Submit(const std::string& dir, int jobs,
                                  const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {SWEEP_BIN, "submit", dir, "--jobs", std::to_string(jobs)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    RunResult r = RunProcess(argv);
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
  // A field of `scontrol show job -o ID` (e.g. JobState, ExitCode, Restarts).
  static std::string JobField(const std::string& id, const std::string& field) {
    std::string out = Sh("scontrol show job -o " + id);
    size_t p = out.find(" " + field + "=");
    if (p == std::string::npos) return "";
    p += field.size() + 2;
    return out.substr(p, out.find_first_of(" \n", p) - p);
  }
  static bool Finished(const std::string& id) {
    const std::string s = JobField(id, "JobState");
    return s == "COMPLETED" || s == "FAILED" || s == "CANCELLED" || s == "TIMEOUT";
  }
  static bool AllFinished(const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
      if (!Finished(id)) return false;
    }
    return true;
  }
  std::string Output(const std::string& dir, const std::string& id) {
    std::vector<std::string> names;
    Env::Default()->ListDir(dir + "/slurm", &names).IgnoreError();  // none: empty
    std::string all;
    for (const auto& n : names) {
      if (n.find("-" + id + ".out") != std::string::npos) all += ReadAll(dir + "/slurm/" + n);
    }
    return all;
  }

  TempDir tmp_;
  std::string cluster_;
  bool started_ = false;
};

std::string CommandSpec(const std::string& points, const std::string& cmd, const std::string& claim,
                        const std::string& resources) {
  return "name: \"slurm-test\"\ngrid { param { name: \"x\" range { start: 0 stop: " + points +
         " step: 1 } } }\ncommand { argv: \"sh\" argv: \"-c\" argv: \"" + cmd + "\" }\nclaim { " +
         claim + " }\nresources { " + resources + " }\n";
}

// (a) The mission: the same job submitted 6 times, 20 points, each exactly once.
TEST_F(RealSlurm, SixIdenticalJobsRunTwentyPointsExactlyOnce) {
  const std::string dir =
      InitSweep("a", CommandSpec("20", "echo {index} >> {sweep_dir}/ran.log; sleep 0.3",
                                 "lease_seconds: 60 heartbeat_seconds: 5 trials_per_job: 0",
                                 "cpus: 1 gpus: 1 time: \"10\""));
  std::vector<std::string> ids = Submit(dir, 6);
  ASSERT_TRUE(WaitFor([&] { return AllFinished(ids); }, 180)) << Sh("squeue; sweep status " + dir);
  auto ran = CountLines(dir + "/ran.log");
  ASSERT_EQ(ran.size(), 20u) << Sh("cat " + dir + "/slurm/*.out");
  for (int i = 0; i < 20; ++i) EXPECT_EQ(ran[std::to_string(i)], 1) << "point " << i;
  EXPECT_EQ(StatusCounts(dir)["done"], 20);
  for (const auto& id : ids) {
    EXPECT_EQ(JobField(id, "ExitCode"), "0:0") << id << "\n" << Output(dir, id);
    // trial's log lines ("[time] [info] claimed trial ...", "... no more work ...").
    EXPECT_NE(Output(dir, id).find("] [info] "), std::string::npos)
        << "job output is in DIR/slurm/";
  }
  // The ids are recorded in the sweep.
  EXPECT_EQ(CountLines(dir + "/slurm/jobs.tsv").size(), 6u);
  // Every trial records the job that ran it.
  std::string result = ReadAll(SweepLayout(dir).result_path(7));
  TrialResult r;
  ASSERT_OK(ParseJson(result, "", &r));
  EXPECT_NE(std::find(ids.begin(), ids.end(), r.slurm_job_id()), ids.end()) << result;
}

#if HAVE_TRAIN  // a build without libtorch has no train task: these tests do not exist there

// Small enough for 2 CPUs and long enough to be signalled mid-run:
// ResNet-8 on 16x16 images, 5 epochs of 48 steps.
std::string TrainSpec(const std::string& data, const std::string& resources) {
  return "name: \"slurm-train\"\nseed: 5\ngrid { param { name: \"lr\" values: \"0.05\" } }\n"
         "train { model: \"resnet_cifar\" depth: 8 dataset: \"" +
         data +
         "\" epochs: 5 batch_size: 32\n"
         "  optimizer: \"sgd\" momentum: 0.9 schedule: \"cosine\" loader_threads: 1 }\n"
         "claim { lease_seconds: 60 heartbeat_seconds: 2 max_attempts: 3 trials_per_job: 1 }\n"
         "resources { " +
         resources + " }\n";
}

// (b) Walltime: Slurm's warning signal mid-run checkpoints, the job exits 75,
// and the next identical job resumes to the uninterrupted run's metrics.
TEST_F(RealSlurm, SignalledTrainingJobExits75AndTheNextJobResumesIt) {
  const std::string data = tmp_.path() + "/data";
  RunResult d = RunProcess({SWEEP_BIN, "data", "synth", "--out", data, "--classes", "4", "--train",
                            "1536", "--val", "128", "--test", "128", "--size", "16", "--channels",
                            "3", "--seed", "2"});
  ASSERT_EQ(d.exit_code, 0) << d.output;
  // The reference: the same point trained without interruption, same threads.
  const std::string ref = InitSweep("ref", TrainSpec(data, "cpus: 2"));
  RunResult r0 = RunProcess({TRIAL_BIN}, {"SWEEP_DIR=" + ref, "SLURM_CPUS_PER_TASK=2"});
  ASSERT_EQ(r0.exit_code, 0) << r0.output;
  const auto want = MetricsWithoutTimes(ReadAll(SweepLayout(ref).trial_dir(0) + "/metrics.csv"));
  ASSERT_EQ(want.size(), 6u);

  const std::string dir = InitSweep("b", TrainSpec(data, "cpus: 2 time: \"10\""));
  const std::string ckpt_dir = SweepLayout(dir).trial_dir(0) + "/checkpoints";
  const std::string job1 = Submit(dir, 1)[0];
  ASSERT_TRUE(
      WaitFor([&] { return Env::Default()->Exists(ckpt_dir + "/ckpt-0001-000000.csckpt"); }, 120))
      << Output(dir, job1);
  Sh("scancel --signal=USR1 --batch " + job1);
  ASSERT_TRUE(WaitFor([&] { return Finished(job1); }, 60)) << Output(dir, job1);
  EXPECT_EQ(JobField(job1, "ExitCode"), "75:0") << Output(dir, job1);
  EXPECT_NE(Output(dir, job1).find("checkpoint written"), std::string::npos) << Output(dir, job1);
  EXPECT_EQ(StatusCounts(dir)["interrupted"], 1);

  const std::string job2 = Submit(dir, 1)[0];
  ASSERT_TRUE(WaitFor([&] { return Finished(job2); }, 180)) << Output(dir, job2);
  EXPECT_EQ(JobField(job2, "ExitCode"), "0:0") << Output(dir, job2);
  EXPECT_NE(Output(dir, job2).find("resuming from"), std::string::npos) << Output(dir, job2);
  EXPECT_EQ(MetricsWithoutTimes(ReadAll(SweepLayout(dir).trial_dir(0) + "/metrics.csv")), want);
  TrialResult res;
  ASSERT_OK(ParseJson(ReadAll(SweepLayout(dir).result_path(0)), "", &res));
  EXPECT_EQ(res.attempt(), 2u);
  EXPECT_EQ(res.slurm_job_id(), job2);
}

// (e) Issue 13's example through `sweep submit`: a `--stage trials` job that
// only trains, and a `--stage eval` job (its own resources, SWEEP_STAGE=eval)
// that evaluates every kept checkpoint, waiting for them while training goes
// on; then a plain job runs the funnel over all six.
TEST_F(RealSlurm, AStagePipelineRunsThroughSubmitWithAStageJob) {
  const std::string data = tmp_.path() + "/data";
  RunResult d =
      RunProcess({SWEEP_BIN, "data", "synth", "--out", data, "--classes", "4", "--train", "512",
                  "--val", "64", "--test", "64", "--size", "16", "--channels", "3", "--seed", "2"});
  ASSERT_EQ(d.exit_code, 0) << d.output;
  const std::string dir = InitSweep(
      "e",
      "name: \"pipeline\"\nseed: 1\n"
      "grid { param { name: \"lr\" values: \"0.1\" values: \"0.03\" } }\n"
      "train { model: \"resnet_cifar\" depth: 8 dataset: \"" +
          data +
          "\" epochs: 6 batch_size: 64 keep_checkpoints_every: 2 loader_threads: 1 }\n"
          "claim { lease_seconds: 30 heartbeat_seconds: 2 max_attempts: 3 trials_per_job: 0 }\n"
          "resources { cpus: 1 time: \"10\" }\n"
          "stage { name: \"eval\" each_checkpoint: true eval { split: \"test\" }\n"
          "        resources { cpus: 1 time: \"5\" } }\n"
          "stage { name: \"collect\" after_all: \"eval\"\n"
          "        command { argv: \"sh\" argv: \"-c\" argv: \"wc -l < {inputs} > "
          "{trial_dir}/n.txt\" } }\n");
  const std::string eval_job = Submit(dir, 1, {"--stage", "eval"})[0];
  const std::string train_job = Submit(dir, 1, {"--stage", "trials"})[0];
  EXPECT_NE(ReadAll(dir + "/slurm/job-eval.sh").find("export SWEEP_STAGE='eval'"),
            std::string::npos);
  ASSERT_TRUE(WaitFor([&] { return Finished(eval_job) && Finished(train_job); }, 400))
      << Sh("squeue; " SWEEP_BIN " status " + dir);
  EXPECT_EQ(JobField(train_job, "ExitCode"), "0:0") << Output(dir, train_job);
  EXPECT_EQ(JobField(eval_job, "ExitCode"), "0:0") << Output(dir, eval_job);
  const SweepLayout eval = SweepLayout::ForStage(dir, "eval");
  int by_eval_job = 0;
  for (uint64_t i = 0; i < 2; ++i) {
    for (uint32_t e : {2u, 4u, 6u}) {
      TrialResult r;
      ASSERT_OK(ParseJson(ReadAll(eval.result_path(ItemKey(i, e))), "eval", &r));
      EXPECT_EQ(r.metrics().fields().at("epoch").number_value(), e);
      by_eval_job += r.slurm_job_id() == eval_job;
    }
  }
  // Each job served its own stage: every item by the eval job, no trial.
  EXPECT_EQ(by_eval_job, 6) << Output(dir, eval_job) << Output(dir, train_job);
  EXPECT_EQ(Output(dir, eval_job).find("claimed trial "), std::string::npos)
      << Output(dir, eval_job);
  EXPECT_EQ(Output(dir, train_job).find("claimed eval "), std::string::npos)
      << Output(dir, train_job);
  // Neither serves collect: its item waits, announced, for any job.
  const std::string any_job = Submit(dir, 1)[0];
  ASSERT_TRUE(WaitFor([&] { return Finished(any_job); }, 120)) << Output(dir, any_job);
  EXPECT_EQ(JobField(any_job, "ExitCode"), "0:0") << Output(dir, any_job);
  EXPECT_EQ(ReadAll(SweepLayout::ForStage(dir, "collect").work_dir(ItemKey(0, 1)) + "/n.txt"),
            "6\n");
}

#endif  // HAVE_TRAIN

// (c) requeue: true: the interrupted job requeues itself and, as its own
// second run, resumes the trial it handed back. No second submission.
TEST_F(RealSlurm, AnInterruptedJobRequeuesItselfAndResumes) {
  const std::string dir = InitSweep(
      "c",
      CommandSpec(
          "1",
          "if [ {attempt} = 1 ]; then sleep 120; fi; echo {index} {attempt} >> {sweep_dir}/ran.log",
          "lease_seconds: 60 heartbeat_seconds: 2 max_attempts: 3 trials_per_job: 1",
          "cpus: 1 requeue: true"));
  const std::string job = Submit(dir, 1)[0];
  ASSERT_TRUE(WaitFor([&] { return StatusCounts(dir)["running"] == 1; }, 60)) << Output(dir, job);
  Sh("scancel --signal=USR1 --batch " + job);
  // Requeued jobs wait cred_expire + 1 s (11 s on the test cluster) to start again.
  ASSERT_TRUE(WaitFor([&] { return StatusCounts(dir)["done"] == 1 && Finished(job); }, 120))
      << Output(dir, job) << Sh("scontrol show job " + job);
  EXPECT_EQ(JobField(job, "Restarts"), "1");
  EXPECT_EQ(JobField(job, "JobState"), "COMPLETED");
  EXPECT_EQ(CountLines(dir + "/ran.log")["0 2"], 1) << ReadAll(dir + "/ran.log");
  EXPECT_EQ(CountLines(dir + "/ran.log").size(), 1u) << ReadAll(dir + "/ran.log");
  EXPECT_EQ(CountLines(dir + "/slurm/jobs.tsv").size(), 1u);
}

// (d) Jobs that end abruptly. A job whose trial is killed with SIGKILL leaves a fresh heartbeat and
// a 10-minute lease, yet the next job takes the trial over at once because
// Slurm no longer knows the job. A job cancelled outright (scancel: SIGTERM
// first) hands its trial back, and the next job resumes it first.
TEST_F(RealSlurm, ATrialOfACancelledJobIsTakenOverByTheNextJob) {
  const std::string dir = InitSweep(
      "d", CommandSpec("3",
                       "if [ {attempt} = 1 ] && [ {index} -lt 2 ]; then sleep 300; fi; "
                       "echo {index} {attempt} >> {sweep_dir}/ran.log",
                       "lease_seconds: 600 heartbeat_seconds: 5 max_attempts: 3 trials_per_job: 1",
                       "cpus: 1"));
  SweepLayout layout(dir);
  const std::string killed = Submit(dir, 1)[0];  // takes point 0
  ASSERT_TRUE(WaitFor([&] { return StatusCounts(dir)["running"] == 1; }, 60))
      << Output(dir, killed);
  // What an OOM kill or a crashed node does: the job's `trial` dies by SIGKILL,
  // with no chance to hand its trial back. (scancel --signal=KILL would not:
  // Slurm turns a whole-job KILL into a cancel, SIGTERM first.)
  AttemptOwner owner;
  ASSERT_OK(ParseJson(ReadAll(layout.owner_path(0, 1)), "", &owner));
  ASSERT_EQ(owner.slurm_job_id(), killed);
  ASSERT_EQ(::kill(static_cast<pid_t>(owner.pid()), SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return Finished(killed); }, 60)) << Sh("scontrol show job " + killed);
  EXPECT_EQ(StatusCounts(dir)["running"],
            1);  // the heartbeat is fresh: only Slurm knows it is dead
  RunResult st = RunProcess({SWEEP_BIN, "status", dir});
  EXPECT_NE(st.output.find(killed + " (gone)"), std::string::npos) << st.output;

  const std::string taker = Submit(dir, 1)[0];  // takes point 0 over
  ASSERT_TRUE(WaitFor([&] { return Env::Default()->Exists(layout.attempt_dir(0, 2)); }, 30))
      << Output(dir, taker);
  EXPECT_NE(Output(dir, taker).find("job " + killed + " is no longer known to Slurm"),
            std::string::npos)
      << Output(dir, taker);
  ASSERT_TRUE(WaitFor([&] { return Finished(taker); }, 60)) << Output(dir, taker);
  EXPECT_EQ(CountLines(dir + "/ran.log")["0 2"], 1) << ReadAll(dir + "/ran.log");

  // Plain scancel of a job running point 1: SIGTERM, the trial is handed back
  // (interrupted), and the next job resumes it first.
  const std::string third = Submit(dir, 1)[0];
  ASSERT_TRUE(WaitFor([&] { return StatusCounts(dir)["running"] == 1; }, 60)) << Output(dir, third);
  Sh("scancel " + third);
  ASSERT_TRUE(WaitFor([&] { return Finished(third); }, 60));
  EXPECT_EQ(StatusCounts(dir)["interrupted"], 1) << Output(dir, third);
  const std::string last = Submit(dir, 1, {})[0];
  ASSERT_TRUE(WaitFor([&] { return Finished(last); }, 60)) << Output(dir, last);
  EXPECT_EQ(CountLines(dir + "/ran.log")["1 2"], 1)
      << ReadAll(dir + "/ran.log") << Output(dir, last);
}

}  // namespace
}  // namespace claimsweep::testing
