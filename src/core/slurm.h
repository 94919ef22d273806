// Talking to Slurm: the job script `sweep submit` renders, and the few facts
// `trial` and `sweep status` ask of Slurm (when the job ends, which jobs are
// still alive, requeue). Every Slurm command runs without a shell, from PATH,
// with a timeout; if Slurm cannot be asked, callers fall back to leases.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "spec.pb.h"

namespace claimsweep {

// Checks spec.resources for values that would not survive an #SBATCH line
// (newlines, control characters, spaces where Slurm does not take them).
// Each error names the field; the caller adds the file:line.
Status ValidateResources(const Resources& r);

// 'text' for bash: single quotes, with ' written as '\''. Safe for any bytes
// but NUL.
std::string ShellQuote(const std::string& text);

struct JobScript {
  std::string script;                    // the batch script (stdin of sbatch)
  std::vector<std::string> sbatch_argv;  // sbatch and its options, paths among them
};

// The job script for a sweep: #SBATCH lines from spec.resources, then
// `export SWEEP_DIR=<dir>` and `exec <trial>` (or `exec srun ... <trial>` with
// trial_per_gpu). `sweep_dir` and `trial` must be absolute. Parameter values
// never appear in it: `trial` reads them from the sweep directory. With
// `array_size` > 0 the job is an array of that many tasks.
// With `stage` non-empty (`sweep submit --stage S`): the stage's own
// resources merged over the sweep's (StageResources), the job named
// <sweep>-<stage>, and `export SWEEP_STAGE=<stage>` beside SWEEP_DIR, so that
// its `trial` claims only that stage's items. A stage the spec lacks is
// InvalidArgument, naming the stages.
Result<JobScript> RenderJobScript(const SweepSpec& spec, const std::string& sweep_dir,
                                  const std::string& trial, uint64_t array_size,
                                  const std::string& stage = "");

// The resources a stage's jobs ask for: every field the stage sets (a
// non-default value) wins over the sweep's; extra_sbatch, when the stage has
// any, replaces the sweep's list whole.
Resources StageResources(const Resources& sweep, const Resources& stage);

// "2026-11-23T12:34:56" (Slurm's format, this machine's local time) to Unix
// seconds; -1 for N/A, Unknown, NONE or anything unparsable.
int64_t ParseSlurmTime(const std::string& text);

// When the job ends, in Unix seconds: SLURM_JOB_END_TIME if Slurm set it,
// else `squeue -j ID -o %e`. 0 if it cannot be learned.
int64_t JobEndTime(const std::string& job_id);

// Job ids that Slurm lists as pending, running, suspended or completing
// (squeue's default states), for this user. An error means "unknown": the
// caller must not conclude that any job is gone.
Status ListLiveJobs(std::set<std::string>* ids);

// `scontrol requeue ID`.
Status RequeueJob(const std::string& job_id);

// Whether Slurm no longer knows a job: squeue, cached for a few seconds. A job
// missing from a cached listing is asked about again with a fresh one (it may
// have started after the listing). Any doubt (squeue fails) answers "alive".
// `say` gets one line for the user when squeue fails or a job is found gone.
// Not thread-safe; `trial` keeps one for its Claimer.
class SlurmJobWatch {
 public:
  explicit SlurmJobWatch(std::function<void(const std::string&)> say) : say_(std::move(say)) {}
  bool Gone(const std::string& job_id);

 private:
  std::function<void(const std::string&)> say_;
  std::set<std::string> jobs_;
  bool listed_ = false;
  std::chrono::steady_clock::time_point listed_at_;
};

}  // namespace claimsweep
