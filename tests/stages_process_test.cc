// Derived stages through the real `trial` binary: identical workers serve
// the sweep's points and every stage, each item runs once whatever is
// killed, ready items come before new points, the after_all funnel runs once
// with all its inputs, and a failed upstream holds its dependents back until
// it is retried.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <string>
#include <vector>

#include "core/derived.h"
#include "proc_sweep.h"

namespace claimsweep::testing {
namespace {

// A sweep of x = 0..points-1; each command appends a line to LOG when it
// ends, so the log counts the runs that completed.
std::string PipelineSpec(int points, const std::string& trial, const std::string& post,
                         const std::string& collect, const std::string& claim) {
  auto q = [](const std::string& cmd) {
    return "command { argv: \"sh\" argv: \"-c\" argv: \"" + cmd + "\" }";
  };
  return "name: \"p\"\ngrid { param { name: \"x\" range { start: 0 stop: " +
         std::to_string(points) + " step: 1 } } }\n" + q(trial) + "\nclaim { " + claim +
         " }\nstage { name: \"post\" each_trial: true " + q(post) +
         " }\nstage { name: \"collect\" after_all: \"post\" " + q(collect) + " }\n";
}

struct Pipeline : ProcSweep {
  // `sweep init` made each stage's queue.
  explicit Pipeline(const std::string& spec) : ProcSweep(spec) {
    for (const SweepLayout* q : {&post, &collect}) {
      EXPECT_TRUE(Env::Default()->Exists(q->trials_dir())) << q->trials_dir();
      EXPECT_TRUE(Env::Default()->Exists(q->leases_dir())) << q->leases_dir();
    }
  }
  SweepLayout post{SweepLayout::ForStage(dir, "post")};
  SweepLayout collect{SweepLayout::ForStage(dir, "collect")};
  std::string log() const { return dir + "/ran.log"; }
  // The pid in an attempt's owner.json.
  pid_t Owner(const SweepLayout& l, uint64_t index, uint32_t attempt) {
    AttemptOwner o;
    std::string text = ReadAll(l.owner_path(index, attempt));
    if (!ParseJson(text, "owner", &o).ok()) return -1;
    return static_cast<pid_t>(o.pid());
  }
};

TEST(StagesProcess, KillNineAcrossStagesRunsEveryItemOnce) {
  // Trial 5 and post's item for point 2 hang in their first attempt until
  // killed with their workers; everything else takes moments.
  const int n = 10;
  Pipeline s(PipelineSpec(
      n,
      "if [ {attempt} = 1 ] && [ {x} = 5 ]; then exec sleep 60; fi; sleep 0.2; "
      "echo trial {x} >> {sweep_dir}/ran.log",
      "if [ {attempt} = 1 ] && [ {x} = 2 ]; then exec sleep 60; fi; "
      "echo post {x} >> {sweep_dir}/ran.log",
      "echo collect $(wc -l < {inputs}) $(ls {sweep_dir}/stages/post/items/*/result.json | "
      "wc -l) >> {sweep_dir}/ran.log",
      "lease_seconds: 3 heartbeat_seconds: 0.5 trials_per_job: 0"));
  std::vector<Spawned> workers;
  for (int w = 0; w < 4; ++w) workers.push_back(s.StartTrial("w" + std::to_string(w)));
  const uint64_t hung_item = StageItemKey(2);
  ASSERT_TRUE(
      WaitFor([&] { return s.Owner(s.layout, 5, 1) > 0 && s.Owner(s.post, hung_item, 1) > 0; }, 20))
      << ReadAll(workers[0].output_path);
  const pid_t victims[] = {s.Owner(s.layout, 5, 1), s.Owner(s.post, hung_item, 1)};
  ASSERT_NE(victims[0], victims[1]);
  for (pid_t v : victims) KillNineWithChildren(v);
  for (Spawned& w : workers) {
    const int code = WaitExit(w.pid);
    const bool victim = w.pid == victims[0] || w.pid == victims[1];
    EXPECT_EQ(code, victim ? 128 + SIGKILL : 0) << ReadAll(w.output_path);
  }
  auto ran = CountLines(s.log());
  for (int x = 0; x < n; ++x) {
    EXPECT_EQ(ran["trial " + std::to_string(x)], 1) << x;
    EXPECT_EQ(ran["post " + std::to_string(x)], 1) << x;
  }
  // Once, after every post item was done, listing all ten.
  EXPECT_EQ(ran["collect 10 10"], 1) << ReadAll(s.log());
  EXPECT_EQ(ran.size(), 2u * n + 1) << ReadAll(s.log());
  // The two killed attempts were taken over as attempt 2.
  EXPECT_TRUE(s.AttemptExists(5, 2));
  EXPECT_TRUE(Env::Default()->Exists(s.post.attempt_dir(hung_item, 2)));
  EXPECT_TRUE(Env::Default()->Exists(s.collect.result_path(FunnelKey(1))));
  TrialResult r;
  ASSERT_OK(ParseJson(ReadAll(s.post.result_path(hung_item)), "result", &r));
  EXPECT_EQ(r.stage(), "post");
  EXPECT_EQ(r.item(), "000002-0000");
  EXPECT_EQ(r.index(), 2u);
  EXPECT_EQ(r.params().at("x"), "2");
  // No lease entry is left in any queue.
  EXPECT_TRUE(s.List(s.layout.leases_dir()).empty());
  EXPECT_TRUE(s.List(s.post.leases_dir()).empty());
  EXPECT_TRUE(s.List(s.collect.leases_dir()).empty());
}

TEST(StagesProcess, ReadyItemsComeBeforeNewPointsAndStageCommandsGetTheirPlaceholders) {
  Pipeline s(PipelineSpec(
      3, "echo {x} > out.txt",
      "cat {upstream_dir}/work/out.txt > got.txt; echo {stage} {index} >> got.txt",
      "cat {inputs} > list.txt", "lease_seconds: 30 heartbeat_seconds: 1 trials_per_job: 0"));
  RunResult v = s.Sweep({"validate", s.tmp.path() + "/spec.textproto"});
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_NE(v.output.find("  stage post: each_trial, command\n  stage collect: after_all post, "
                          "command\n"),
            std::string::npos)
      << v.output;
  RunResult r = s.RunTrial();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::vector<std::string> order = {"claimed trial 000000",       "claimed post 000000-0000",
                                          "claimed trial 000001",       "claimed post 000001-0000",
                                          "claimed trial 000002",       "claimed post 000002-0000",
                                          "claimed collect 000000-0001"};
  size_t at = 0;
  for (const std::string& line : order) {
    const size_t found = r.output.find(line, at);
    ASSERT_NE(found, std::string::npos) << line << " in order in\n" << r.output;
    at = found;
  }
  EXPECT_EQ(ReadAll(s.post.work_dir(StageItemKey(1)) + "/got.txt"), "1\npost 1\n");
  std::string expected;
  for (uint64_t i = 0; i < 3; ++i) expected += s.post.trial_dir(StageItemKey(i)) + "\n";
  EXPECT_EQ(ReadAll(s.collect.work_dir(FunnelKey(1)) + "/list.txt"), expected);
}

TEST(StagesProcess, AFailedUpstreamHoldsItsDependentsBackUntilItIsRetried) {
  Pipeline s(
      PipelineSpec(3,
                   "if [ {x} = 1 ] && [ ! -e {sweep_dir}/ok ]; then exit 3; fi; "
                   "echo trial {x} >> {sweep_dir}/ran.log",
                   "echo post {x} >> {sweep_dir}/ran.log",
                   "echo collect $(wc -l < {inputs}) >> {sweep_dir}/ran.log",
                   "lease_seconds: 30 heartbeat_seconds: 1 max_attempts: 1 trials_per_job: 0"));
  RunResult r = s.RunTrial();
  EXPECT_EQ(r.exit_code, 1) << r.output;  // a trial failed
  auto ran = CountLines(s.log());
  EXPECT_EQ(ran["post 0"], 1);
  EXPECT_EQ(ran["post 2"], 1);
  EXPECT_EQ(ran.count("post 1"), 0u);
  EXPECT_EQ(ran.count("collect 3"), 0u);
  EXPECT_TRUE(s.List(s.post.leases_dir()).empty());  // never announced
  EXPECT_TRUE(s.List(s.collect.trials_dir()).empty());
  // Nothing is claimable until the user retries the trial.
  RunResult idle = s.RunTrial();
  EXPECT_EQ(idle.exit_code, 0) << idle.output;
  EXPECT_NE(idle.output.find("nothing to claim"), std::string::npos) << idle.output;

  std::ofstream(s.dir + "/ok") << "";
  RunResult retry = s.Sweep({"retry", s.dir, "1"});
  ASSERT_EQ(retry.exit_code, 0) << retry.output;
  RunResult again = s.RunTrial();
  EXPECT_EQ(again.exit_code, 0) << again.output;
  ran = CountLines(s.log());
  EXPECT_EQ(ran["trial 1"], 1);
  EXPECT_EQ(ran["post 1"], 1);
  EXPECT_EQ(ran["collect 3"], 1) << ReadAll(s.log());
}

}  // namespace
}  // namespace claimsweep::testing

