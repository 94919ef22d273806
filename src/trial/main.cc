// trial: claim the next point of the sweep and run it. No arguments: the sweep
// comes from $SWEEP_DIR or the current directory (see --help).
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>

#include "core/find_sweep.h"
#include "core/security.h"
#include "core/spec.h"
#include "trial/log.h"
#include "trial/runner.h"
#include "trial/signals.h"

using namespace claimsweep;

static const char* kHelp =
    "usage: trial\n"
    "\n"
    "Claims the next unclaimed point of a sweep (interrupted and stale trials\n"
    "first), runs it, and records the result in the sweep directory. Submit the\n"
    "same job running `trial` as many times as you like.\n"
    "\n"
    "The sweep is $SWEEP_DIR, else the current directory or its nearest ancestor\n"
    "holding one (created by `sweep init`).\n"
    "\n"
    "Exit status: 0 done (or nothing left to claim), 1 a trial failed,\n"
    "2 configuration error, 75 interrupted by a signal: resubmit the job and the\n"
    "trial resumes first.\n";

int main(int argc, char** argv) {
  // First of all: a walltime signal from now on is recorded, never fatal.
  InstallSignalForwarding();
  InitLogging();
  if (argc > 1) {
    if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
      std::fputs(kHelp, stdout);
      return kExitOk;
    }
    if (!std::strcmp(argv[1], "--version")) {
      std::printf("trial (claimsweep) %s\n", CLAIMSWEEP_VERSION);
      return kExitOk;
    }
    LogError(std::string("takes no arguments (got '") + argv[1] + "'); see trial --help");
    return kExitUsage;
  }
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof cwd)) cwd[0] = 0;
  auto dir = FindSweepDir(Env::Default(), std::getenv("SWEEP_DIR"), cwd);
  if (!dir.ok()) {
    LogError(dir.status().message());
    return kExitUsage;
  }
  // Everything below the sweep through one Env that follows no link in it.
  std::unique_ptr<Env> sweep_env = NewSweepEnv(*dir);
  Env* env = sweep_env.get();
  std::string spec_text;
  auto spec = ReadFrozenSpec(env, *dir, &spec_text);
  if (!spec.ok()) {
    LogError(spec.status().message());
    return kExitUsage;
  }
  Status s = CheckSweepSafety(env, SweepLayout(*dir), spec->security().allow_shared(), ::geteuid(),
                              StageNames(*spec));
  if (!s.ok()) {
    LogError("refusing to run: " + s.message());
    return kExitUsage;
  }
  auto points = SweepPoints::Load(env, SweepLayout(*dir), *spec, spec_text);
  if (!points.ok()) {
    LogError(points.status().message());
    return kExitUsage;
  }
  TrialRunner runner(env, *dir, std::move(*points));
  return runner.Run();
}
