// TrialRunner: the body of `trial`. Claims trials one after another (up to
// claim.trials_per_job), runs each, and records how it ended. With derived
// stages (spec `stage`), it serves every stage's queue too: ready items of
// the downstream-most stage first, then the sweep's points; SWEEP_STAGE=S
// (`sweep submit --stage S`) serves that queue alone.
#pragma once

#include <google/protobuf/struct.pb.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/claim.h"
#include "core/derived.h"
#include "core/exit_codes.h"
#include "core/rungs.h"
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
  // One work queue: the sweep's points (stage null), or a stage's items.
  struct Queue {
    const StageInfo* stage = nullptr;
    // Early stopping: the rung of the points queue (0) or of stages/rung-<k>.
    uint32_t rung = 0;
    SweepLayout layout{""};
    std::unique_ptr<Claimer> claimer;
    std::string name() const {
      return stage ? stage->name : rung ? RungStageName(rung) : kTrialsStageName;
    }
    // The point an item of this queue is of (its own index for trials).
    uint64_t Config(uint64_t index) const { return stage || rung ? ItemUpstream(index) : index; }
    // "trial 000003", "eval 000003-0002".
    std::string Work(uint64_t index) const;
    // "000003", "eval 000003-0002", "000003 rung 1": for lists of held work.
    std::string Held(uint64_t index) const;
  };
  // The queues this process serves, downstream-most first; false (logged)
  // when SWEEP_STAGE names no stage.
  bool MakeQueues();
  // Idle: recovers lost announcements (once per process) and lost gate
  // wakeups. True when that made work claimable.
  bool RepairStages();
  // Some queue that feeds a stage has open work held by live owners: their
  // commits will announce more (so an idle worker waits instead of leaving).
  bool UpstreamHeld() const;
  // Early stopping, after config `c`'s work at `q`'s rung ended for good
  // (committed or failed, record `r`): publishes its score; SHA promotes.
  void RungEnded(const Queue& q, uint64_t index, const TrialResult& r);
  // The point whose values an item of `q` runs with (after_all: none).
  Point PointOf(const Queue& q, uint64_t index) const;
  // Whether `sweep extend` published a newer version: loads it (every
  // queue's claimer learns the new points). For the gates.
  bool RefreshPoints(uint64_t* num_points, uint32_t* version);
  // After `q`'s item `index` committed: the gate steps of the after_all
  // stages it feeds.
  void AfterCommit(const Queue& q, uint64_t index);
  // {inputs} of an after_all item: writes its work/inputs.txt (the input's
  // directories, one per line, in index order) and returns its path.
  Status WriteInputs(const Queue& q, uint64_t index, std::string* path);
  Outcome RunOne(Queue* q, const Claim& claim);
  // PermissionDenied unless `dir` is a directory and not a symlink (lstat).
  Status CheckPlainDir(const std::string& dir);
  // For LeaseKeeper: true once trials/<i>/stop exists.
  std::function<bool()> StopCheck(const Queue& q, const Claim& claim);
  // The attempt, its messages also in `log`: handed back untouched if a
  // signal or a stop came while claiming, else the command or train task.
  AttemptEnd RunAttempt(Queue* q, const Claim& claim, const Point& pt, const AttemptLog& log);
  AttemptEnd RunCommandAttempt(Queue* q, const Claim& claim, const Point& pt,
                               const AttemptLog& log);
  AttemptEnd RunTrainAttempt(Queue* q, const Claim& claim, const Point& pt, const AttemptLog& log);
  AttemptEnd RunEvalAttempt(Queue* q, const Claim& claim, const AttemptLog& log);
  // The checkpoint an eval item evaluates: each_checkpoint, its kept epoch;
  // each_trial, the trial's last epoch-end checkpoint.
  Status EvalCheckpoint(const Queue& q, uint64_t index, std::string* path);
  Outcome Record(Queue* q, const Claim& claim, const Point& pt, const std::string& started_at,
                 AttemptEnd end);

  Env* env_;
  SweepLayout layout_;
  SweepSpec spec_;
  SweepPoints points_;
  // Loads spec versions `sweep extend` published since; true if new points
  // appeared (the claimer may claim them now).
  bool PickUpNewPoints();
  StageGraph graph_;
  std::vector<Queue> queues_;
  // One gate per after_all stage, in graph_ order.
  std::vector<std::pair<const StageInfo*, std::unique_ptr<Gate>>> gates_;
  bool reconciled_ = false;
  // Early stopping's rungs (spec early_stopping); null without.
  std::unique_ptr<Rungs> rungs_;
  // The longest this process's trials took to reach their first checkpoint.
  double needed_s_ = 0;
};

}  // namespace claimsweep