namespace claimsweep::testing {
namespace {

TEST(StagesProcess, AStageWorkerServesItsStageAloneAndWaitsForItsInput) {
  Pipeline s(PipelineSpec(3, "sleep 0.5; echo trial {x} >> {sweep_dir}/ran.log",
                          "echo post {x} >> {sweep_dir}/ran.log",
                          "echo collect $(wc -l < {inputs}) >> {sweep_dir}/ran.log",
                          "lease_seconds: 30 heartbeat_seconds: 1 trials_per_job: 0"));
  RunResult unknown = RunProcess({TRIAL_BIN}, {"SWEEP_DIR=" + s.dir, "SWEEP_STAGE=evall"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("SWEEP_STAGE=evall names no stage of this sweep (its stages: "
                                "trials, post, collect)"),
            std::string::npos)
      << unknown.output;
  // The post worker starts first, finds nothing ready, and waits while the
  // trials worker's trials are open.
  Spawned post = s.StartTrial("post", {"SWEEP_STAGE=post"});
  ASSERT_TRUE(
      WaitFor([&] { return ReadAll(post.output_path).find("waiting") != std::string::npos; }, 10))
      << ReadAll(post.output_path);
  Spawned trials = s.StartTrial("trials", {"SWEEP_STAGE=trials"});
  EXPECT_EQ(WaitExit(trials.pid), 0) << ReadAll(trials.output_path);
  EXPECT_EQ(WaitExit(post.pid), 0) << ReadAll(post.output_path);
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(s.Owner(s.layout, i, 1), trials.pid);
    EXPECT_EQ(s.Owner(s.post, StageItemKey(i), 1), post.pid);
  }
  // Neither served collect: its item waits, announced, for any worker.
  EXPECT_TRUE(Env::Default()->Exists(s.collect.released_lease_path(FunnelKey(1), 0)));
  RunResult any = s.RunTrial();
  EXPECT_EQ(any.exit_code, 0) << any.output;
  EXPECT_EQ(CountLines(s.log())["collect 3"], 1) << ReadAll(s.log());
}

}  // namespace
}  // namespace claimsweep::testing

