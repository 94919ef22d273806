// The job script `sweep submit` renders: no value, name or path can inject
// shell or an extra #SBATCH line, and the script runs `trial` with the sweep
// directory exactly as given. Also the helpers that ask Slurm things.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "core/slurm.h"
#include "core/spec.h"
#include "core/subprocess.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::ReadAll;
using testing::TempDir;

SweepSpec Spec(const std::string& resources) {
  auto s = ParseSpec(
      "name: \"x\" grid { param { name: \"a\" values: \"$(touch /tmp/pwned)\" } }\n"
      "command { argv: \"true\" }\n" +
          resources,
      "spec.textproto");
  EXPECT_OK(s) << s.status().ToString();
  return s.ok() ? *s : SweepSpec();
}

int CountSbatchLines(const std::string& script) {
  int n = 0;
  for (size_t p = script.find("#SBATCH"); p != std::string::npos; p = script.find("#SBATCH", p + 1))
    ++n;
  return n;
}

TEST(JobScript, HasTheResourcesTheWalltimeSignalAndExecsTrial) {
  SweepSpec spec =
      Spec(R"(resources { partition: "gpu" account: "lab-1" qos: "normal" gpus: 1 cpus: 8 mem: "32G"
                          time: "1-00:00:00" extra_sbatch: "--constraint=a100" requeue: true signal_seconds: 300 })");
  auto js = RenderJobScript(spec, "/scratch/sweeps/lr", "/opt/claimsweep/bin/trial", 0);
  ASSERT_OK(js) << js.status().ToString();
  for (const char* line :
       {"#SBATCH --partition=gpu\n", "#SBATCH --account=lab-1\n", "#SBATCH --qos=normal\n",
        "#SBATCH --gres=gpu:1\n", "#SBATCH --cpus-per-task=8\n", "#SBATCH --mem=32G\n",
        "#SBATCH --time=1-00:00:00\n", "#SBATCH --constraint=a100\n", "#SBATCH --requeue\n",
        "#SBATCH --signal=B:USR1@300\n", "export SWEEP_DIR='/scratch/sweeps/lr'\n",
        "exec '/opt/claimsweep/bin/trial'\n"}) {
    EXPECT_NE(js->script.find(line), std::string::npos) << line << "\n" << js->script;
  }
  EXPECT_EQ(js->script.find("$(touch"), std::string::npos)
      << "parameter values must not reach the script";
  EXPECT_EQ(js->sbatch_argv[0], "sbatch");
  EXPECT_EQ(js->sbatch_argv.back(), "--output=/scratch/sweeps/lr/slurm/%x-%j.out");
}

TEST(JobScript, ArrayAndPerGpuForms) {
  SweepSpec spec = Spec("resources { gpus: 4 cpus: 16 trial_per_gpu: true array_throttle: 3 }");
  auto js = RenderJobScript(spec, "/s", "/t/trial", 20);
  ASSERT_OK(js) << js.status().ToString();
  EXPECT_NE(js->script.find("#SBATCH --ntasks=4\n#SBATCH --cpus-per-task=4\n"), std::string::npos)
      << js->script;
  EXPECT_NE(
      js->script.find("exec srun --ntasks=4 --gpus-per-task=1 --kill-on-bad-exit=0 '/t/trial'"),
      std::string::npos)
      << js->script;
  EXPECT_NE(std::find(js->sbatch_argv.begin(), js->sbatch_argv.end(), "--array=0-19%3"),
            js->sbatch_argv.end());
}

