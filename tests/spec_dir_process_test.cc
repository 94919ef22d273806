// {spec_dir}, SWEEP_SPEC_DIR and a relative argv[0]: a command names its own
// script beside the spec, and runs it from a sweep anywhere else.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "core/env.h"
#include "core/layout.h"
#include "process_util.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

TEST(SpecDir, AScriptBesideTheSpecRunsFromASweepElsewhere) {
  TempDir tmp;
  const std::string project = tmp.path() + "/project";
  ASSERT_OK(Env::Default()->CreateDirs(project + "/scripts"));
  // ./run.sh reports where it was found from; scripts/helper.sh proves a
  // relative path below the spec's directory works as well.
  WriteRaw(project + "/run.sh",
           "#!/bin/sh\necho \"spec_dir=$1 env=$SWEEP_SPEC_DIR x=$2\" > "
           "\"$SWEEP_DIR/ran.$SWEEP_INDEX\"\n");
  WriteRaw(project + "/scripts/helper.sh", "#!/bin/sh\necho helper >> \"$SWEEP_DIR/helper\"\n");
  ASSERT_EQ(::chmod((project + "/run.sh").c_str(), 0755), 0);
  ASSERT_EQ(::chmod((project + "/scripts/helper.sh").c_str(), 0755), 0);
  WriteRaw(project + "/spec.textproto",
           "name: \"t\"\ngrid { param { name: \"x\" values: \"a\" values: \"b\" } }\n"
           "command { argv: \"./run.sh\" argv: \"{spec_dir}\" argv: \"{x}\" }\nclaim { "
           "trials_per_job: 0 }\n");
  WriteRaw(project + "/helper.textproto",
           "name: \"h\"\ngrid { param { name: \"x\" values: \"a\" } }\ncommand { argv: "
           "\"scripts/helper.sh\" }\n");
  ASSERT_OK(Env::Default()->CreateDirs(tmp.path() + "/elsewhere"));
  // The spec is named relative to the working directory; spec_dir is frozen absolute.
  const std::string sweep = tmp.path() + "/elsewhere/sweep";
  RunResult init = RunProcess({SWEEP_BIN, "init", "project/spec.textproto", sweep}, {}, tmp.path());
  ASSERT_EQ(init.exit_code, 0) << init.output;
  EXPECT_NE(ReadAll(sweep + "/sweep.textproto").find("spec_dir: \"" + project + "\""),
            std::string::npos)
      << ReadAll(sweep + "/sweep.textproto");

  RunResult t = RunProcess({TRIAL_BIN}, {"SWEEP_DIR=" + sweep}, tmp.path() + "/elsewhere");
  ASSERT_EQ(t.exit_code, 0) << t.output;
  EXPECT_EQ(ReadAll(sweep + "/ran.0"), "spec_dir=" + project + " env=" + project + " x=a\n");
  EXPECT_EQ(ReadAll(sweep + "/ran.1"), "spec_dir=" + project + " env=" + project + " x=b\n");

  const std::string other = tmp.path() + "/elsewhere/other";
  ASSERT_EQ(RunProcess({SWEEP_BIN, "init", project + "/helper.textproto", other}).exit_code, 0);
  RunResult h = RunProcess({TRIAL_BIN}, {"SWEEP_DIR=" + other}, "/");
  ASSERT_EQ(h.exit_code, 0) << h.output;
  EXPECT_EQ(ReadAll(other + "/helper"), "helper\n");
}

