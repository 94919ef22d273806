// `sweep submit DIR --jobs N [--array] [--dry-run] [--stage S]`: identical
// Slurm jobs that each run `trial` (with --stage: claiming only that stage's
// items, with its resources). slurm/jobs.tsv gets a line per submission:
// id, time, "job" or "array of N", and the stage when there is one.
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>

#include "core/env.h"
#include "core/layout.h"
#include "core/slurm.h"
#include "core/spec.h"
#include "core/stage_scan.h"
#include "core/subprocess.h"
#include "core/sweep_points.h"
#include "core/terminal_text.h"
#include "core/token.h"
#include "sweep/commands.h"

namespace claimsweep {
namespace {

// The `trial` installed beside this `sweep`: jobs run the build they were
// submitted with, whatever PATH says on the compute node.
std::string TrialBesideMe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string self(buf, static_cast<size_t>(n));
  return self.substr(0, self.rfind('/')) + "/trial";
}

std::string Absolute(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return "";
  return buf;
}

}  // namespace

int CmdSubmit(const std::string& dir_arg, int jobs, bool array, bool dry_run,
              const std::string& trial_arg, const std::string& stage) {
  const std::string dir = Absolute(dir_arg);
  if (dir.empty())
    return UsageError(dir_arg + ": no such sweep directory (create it with `sweep init SPEC DIR`)");
  std::unique_ptr<Env> sweep_env = NewSweepEnv(dir);
  Env* env = sweep_env.get();
  // The latest version's resources (`sweep extend` may change them).
  auto points = ReadSweepPoints(env, dir);
  if (!points.ok()) return UsageError(points.status().message());
  const SweepSpec* spec = &points->spec();
  if (!stage.empty() && stage != kTrialsStageName && FindStage(*spec, stage) == nullptr) {
    return UsageError("--stage " + stage +
                      ": the sweep has no such stage (stages: " + StageNamesText(*spec) + ")");
  }
  if (jobs < 1) return UsageError("--jobs must be at least 1");
  const std::string trial = Absolute(trial_arg.empty() ? TrialBesideMe() : trial_arg);
  if (trial.empty() || ::access(trial.c_str(), X_OK) != 0) {
    return UsageError("cannot find an executable `trial` at " +
                      (trial_arg.empty() ? TrialBesideMe() : trial_arg) + "; pass --trial PATH");
  }
  auto js = RenderJobScript(*spec, dir, trial, array ? static_cast<uint64_t>(jobs) : 0, stage);
  if (!js.ok()) return UsageError(dir + "/" + kSpecFileName + ": " + js.status().message());

  std::string command;
  for (const auto& a : js->sbatch_argv) command += (command.empty() ? "" : " ") + ShellQuote(a);
  if (dry_run) {
    std::printf("# %s < job script%s\n%s", command.c_str(),
                array ? "" : (" (" + std::to_string(jobs) + " times)").c_str(), js->script.c_str());
    return 0;
  }
  SweepLayout layout(dir);
  Status s = env->CreateDir(layout.slurm_dir());
  if (s.ok()) s = env->WriteFileAtomic(layout.job_script_path(stage), js->script);
  if (!s.ok()) return Failure(s.ToString());
  const int calls = array ? 1 : jobs;
  int submitted = 0;
  for (int k = 0; k < calls; ++k) {
    std::string out, err;
    int code = 0;
    s = RunProgram(js->sbatch_argv, js->script, 60, &out, &err, &code);
    if (s.ok() && code != 0)
      s = Status::IOError("sbatch exited " + std::to_string(code) + ": " + err);
    if (!s.ok()) {
      std::fprintf(stderr, "sweep: %s\n", s.ToString().c_str());
      std::fprintf(stderr, "sweep: %d of %d submissions made; their ids are in %s/jobs.tsv\n",
                   submitted, calls, layout.slurm_dir().c_str());
      return 1;
    }
    std::string id = out.substr(0, out.find_first_of(";\n"));  // --parsable: "id" or "id;cluster"
    Status listed = env->AppendFile(layout.jobs_list_path(),
                                    id + "\t" + NowIso8601() + "\t" +
                                        (array ? "array of " + std::to_string(jobs) : "job") +
                                        (stage.empty() ? "" : "\t" + stage) + "\n");
    // The job is queued either way; only `sweep status`'s list of jobs misses it.
    if (!listed.ok())
      std::fprintf(stderr, "sweep: warning: job %s is submitted but not listed: %s\n", id.c_str(),
                   listed.ToString().c_str());
    std::printf("submitted %s %s\n", array ? "array job" : "job", id.c_str());
    ++submitted;
  }
  std::printf("%d %s of sweep '%s'%s; output in %s; `sweep status %s%s` shows progress\n", jobs,
              jobs == 1 ? "job" : "jobs", TerminalSafe(spec->name()).c_str(),
              stage.empty() ? "" : (", stage " + stage).c_str(), layout.slurm_dir().c_str(),
              dir_arg.c_str(), stage.empty() ? "" : (" --stage " + stage).c_str());
  return 0;
}

}  // namespace claimsweep
