// The `sweep` command line: init, validation errors, points, status.
#include <gtest/gtest.h>

#include <fstream>

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
  EXPECT_NE(ReadAll(f.tmp.path() + "/s/sweep.textproto").find("format_version: 1"), std::string::npos);
  // Same spec again: fine. A different spec: refused.
  EXPECT_EQ(RunProcess({SWEEP_BIN, "init", spec, f.tmp.path() + "/s"}).exit_code, 0);
  std::string other = kLrDepthSpec;
  other.replace(other.find("seed: 7"), 7, "seed: 9");
  RunResult again = RunProcess({SWEEP_BIN, "init", f.Write("other.textproto", other), f.tmp.path() + "/s"});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.output.find("different sweep"), std::string::npos) << again.output;
}

TEST(SweepCli, MalformedSpecExits2WithFileLineColumnAndCreatesNothing) {
  Files f;
  std::string spec = f.Write("bad.textproto", "name: \"x\"\ngrid {\n  param { name: \"lr\" valuez: \"1\" }\n}\n");
  RunResult r = RunProcess({SWEEP_BIN, "init", spec, f.tmp.path() + "/s"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(spec + ":3:"), std::string::npos) << r.output;
  EXPECT_FALSE(Env::Default()->Exists(f.tmp.path() + "/s"));
}

TEST(SweepCli, UnknownPlaceholderIsRefusedAtInitBeforeAnythingIsCreated) {
  Files f;
  std::string spec = f.Write("p.textproto",
                             "grid { param { name: \"lr\" values: \"1\" } }\n"
                             "command {\n  argv: \"python\"\n  argv: \"--lr={learning_rate}\"\n}\n");
  RunResult r = RunProcess({SWEEP_BIN, "init", spec, f.tmp.path() + "/s"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(spec + ":4:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("{learning_rate}"), std::string::npos) << r.output;
  EXPECT_FALSE(Env::Default()->Exists(f.tmp.path() + "/s"));
}

TEST(SweepCli, PointsAsCsvAndJson) {
  Files f;
  ASSERT_EQ(RunProcess({SWEEP_BIN, "init", f.Write("s.textproto", kLrDepthSpec), f.tmp.path() + "/s"}).exit_code, 0);
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
  ASSERT_EQ(RunProcess({SWEEP_BIN, "init", f.Write("s.textproto", kLrDepthSpec), f.tmp.path() + "/s"}).exit_code, 0);
  RunResult r = RunProcess({SWEEP_BIN, "status", f.tmp.path() + "/s", "--format", "json"});
  EXPECT_EQ(r.output,
            "{\"total\":114,\"pending\":114,\"running\":0,\"interrupted\":0,\"stale\":0,\"done\":0,\"failed\":0,"
            "\"stopped\":0,\"broken\":0}\n");
  RunResult missing = RunProcess({SWEEP_BIN, "status", f.tmp.path() + "/nope"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("not a sweep directory"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace claimsweep::testing
