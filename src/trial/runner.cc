#include "trial/runner.h"

#include <sys/stat.h>

#include <cstdio>

#include "core/json.h"
#include "core/metrics_csv.h"
#include "core/template.h"
#include "core/token.h"
#include "records.pb.h"
#include "trial/command_task.h"
#include "trial/lease_keeper.h"
#include "trial/signals.h"

namespace claimsweep {
namespace {

constexpr uint32_t kRecordVersion = 1;

void Say(const std::string& msg) {
  std::fprintf(stderr, "trial: %s\n", msg.c_str());
  std::fflush(stderr);
}

std::string GetEnv(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

TrialRunner::TrialRunner(Env* env, std::string sweep_dir, SweepSpec spec, PointSpace points)
    : env_(env), layout_(std::move(sweep_dir)), spec_(std::move(spec)), points_(std::move(points)) {}

int TrialRunner::Run() {
  InstallSignalForwarding();
  const PointSpace& points = points_;
  Claimer claimer(env_, layout_, spec_.claim(), points_.size(), ProcessToken(), [&points](uint64_t i) {
    PointRecord rec;
    rec.set_format_version(kRecordVersion);
    rec.set_index(i);
    for (const auto& [k, v] : points.At(i).values) (*rec.mutable_params())[k] = v;
    return ToJson(rec);
  });
  const uint32_t per_job = spec_.claim().trials_per_job();
  uint32_t ran = 0;
  bool any_failed = false;
  while (per_job == 0 || ran < per_job) {
    if (ReceivedSignal() != 0) {
      Say("received signal " + std::to_string(ReceivedSignal()) + "; claiming nothing more");
      break;
    }
    Claim claim;
    Status s = claimer.ClaimNext(&claim);
    if (s.IsNotFound()) {
      Say(std::string(ran == 0 ? "nothing to claim" : "no more work") + " in " + layout_.root() +
          ": every point is claimed and no trial is interrupted or stale");
      break;
    }
    if (!s.ok()) {
      Say("cannot claim: " + s.ToString());
      return kExitFailed;
    }
    ++ran;
    Outcome o = RunOne(&claimer, claim);
    if (o == Outcome::kInterrupted) return kExitInterrupted;
    if (o == Outcome::kFailed || o == Outcome::kLost) any_failed = true;
  }
  return any_failed ? kExitFailed : kExitOk;
}

TrialRunner::Outcome TrialRunner::RunOne(Claimer* claimer, const Claim& claim) {
  const Point pt = points_.At(claim.index);
  const std::string trial_dir = layout_.trial_dir(claim.index);
  const std::string started_at = NowIso8601();
  Say("claimed trial " + TrialName(claim.index) + " attempt " + std::to_string(claim.attempt) +
      (claim.previous == TrialState::kPending ? "" : std::string(" (was ") + TrialStateName(claim.previous) + ")"));

  // The trial directory was published by our own rename, but make sure no
  // one swapped a symlink in before we run a command inside it.
  FileInfo info;
  Status s = env_->Stat(trial_dir, &info);
  if (s.ok() && (info.is_symlink || !info.is_dir)) {
    s = Status::PermissionDenied(trial_dir + " is not a plain directory");
  }

  std::map<std::string, std::string> values = pt.AsMap();
  values["trial_dir"] = trial_dir;
  values["sweep_dir"] = layout_.root();
  values["index"] = std::to_string(claim.index);
  values["attempt"] = std::to_string(claim.attempt);
  CommandRequest req;
  req.cwd = trial_dir;
  req.log_path = layout_.log_path(claim.index, claim.attempt);
  for (int i = 0; s.ok() && i < spec_.command().argv_size(); ++i) {
    std::string arg;
    s = Substitute(spec_.command().argv(i), values, &arg);
    req.argv.push_back(arg);
  }
  for (const auto& [k, v] : pt.values) req.extra_env.push_back("SWEEP_PARAM_" + k + "=" + v);
  req.extra_env.push_back("SWEEP_TRIAL_DIR=" + trial_dir);
  req.extra_env.push_back("SWEEP_DIR=" + layout_.root());
  req.extra_env.push_back("SWEEP_INDEX=" + values["index"]);
  req.extra_env.push_back("SWEEP_ATTEMPT=" + values["attempt"]);
  for (const auto& [k, v] : spec_.command().env()) {
    std::string val;
    if (s.ok()) s = Substitute(v, values, &val);
    req.extra_env.push_back(k + "=" + val);
  }
  if (!s.ok()) {
    Say("trial " + TrialName(claim.index) + ": " + s.ToString());
    return Record(claimer, claim, pt, 127, 0, 0, started_at, false, "");
  }

  if (ReceivedSignal() != 0) {
    // Slurm's warning came while we were claiming: hand the trial back untouched.
    return Record(claimer, claim, pt, kExitInterrupted, 0, 0, started_at, false, "");
  }
  env_->AppendFile(req.log_path, "# claimsweep: trial " + TrialName(claim.index) + " attempt " +
                                     std::to_string(claim.attempt) + " on " + HostName() + " at " + started_at +
                                     (GetEnv("SLURM_JOB_ID").empty() ? "" : " job " + GetEnv("SLURM_JOB_ID")) + "\n");
  CommandOutcome out;
  {
    LeaseKeeper keeper(claimer, claim, spec_.claim().heartbeat_seconds());
    s = RunCommand(req, keeper.lost(), /*kill_grace_s=*/10, &out);
    if (keeper.lost()) return Record(claimer, claim, pt, -1, 0, out.seconds, started_at, true, keeper.lost_reason());
  }
  if (!s.ok()) {
    Say("trial " + TrialName(claim.index) + ": " + s.ToString());
    return Record(claimer, claim, pt, 127, 0, 0, started_at, false, "");
  }
  return Record(claimer, claim, pt, out.exit_code, out.term_signal, out.seconds, started_at, false, "");
}

TrialRunner::Outcome TrialRunner::Record(Claimer* claimer, const Claim& claim, const Point& pt, int exit_code,
                                         int term_signal, double seconds, const std::string& started_at, bool lost,
                                         const std::string& lost_reason) {
  const std::string name = "trial " + TrialName(claim.index) + " attempt " + std::to_string(claim.attempt);
  if (lost) {
    // Fencing: someone else owns the trial now; write nothing it would read.
    Say(name + ": lost the claim, wrote nothing: " + lost_reason);
    return Outcome::kLost;
  }
  TrialResult r;
  r.set_format_version(kRecordVersion);
  r.set_index(claim.index);
  r.set_attempt(claim.attempt);
  r.set_exit_code(term_signal ? -1 : exit_code);
  r.set_term_signal(term_signal);
  r.set_duration_seconds(seconds);
  r.set_host(HostName());
  r.set_slurm_job_id(GetEnv("SLURM_JOB_ID"));
  r.set_started_at(started_at);
  r.set_finished_at(NowIso8601());
  for (const auto& [k, v] : pt.values) (*r.mutable_params())[k] = v;
  Status ms = ReadLastMetricsRow(env_, layout_.trial_dir(claim.index) + "/metrics.csv", r.mutable_metrics());
  if (!ms.ok() && !ms.IsNotFound()) Say(name + ": warning: " + ms.ToString());

  const int sig = ReceivedSignal();
  const bool interrupted = exit_code == kExitInterrupted || (sig != 0 && exit_code != 0);
  Status s;
  Outcome outcome;
  if (!interrupted && exit_code == 0 && term_signal == 0) {
    r.set_outcome("done");
    s = claimer->Commit(claim, ToJson(r));
    outcome = Outcome::kDone;
    if (s.ok()) Say(name + ": done in " + std::to_string(seconds) + " s");
  } else if (interrupted) {
    r.set_outcome("interrupted");
    r.set_message(sig ? "received signal " + std::to_string(sig) : "the command exited 75 (EX_TEMPFAIL)");
    s = claimer->Release(claim, ToJson(r));
    outcome = Outcome::kInterrupted;
    if (s.ok()) Say(name + ": released as interrupted (" + r.message() + "); exit 75 so the job can be requeued");
  } else {
    r.set_outcome("failed");
    r.set_message(term_signal ? "killed by signal " + std::to_string(term_signal)
                              : "exited with status " + std::to_string(exit_code));
    bool final = false;
    s = claimer->Fail(claim, ToJson(r), &final);
    outcome = Outcome::kFailed;
    if (s.ok()) {
      Say(name + ": failed (" + r.message() + "); " +
          (final ? "no attempts left, the trial is failed" : "it will be retried by a later claim") +
          "; log: " + layout_.log_path(claim.index, claim.attempt));
    }
  }
  if (s.IsSuperseded()) {
    Say(name + ": lost the claim, wrote nothing: " + s.message());
    return Outcome::kLost;
  }
  if (s.IsAlreadyExists()) {
    Say(name + ": another attempt committed this trial first; keeping its result");
    return Outcome::kLost;
  }
  if (!s.ok()) {
    Say(name + ": could not record the outcome: " + s.ToString());
    return Outcome::kFailed;
  }
  return outcome;
}

}  // namespace claimsweep