namespace claimsweep::testing {
namespace {

TEST(StagesProcess, AFailedItemIsRetriedWithStageAndResetRefusesAnInputOfLaterWork) {
  Pipeline s(
      PipelineSpec(3, "echo trial {x} >> {sweep_dir}/ran.log",
                   "if [ {x} = 1 ] && [ ! -e {sweep_dir}/ok ]; then exit 3; fi; "
                   "echo post {x} >> {sweep_dir}/ran.log",
                   "echo collect $(wc -l < {inputs}) >> {sweep_dir}/ran.log",
                   "lease_seconds: 30 heartbeat_seconds: 1 max_attempts: 1 trials_per_job: 0"));
  RunResult r = s.RunTrial();
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(CountLines(s.log()).count("collect 3"), 0u);  // a member failed
  // Trial 1's result is the input of post's (failed) item: not reset.
  RunResult reset = s.Sweep({"reset", s.dir, "1"});
  EXPECT_EQ(reset.exit_code, 1) << reset.output;
  EXPECT_NE(reset.output.find("000001: it is the input of post 000001-0000: reset that first"),
            std::string::npos)
      << reset.output;
  RunResult bad = s.Sweep({"retry", s.dir, "--stage", "nope", "1"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("its stages: trials, post, collect"), std::string::npos) << bad.output;

  std::ofstream(s.dir + "/ok") << "";
  RunResult retry = s.Sweep({"retry", s.dir, "--stage", "post", "--failed"});
  ASSERT_EQ(retry.exit_code, 0) << retry.output;
  EXPECT_NE(retry.output.find("post 000001-0000: "), std::string::npos) << retry.output;
  RunResult again = s.RunTrial();
  EXPECT_EQ(again.exit_code, 0) << again.output;
  auto ran = CountLines(s.log());
  EXPECT_EQ(ran["post 1"], 1);
  EXPECT_EQ(ran["trial 1"], 1);
  EXPECT_EQ(ran["collect 3"], 1) << ReadAll(s.log());
  // Now the funnel has run over post: resetting one of its inputs is refused.
  RunResult late = s.Sweep({"reset", s.dir, "--stage", "post", "2"});
  EXPECT_EQ(late.exit_code, 1) << late.output;
  EXPECT_NE(late.output.find("resetting an input of an after_all stage that ran is not supported"),
            std::string::npos)
      << late.output;
}

}  // namespace
}  // namespace claimsweep::testing
