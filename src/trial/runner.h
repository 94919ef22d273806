// TrialRunner: the body of `trial`. Claims trials one after another (up to
// claim.trials_per_job), runs each, and records how it ended.
#pragma once

#include <google/protobuf/struct.pb.h>

#include <functional>
#include <string>

#include "core/claim.h"
#include "core/exit_codes.h"
#include "core/sweep_points.h"
#include "spec.pb.h"

namespace claimsweep {

class AttemptLog;

class TrialRunner {
 public:
  // The spec is the latest version `points` loaded (its task is every
  // version's); its claim settings hold for this process's life.
  TrialRunner(Env* env, std::string sweep_dir, SweepPoints points);
  // Returns the process exit code.
  int Run();

 private:
  // kStopped: `sweep stop` (trials/<i>/stop); released, and this process goes on.
  enum class Outcome { kDone, kInterrupted, kFailed, kLost, kStopped };
  // How one attempt ended, whatever the task.
  struct AttemptEnd {
    Outcome kind = Outcome::kFailed;
    int exit_code = 0;
    int term_signal = 0;
    double seconds = 0;
    std::string message;
    google::protobuf::Struct metrics;  // merged over metrics.csv's last row
    double first_checkpoint_s = -1;    // train task: attempt start to first checkpoint
    bool retryable = true;    // false: deterministic failure (diverged), the trial fails at once
    std::string config_json;  // train task: the effective config (TrainConfigJson)
  };
  // After an interrupted trial: `scontrol requeue` this job if the spec asks
  // for it and max_attempts allows another run.
  void MaybeRequeue(const std::string& job);
  Outcome RunOne(Claimer* claimer, const Claim& claim);
  // PermissionDenied unless `dir` is a directory and not a symlink (lstat).
  Status CheckPlainDir(const std::string& dir);
  // For LeaseKeeper: true once trials/<i>/stop exists.
  std::function<bool()> StopCheck(const Claim& claim);
  // The attempt, its messages also in `log`: handed back untouched if a
  // signal or a stop came while claiming, else the command or train task.
  AttemptEnd RunAttempt(Claimer* claimer, const Claim& claim, const Point& pt,
                        const AttemptLog& log);
  AttemptEnd RunCommandAttempt(Claimer* claimer, const Claim& claim, const Point& pt,
                               const AttemptLog& log);
  AttemptEnd RunTrainAttempt(Claimer* claimer, const Claim& claim, const Point& pt,
                             const AttemptLog& log);
  Outcome Record(Claimer* claimer, const Claim& claim, const Point& pt,
                 const std::string& started_at, AttemptEnd end);

  Env* env_;
  SweepLayout layout_;
  SweepSpec spec_;
  SweepPoints points_;
  // Loads spec versions `sweep extend` published since; true if new points
  // appeared (the claimer may claim them now).
  bool PickUpNewPoints(Claimer* claimer);
  // The longest this process's trials took to reach their first checkpoint.
  double needed_s_ = 0;
};

}  // namespace claimsweep
