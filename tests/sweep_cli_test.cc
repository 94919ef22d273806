// The `sweep` command line: init, validation errors, points, status.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <map>

#include "core/env.h"
#include "example_specs.h"
#include "process_util.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

struct Files {
  TempDir tmp;
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(tmp.path() + "/" + name) << text;
    return tmp.path() + "/" + name;
  }
};

TEST(SweepCli, InitFreezesTheExampleAndReportsPointCount) {
  Files f;
  std::string spec = f.Write("lr-depth.textproto", kLrDepthSpec);
  RunResult r = RunProcess({SWEEP_BIN, "init", spec, f.tmp.path() + "/s"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("114 points"), std::string::npos) << r.output;
  EXPECT_NE(ReadAll(f.tmp.path() + "/s/sweep.textproto").find("format_version: 3"),
            std::string::npos);
  // Same spec again: fine. A different spec: refused.
  EXPECT_EQ(RunProcess({SWEEP_BIN, "init", spec, f.tmp.path() + "/s"}).exit_code, 0);
  std::string other = kLrDepthSpec;
  other.replace(other.find("seed: 7"), 7, "seed: 9");
  RunResult again =
      RunProcess({SWEEP_BIN, "init", f.Write("other.textproto", other), f.tmp.path() + "/s"});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.output.find("different sweep"), std::string::npos) << again.output;
}

