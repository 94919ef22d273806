// The built-in train task, as `trial` sees it. This header is torch-free: the
// one translation unit that includes <torch/torch.h> is models/trainer.cc.
#pragma once

#include <google/protobuf/struct.pb.h>

#include <functional>
#include <string>

#include "core/env.h"
#include "core/status.h"
#include "spec.pb.h"

namespace claimsweep {

struct TrainRequest {
  // The filesystem the trial's files are read and written through: trial's
  // Env, confined to the sweep (no symlink inside it is followed). Null:
  // Env::Default().
  Env* env = nullptr;
  TrainTask config;  // this point's effective config (TrainTaskForPoint)
  // Where the trial's files go, from SweepLayout (core/layout.h) and
  // MetricsCsvPath (core/spec.h): the trainer builds no path of the sweep.
  std::string checkpoints_dir;
  std::string metrics_path;
  // SweepLayout::kept_dir. With config.keep_checkpoints_every N > 0, the
  // epoch-end checkpoint of every N-th epoch and of the last epoch trained
  // (epochs reached, or early stopping) is kept there (checkpoint_file.h,
  // KeepCheckpoint) before the training returns. An attempt that resumes from
  // a kept epoch's checkpoint that kept/ lacks keeps it before training on.
  std::string kept_dir;
  // Called at each kept epoch (1-based) after its checkpoint is written and
  // before it is linked into kept_dir, both only while may_write() is OK; a
  // failure fails the attempt with its status. Null: nothing.
  std::function<Status(int epoch)> before_keep;
  int threads = 0;  // intra-op threads; 0: all cores
  // Early stopping's rung budget: train only up to this epoch (1-based), then
  // finish as done, as if config.epochs were reached; 0: config.epochs. The
  // learning-rate schedule and everything else stay defined over
  // config.epochs, so the epochs trained equal those of a run to
  // config.epochs, and a later attempt with a higher until_epoch resumes the
  // checkpoint of this one and trains on.
  int until_epoch = 0;
  // True once the trial must stop at the next safe point (walltime signal).
  std::function<bool()> should_stop;
  // True once another process owns the trial: stop and write nothing.
  std::function<bool()> lost;
  // OK while we still own the trial; checked before every write another
  // attempt would read (checkpoints, metrics.csv).
  std::function<Status()> may_write;
  // The attempt's log lines (trial writes them to stderr and the attempt's
  // log, timestamped, at level info; warn: level warn, e.g. a checkpoint
  // skipped as damaged). One line each, no newline.
  std::function<void(const std::string&)> log;
  std::function<void(const std::string&)> warn;
};

struct TrainOutcome {
  // kDiverged: the training loss became non-finite; training stopped at once.
  // Deterministic (the same config diverges again), so it is not retried.
  enum class Kind { kDone, kInterrupted, kLost, kDiverged };
  Kind kind = Kind::kDone;
  std::string message;  // kDiverged: "diverged: loss became nan at epoch E step S"
  // Best and final metrics, test metrics, num_parameters, epochs, resumed_from.
  google::protobuf::Struct summary;
  // Seconds from the start of this attempt to its first checkpoint written
  // (-1 if none): how long a trial needs before walltime cannot lose it.
  double first_checkpoint_s = -1;
};

// Trains (resuming from the newest good checkpoint in checkpoints_dir).
// A non-OK status is a failed attempt: a corrupt dataset, a model error, a
// libtorch exception (its message included).
Status RunTraining(const TrainRequest& req, TrainOutcome* out);

// The built-in eval task (EvalTask): a train checkpoint evaluated on a split.
struct EvalRequest {
  Env* env = nullptr;  // null: Env::Default()
  TrainTask config;    // the checkpoint's trial's effective config: model, dataset
  std::string checkpoint_path;
  std::string split = "test";         // of config.dataset(); "" is "test"
  int threads = 0;                    // intra-op threads; 0: all cores
  std::function<bool()> should_stop;  // null: never
  std::function<void(const std::string&)> log;
  std::function<void(const std::string&)> warn;
};

// Builds config's model, loads the checkpoint's weights and evaluates them on
// the split, without augmentation, as training evaluates its val and test
// splits. *metrics: loss, acc, epoch (the checkpoint's completed epochs),
// images, seconds. A torn or corrupt checkpoint is an error naming the file
// (it is never skipped for another one), as is a split the dataset lacks.
// Stopped by should_stop: OK, *interrupted true and no metrics.
Status RunEvaluation(const EvalRequest& req, google::protobuf::Struct* metrics, bool* interrupted);

// The learning rate at `step` of `epoch` (warmup, then constant/step/cosine).
double LearningRateAt(const TrainTask& t, int epoch, int64_t step, int64_t steps_per_epoch);

}  // namespace claimsweep