// `sweep submit --stage eval`: the stage's resources over the sweep's, and
// its `trial` told which stage it serves.
TEST(JobScript, AStageJobHasItsOwnResourcesOverTheSweepsAndExportsSweepStage) {
  SweepSpec spec = Spec(R"(resources { partition: "gpu" gpus: 1 cpus: 8 mem: "32G" time: "4:00:00"
                                       extra_sbatch: "--constraint=a100" }
                           stage { name: "eval" each_trial: true command { argv: "true" }
                                   resources { partition: "cpu" mem: "4G"
                                               extra_sbatch: "--nice=10" } }
                           stage { name: "plain" each_trial: true command { argv: "true" } })");
  auto js = RenderJobScript(spec, "/s", "/t/trial", 0, "eval");
  ASSERT_OK(js) << js.status().ToString();
  for (const char* line :
       {"#SBATCH --job-name=x-eval\n", "#SBATCH --partition=cpu\n", "#SBATCH --mem=4G\n",
        "#SBATCH --cpus-per-task=8\n", "#SBATCH --gres=gpu:1\n", "#SBATCH --time=4:00:00\n",
        "#SBATCH --nice=10\n",
        "export SWEEP_DIR='/s'\nexport SWEEP_STAGE='eval'\nexec '/t/trial'\n"}) {
    EXPECT_NE(js->script.find(line), std::string::npos) << line << "\n" << js->script;
  }
  // The stage's extra_sbatch replaced the sweep's list.
  EXPECT_EQ(js->script.find("a100"), std::string::npos) << js->script;
  // A stage without resources of its own: the sweep's, and still its stage.
  js = RenderJobScript(spec, "/s", "/t/trial", 0, "plain");
  ASSERT_OK(js) << js.status().ToString();
  EXPECT_NE(js->script.find("#SBATCH --partition=gpu\n"), std::string::npos) << js->script;
  EXPECT_NE(js->script.find("#SBATCH --constraint=a100\n"), std::string::npos) << js->script;
  EXPECT_NE(js->script.find("export SWEEP_STAGE='plain'\n"), std::string::npos) << js->script;
  // The sweep's own job: no stage.
  js = RenderJobScript(spec, "/s", "/t/trial", 0);
  ASSERT_OK(js);
  EXPECT_EQ(js->script.find("SWEEP_STAGE"), std::string::npos) << js->script;
  EXPECT_NE(js->script.find("#SBATCH --job-name=x\n"), std::string::npos) << js->script;
  // An unknown stage names the stages.
  js = RenderJobScript(spec, "/s", "/t/trial", 0, "nope");
  ASSERT_FALSE(js.ok());
  EXPECT_NE(js.status().message().find("no such stage (stages: eval, plain)"), std::string::npos)
      << js.status().ToString();
}

TEST(JobScript, AStagesBadResourcesAreRefusedNamingTheStage) {
  // `sweep init` refuses such a spec (SpecStages.StageResourcesAreCheckedAsTheSweepsAre);
  // the script is checked again, as for the sweep's own resources.
  SweepSpec spec = Spec(R"(stage { name: "eval" each_trial: true command { argv: "true" } })");
  spec.mutable_stage(0)->mutable_resources()->set_mem("4G\n#SBATCH --x");
  auto js = RenderJobScript(spec, "/s", "/t/trial", 0, "eval");
  ASSERT_FALSE(js.ok());
  EXPECT_NE(js.status().message().find("stage eval: resources.mem"), std::string::npos)
      << js.status().ToString();
}

