// A command-task sweep in a temp directory, driven through the real `sweep`
// and `trial` binaries (SWEEP_BIN and TRIAL_BIN, defined by the test target).
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/json.h"
#include "core/layout.h"
#include "process_util.h"
#include "records.pb.h"
#include "test_util.h"

namespace claimsweep::testing {

struct ProcSweep {
  TempDir tmp;
  std::string dir = tmp.path() + "/sweep";
  SweepLayout layout{dir};

  explicit ProcSweep(const std::string& spec) {
    ::umask(022);
    std::ofstream(tmp.path() + "/spec.textproto") << spec;
    RunResult r = RunProcess({SWEEP_BIN, "init", tmp.path() + "/spec.textproto", dir});
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  Spawned StartTrial(const std::string& name, std::vector<std::string> env = {}) {
    env.push_back("SWEEP_DIR=" + dir);
    return Spawn({TRIAL_BIN}, env, tmp.path(), tmp.path() + "/" + name + ".out");
  }
  RunResult RunTrial() { return RunProcess({TRIAL_BIN}, {"SWEEP_DIR=" + dir}, tmp.path()); }
  // `sweep ARGS...`
  RunResult Sweep(std::vector<std::string> args) {
    args.insert(args.begin(), SWEEP_BIN);
    return RunProcess(args);
  }
  TrialResult Result(uint64_t i) {
    TrialResult r;
    std::string text = ReadAll(layout.result_path(i));
    EXPECT_TRUE(ParseJson(text, layout.result_path(i), &r).ok()) << "trial " << i << ": " << text;
    return r;
  }
  bool AttemptExists(uint64_t i, uint32_t k) {
    return Env::Default()->Exists(layout.attempt_dir(i, k));
  }
  // Names in `d`, sorted.
  std::vector<std::string> List(const std::string& d) {
    std::vector<std::string> n;
    Env::Default()->ListDir(d, &n).IgnoreError();  // none: empty
    std::sort(n.begin(), n.end());
    return n;
  }
};

// A sweep of x = 0..points-1 whose command is `sh -c CMD`.
inline std::string Spec(const std::string& points, const std::string& cmd,
                        const std::string& claim) {
  return "name: \"t\"\ngrid { param { name: \"x\" range { start: 0 stop: " + points +
         " step: 1 } } }\ncommand { argv: \"sh\" argv: \"-c\" argv: \"" + cmd + "\" }\nclaim { " +
         claim + " }\n";
}

}  // namespace claimsweep::testing
