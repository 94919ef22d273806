// trial: claim the next point of the sweep and run it. No arguments: the sweep
// comes from $SWEEP_DIR or the current directory (see --help).
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>

#include "core/find_sweep.h"
#include "core/security.h"
#include "core/spec.h"
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
  if (argc > 1) {
    if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
      std::fputs(kHelp, stdout);
      return kExitOk;
    }
    if (!std::strcmp(argv[1], "--version")) {
      std::printf("trial (claimsweep) %s\n", CLAIMSWEEP_VERSION);
      return kExitOk;
    }
    std::fprintf(stderr, "trial: takes no arguments (got '%s'); see trial --help\n", argv[1]);
    return kExitUsage;
  }
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof cwd)) cwd[0] = 0;
  auto dir = FindSweepDir(Env::Default(), std::getenv("SWEEP_DIR"), cwd);
  if (!dir.ok()) {
    std::fprintf(stderr, "trial: %s\n", dir.status().message().c_str());
    return kExitUsage;
  }
  // Everything below the sweep through one Env that follows no link in it.
  std::unique_ptr<Env> sweep_env = NewSweepEnv(*dir);
  Env* env = sweep_env.get();
  auto spec = ReadFrozenSpec(env, *dir);
  if (!spec.ok()) {
    std::fprintf(stderr, "trial: %s\n", spec.status().message().c_str());
    return kExitUsage;
  }
  Status s = CheckSweepSafety(env, SweepLayout(*dir), spec->security().allow_shared(), ::geteuid());
  if (!s.ok()) {
    std::fprintf(stderr, "trial: refusing to run: %s\n", s.message().c_str());
    return kExitUsage;
  }
  auto points = PointSpace::Create(*spec);
  if (!points.ok()) {
    std::fprintf(stderr, "trial: %s\n", points.status().message().c_str());
    return kExitUsage;
  }
  TrialRunner runner(env, *dir, *spec, std::move(*points));
  return runner.Run();
}