// The hostile path runs through bash for real: the script must hand it to
// `trial` byte for byte and execute nothing else.
TEST(JobScript, HostilePathsReachTrialVerbatimAndRunNothing) {
  TempDir tmp;
  // Injected commands would run in the script's working directory, tmp.
  const std::string evil =
      tmp.path() + "/it's $(touch pwned1) `touch pwned2` \"q\" ; touch pwned3 #";
  ASSERT_EQ(::mkdir(evil.c_str(), 0755), 0);
  const std::string fake_trial = evil + "/trial";  // the binary's path is hostile too
  std::ofstream(fake_trial) << "#!/bin/sh\nprintf '%s' \"$SWEEP_DIR\" > \"$SWEEP_DIR/seen\"\n";
  ::chmod(fake_trial.c_str(), 0755);
  SweepSpec spec = Spec("resources { cpus: 1 }");
  auto js = RenderJobScript(spec, evil, fake_trial, 0);
  ASSERT_OK(js) << js.status().ToString();
  EXPECT_EQ(CountSbatchLines(js->script), 4) << js->script;  // job-name, cpus, signal, no-requeue
  std::string out, err;
  int code = -1;
  ASSERT_TRUE(RunProgram({"sh", "-c", "cd \"$1\" && exec bash -s", "sh", tmp.path()}, js->script,
                         20, &out, &err, &code)
                  .ok());
  EXPECT_EQ(code, 0) << err;
  EXPECT_EQ(ReadAll(evil + "/seen"), evil);
  for (const char* f : {"/pwned1", "/pwned2", "/pwned3"}) {
    struct stat st;
    EXPECT_NE(::stat((tmp.path() + f).c_str(), &st), 0)
        << f << " was created: the script ran injected shell";
  }
}

TEST(JobScript, NewlinesAndOddCharactersInResourcesAreRefusedWithTheField) {
  for (const auto& [res, field] : std::vector<std::pair<std::string, std::string>>{
           {R"(resources { partition: "gpu\n#SBATCH --uid=0" })", "resources.partition"},
           {R"(resources { account: "a b" })", "resources.account"},
           {R"(resources { qos: "q;rm" })", "resources.qos"},
           {R"(resources { mem: "16G --x" })", "resources.mem"},
           {R"X(resources { time: "$(id)" })X", "resources.time"},
           {R"(resources { extra_sbatch: "--comment=a\n--uid=0" })", "resources.extra_sbatch[0]"},
           {R"(resources { extra_sbatch: "nodash" })", "resources.extra_sbatch[0]"},
           {R"(resources { gpus: 1 trial_per_gpu: true })", "trial_per_gpu needs gpus >= 2"},
       }) {
    auto s = ParseSpec(
        "name: \"x\"\ngrid { param { name: \"a\" values: \"1\" } }\ncommand { argv: \"true\" }\n" +
            res,
        "spec.textproto");
    ASSERT_FALSE(s.ok()) << res;
    EXPECT_NE(s.status().message().find(field), std::string::npos) << s.status().message();
    EXPECT_NE(s.status().message().find("spec.textproto:4:"), std::string::npos)
        << s.status().message();
  }
  // Past validation too, the renderer refuses it.
  Resources r;
  r.set_partition("p\n#SBATCH --uid=0");
  SweepSpec spec;
  *spec.mutable_resources() = r;
  EXPECT_FALSE(RenderJobScript(spec, "/s", "/t", 0).ok());
  EXPECT_FALSE(RenderJobScript(Spec(""), "/s/a\nb", "/t", 0).ok());
  EXPECT_FALSE(RenderJobScript(Spec(""), "relative", "/t", 0).ok());
}

TEST(Slurm, ParsesSqueueTimesAndRunsProgramsWithoutAShell) {
  const int64_t t = ParseSlurmTime("2026-11-23T12:34:56");
  ASSERT_GT(t, 0);
  EXPECT_EQ(ParseSlurmTime("2026-11-23T12:35:56") - t, 60);
  EXPECT_EQ(ParseSlurmTime("N/A"), -1);
  EXPECT_EQ(ParseSlurmTime("Unknown"), -1);
  std::string out, err;
  int code = -1;
  ASSERT_OK(
      RunProgram({"sh", "-c", "cat; echo oops >&2; exit 3"}, "in $(x)", 10, &out, &err, &code));
  EXPECT_EQ(out, "in $(x)");
  EXPECT_EQ(err, "oops\n");
  EXPECT_EQ(code, 3);
  Status s = RunProgram({"sleep", "5"}, "", 0.2, &out, &err, &code);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(RunProgram({"/nonexistent/squeue"}, "", 1, &out, &err, &code).ok());
}

}  // namespace
}  // namespace claimsweep