// Re-running `sweep init` is a no-op when only the spec's directory differs
// (a copy of the spec elsewhere, or a sweep frozen before spec_dir existed).
TEST(SpecDir, InitAgainFromAnotherDirectoryKeepsTheFrozenSpecDir) {
  TempDir tmp;
  const std::string text =
      "name: \"t\"\ngrid { param { name: \"x\" values: \"a\" } }\ncommand { argv: \"true\" }\n";
  ASSERT_OK(Env::Default()->CreateDirs(tmp.path() + "/a"));
  ASSERT_OK(Env::Default()->CreateDirs(tmp.path() + "/b"));
  WriteRaw(tmp.path() + "/a/spec.textproto", text);
  WriteRaw(tmp.path() + "/b/spec.textproto", text);
  const std::string sweep = tmp.path() + "/s";
  ASSERT_EQ(RunProcess({SWEEP_BIN, "init", tmp.path() + "/a/spec.textproto", sweep}).exit_code, 0);
  const std::string frozen = ReadAll(sweep + "/sweep.textproto");
  RunResult again = RunProcess({SWEEP_BIN, "init", tmp.path() + "/b/spec.textproto", sweep});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("already holds this sweep: 1 points (its spec_dir stays '" +
                              tmp.path() + "/a')"),
            std::string::npos)
      << again.output;
  EXPECT_EQ(ReadAll(sweep + "/sweep.textproto"), frozen);
  // A sweep frozen before spec_dir existed (format_version 1: no digest).
  std::string old = frozen;
  const size_t at = old.find("spec_dir:");
  ASSERT_NE(at, std::string::npos);
  old.erase(at, old.find('\n', at) + 1 - at);
  const size_t v = old.find("format_version: 3");
  ASSERT_NE(v, std::string::npos);
  old.replace(v, 17, "format_version: 1");
  WriteRaw(sweep + "/sweep.textproto", old);
  ASSERT_EQ(::unlink((sweep + "/sweep.sha256").c_str()), 0);
  RunResult legacy = RunProcess({SWEEP_BIN, "init", tmp.path() + "/a/spec.textproto", sweep});
  EXPECT_EQ(legacy.exit_code, 0) << legacy.output;
  EXPECT_EQ(ReadAll(sweep + "/sweep.textproto"), old);
}

// The commonest first call: `sweep init spec.textproto DIR` from the spec's
// own directory (the spec's path has no directory part).
TEST(SpecDir, InitOfABareSpecFileNameUsesTheWorkingDirectory) {
  TempDir tmp;
  WriteRaw(
      tmp.path() + "/spec.textproto",
      "name: \"t\"\ngrid { param { name: \"x\" values: \"a\" } }\ncommand { argv: \"true\" }\n");
  RunResult r = RunProcess({SWEEP_BIN, "init", "spec.textproto", "s"}, {}, tmp.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(ReadAll(tmp.path() + "/s/sweep.textproto").find("spec_dir: \"" + tmp.path() + "\""),
            std::string::npos)
      << ReadAll(tmp.path() + "/s/sweep.textproto");
  EXPECT_EQ(RunProcess({SWEEP_BIN, "validate", "spec.textproto"}, {}, tmp.path()).exit_code, 0);
}

TEST(SpecDir, ABareCommandNameIsStillLookedUpInPath) {
  TempDir tmp;
  // A file named like the command beside the spec must not be picked.
  WriteRaw(tmp.path() + "/sh", "#!/bin/false\n");
  ASSERT_EQ(::chmod((tmp.path() + "/sh").c_str(), 0755), 0);
  WriteRaw(tmp.path() + "/spec.textproto",
           "name: \"t\"\ngrid { param { name: \"x\" values: \"a\" } }\n"
           "command { argv: \"sh\" argv: \"-c\" argv: \"echo ok > $SWEEP_DIR/out\" }\n");
  const std::string sweep = tmp.path() + "/s";
  ASSERT_EQ(RunProcess({SWEEP_BIN, "init", tmp.path() + "/spec.textproto", sweep}).exit_code, 0);
  RunResult t = RunProcess({TRIAL_BIN}, {"SWEEP_DIR=" + sweep}, tmp.path());
  ASSERT_EQ(t.exit_code, 0) << t.output;
  EXPECT_EQ(ReadAll(sweep + "/out"), "ok\n");
}

}  // namespace
}  // namespace claimsweep::testing