TEST(SweepCli, MalformedSpecExits2WithFileLineColumnAndCreatesNothing) {
  Files f;
  std::string spec =
      f.Write("bad.textproto", "name: \"x\"\ngrid {\n  param { name: \"lr\" valuez: \"1\" }\n}\n");
  RunResult r = RunProcess({SWEEP_BIN, "init", spec, f.tmp.path() + "/s"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(spec + ":3:"), std::string::npos) << r.output;
  EXPECT_FALSE(Env::Default()->Exists(f.tmp.path() + "/s"));
}

TEST(SweepCli, UnknownPlaceholderIsRefusedAtInitBeforeAnythingIsCreated) {
  Files f;
  std::string spec =
      f.Write("p.textproto",
              "grid { param { name: \"lr\" values: \"1\" } }\n"
              "command {\n  argv: \"python\"\n  argv: \"--lr={learning_rate}\"\n}\n");
  RunResult r = RunProcess({SWEEP_BIN, "init", spec, f.tmp.path() + "/s"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(spec + ":4:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("{learning_rate}"), std::string::npos) << r.output;
  EXPECT_FALSE(Env::Default()->Exists(f.tmp.path() + "/s"));
}

TEST(SweepCli, ATrainPointTheTrainerWouldRefuseIsRefusedAtInitAndValidate) {
  Files f;
  // Every value parses; the point lr=0 (once silently trained with lr 0.1)
  // and a claim of max_attempts 0 (once silently 3) are refused.
  ::mkdir((f.tmp.path() + "/data").c_str(), 0755);
  WriteRaw(f.tmp.path() + "/data/manifest.textproto", "");
  std::string spec = f.Write("t.textproto",
                             "name: \"t\"\n"
                             "grid { param { name: \"lr\" values: \"0.1\" values: \"0\" } }\n"
                             "train { model: \"resnet_cifar\" depth: 8 dataset: \"data\" }\n"
                             "claim { max_attempts: 0 }\n");
  for (const char* cmd : {"validate", "init"}) {
    std::vector<std::string> args = {SWEEP_BIN, cmd, spec};
    if (std::string(cmd) == "init") args.push_back(f.tmp.path() + "/s");
    RunResult r = RunProcess(args);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(spec + ":2:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("train.lr 0 must be"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(spec + ":4:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("max_attempts 0"), std::string::npos) << r.output;
  }
  EXPECT_FALSE(Env::Default()->Exists(f.tmp.path() + "/s"));
  // A missing dataset is refused by validate too, not only by init.
  std::string nodata =
      f.Write("n.textproto",
              "name: \"t\"\ngrid { param { name: \"lr\" values: \"0.1\" } }\n"
              "train { model: \"resnet_cifar\" depth: 8 dataset: \"nothing-here\" }\n");
  RunResult v = RunProcess({SWEEP_BIN, "validate", nodata});
  EXPECT_EQ(v.exit_code, 2) << v.output;
  EXPECT_NE(v.output.find("holds no dataset"), std::string::npos) << v.output;
}

TEST(SweepCli, PointsAsCsvAndJson) {
  Files f;
  ASSERT_EQ(
      RunProcess({SWEEP_BIN, "init", f.Write("s.textproto", kLrDepthSpec), f.tmp.path() + "/s"})
          .exit_code,
      0);
  RunResult csv = RunProcess({SWEEP_BIN, "points", f.tmp.path() + "/s", "--format", "csv"});
  ASSERT_EQ(csv.exit_code, 0);
  EXPECT_EQ(csv.output.rfind("index,lr,depth,wd,opt\n", 0), 0u) << csv.output.substr(0, 80);
  EXPECT_EQ(std::count(csv.output.begin(), csv.output.end(), '\n'), 115);
  EXPECT_NE(csv.output.find("\n57,0.01,4,"), std::string::npos);
  RunResult json = RunProcess({SWEEP_BIN, "points", f.tmp.path() + "/s", "--format", "json"});
  EXPECT_NE(json.output.find("{\"index\":113,\"lr\":\"0.01\",\"depth\":\"76\""), std::string::npos);
}

TEST(SweepCli, StatusJsonHasEveryStateKey) {
  Files f;
  ASSERT_EQ(
      RunProcess({SWEEP_BIN, "init", f.Write("s.textproto", kLrDepthSpec), f.tmp.path() + "/s"})
          .exit_code,
      0);
  RunResult r = RunProcess({SWEEP_BIN, "status", f.tmp.path() + "/s", "--format", "json"});
  EXPECT_EQ(r.output,
            "{\"total\":114,\"pending\":114,\"running\":0,\"interrupted\":0,\"stale\":0,\"done\":0,"
            "\"failed\":0,"
            "\"stopped\":0,\"broken\":0,\"blocked\":0,\"logs\":[],\"stages\":[]}\n");
  RunResult missing = RunProcess({SWEEP_BIN, "status", f.tmp.path() + "/nope"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("not a sweep directory"), std::string::npos) << missing.output;
}

// `sweep data synth` checks its options before it writes anything.
TEST(SweepCli, DataSynthRefusesOptionsOutOfRangeAndWritesNothing) {
  Files f;
  const std::string out = f.tmp.path() + "/data";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--channels", "2"}, "--channels must be 1 (grey) or 3 (RGB), not 2"},
      {{"--channels", "4"}, "--channels must be 1 (grey) or 3 (RGB), not 4"},
      {{"--channels", "0"}, "--channels must be 1 (grey) or 3 (RGB), not 0"},
      {{"--classes", "1"}, "--classes must be in 2..1000, not 1"},
      {{"--train", "0"}, "--train must be at least 1, not 0"},
      {{"--val", "0"}, "--val must be at least 1 (training evaluates on val every epoch), not 0"},
      {{"--test", "-1"}, "--test must be at least 0, not -1"},
      {{"--size", "4"},
       "--size must be in 8..1024 (squeezenet1_1 needs at least 17, squeezenet1_0 21), not 4"},
  };
  for (const auto& [args, says] : cases) {
    std::map<std::string, std::string> options = {
        {"--train", "8"}, {"--val", "4"}, {"--test", "4"}, {"--size", "8"}};
    options[args[0]] = args[1];
    std::vector<std::string> argv = {SWEEP_BIN, "data", "synth", "--out", out};
    for (const auto& [k, v] : options) argv.insert(argv.end(), {k, v});
    RunResult r = RunProcess(argv);
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << r.output;
    EXPECT_FALSE(Env::Default()->Exists(out)) << args[0];
  }
  RunResult ok = RunProcess({SWEEP_BIN, "data", "synth", "--out", out, "--train", "8", "--val", "1",
                             "--test", "0", "--size", "8", "--channels", "1", "--classes", "2"});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}

// sbatch accepted the job but its line cannot be added to slurm/jobs.tsv (here
// a directory): the job is queued, so submit succeeds, and says which job the
// list misses instead of dropping it silently.
TEST(SweepCli, SubmitWarnsWhenASubmittedJobCannotBeListed) {
  Files f;
  const std::string dir = f.tmp.path() + "/s";
  std::string spec = f.Write("c.textproto", R"(name: "c"
grid { param { name: "x" values: "1" } }
command { argv: "true" })");
  ASSERT_EQ(RunProcess({SWEEP_BIN, "init", spec, dir}).exit_code, 0);
  ASSERT_EQ(::mkdir((dir + "/slurm").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir + "/slurm/jobs.tsv").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((f.tmp.path() + "/bin").c_str(), 0755), 0);
  const std::string sbatch = f.Write("bin/sbatch", "#!/bin/sh\ncat >/dev/null\necho 4242\n");
  ASSERT_EQ(::chmod(sbatch.c_str(), 0755), 0);
  RunResult r = RunProcess({SWEEP_BIN, "submit", dir, "--trial", TRIAL_BIN},
                           {"PATH=" + f.tmp.path() + "/bin:/usr/bin:/bin"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("submitted job 4242"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("warning: job 4242 is submitted but not listed"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("jobs.tsv"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace claimsweep::testing
