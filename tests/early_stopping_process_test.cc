// A sweep with early_stopping through the real binaries: `sweep validate`
// describes the rungs, `sweep init` freezes it as format 4, `sweep extend`
// refuses new points for SHA, and `trial` refuses the sweep (promotions are
// not run yet) instead of training every point to max_epochs.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "proc_sweep.h"

namespace claimsweep::testing {
namespace {

std::string EarlyStoppingSpec(const std::string& xs, bool synchronous) {
  return "name: \"es\"\ngrid { param { name: \"x\" values: " + xs +
         " } }\ncommand { argv: \"sh\" argv: \"-c\" argv: \"echo {x} >> {sweep_dir}/ran.log\" "
         "}\nearly_stopping { asha { metric: \"loss\" min_epochs: 1 max_epochs: 9 reduction: 3 " +
         (synchronous ? "synchronous: true " : "") + "} }\n";
}

TEST(EarlyStoppingProcess, ValidateDescribesTheRungsAndTrialRefusesTheSweep) {
  ProcSweep s(EarlyStoppingSpec("\"1\" values: \"2\"", false));
  RunResult v = s.Sweep({"validate", s.tmp.path() + "/spec.textproto"});
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_NE(v.output.find(": ok, 2 points\n  early stopping: ASHA on loss (minimize), rungs 1, "
                          "3, 9 epochs, reduction 3\n"),
            std::string::npos)
      << v.output;
  EXPECT_NE(ReadAll(s.layout.spec_path()).find("format_version: 4"), std::string::npos);

  RunResult r = s.RunTrial();
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("early_stopping is not run by this claimsweep yet"), std::string::npos)
      << r.output;
  // Nothing was claimed or run.
  EXPECT_TRUE(s.List(s.layout.trials_dir()).empty());
  EXPECT_FALSE(Env::Default()->Exists(s.dir + "/ran.log"));
}

TEST(EarlyStoppingProcess, ExtendRefusesNewPointsForSHA) {
  ProcSweep s(EarlyStoppingSpec("\"1\" values: \"2\"", true));
  const std::string next = s.tmp.path() + "/next.textproto";
  std::ofstream(next) << EarlyStoppingSpec("\"1\" values: \"2\" values: \"3\"", true);
  RunResult r = s.Sweep({"extend", s.dir, next});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("synchronous early stopping (SHA)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("nothing was changed"), std::string::npos) << r.output;
  EXPECT_TRUE(s.List(s.dir + "/versions").empty());
}

}  // namespace
}  // namespace claimsweep::testing
