// Everything `sweep summary`, `sweep report` and `sweep status --watch` read
// out of a sweep: per claimed trial its state, attempts, parameters, metrics
// and (optionally) its learning curve and log tail. Reads many trials in
// parallel; a trial whose files are corrupt or half-written is still listed,
// with `problem` saying what is wrong, and never stops the whole load.
//
// Cost follows the claimed trials, not the points: a pending point has no
// files and no results, so it is only counted (a 10^9-point sweep with 30
// claimed trials loads 30 records). `sweep points` lists the points.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/rung_scan.h"
#include "core/stage_scan.h"
#include "core/sweep_points.h"
#include "core/trial_state.h"
#include "spec.pb.h"

namespace claimsweep {

struct TrialRecord {
  uint64_t index = 0;  // a stage's item: its key (ItemKey; ItemName names it)
  TrialState state = TrialState::kPending;
  uint32_t attempts = 0;
  uint32_t failures = 0;
  // Values, in SweepResults::param_names order: the trial's own record's
  // (result.json, else its latest attempt record), else the frozen spec's
  // point. A record that disagrees with the spec's point is kept, with a
  // `problem` naming the difference.
  std::vector<std::string> params;
  // Per param_names entry: false where the point has no such parameter (a
  // branch without it); its params entry is then empty.
  std::vector<bool> has_param;
  std::map<std::string, double>
      metrics;  // result.json's numeric metrics, else metrics.csv's last row
  // Done trials: wall seconds over all attempts (result.json's total_seconds;
  // its duration_seconds for results written before total_seconds existed),
  // and the last attempt's alone. -1: unknown.
  double wall_seconds = -1;
  double last_attempt_seconds = -1;
  std::string host, job_id, outcome_message;
  // The spec version (`sweep extend`) its latest record's process ran under;
  // 0: no record, or one written before versions existed.
  uint32_t spec_version = 0;
  // metrics.csv, if LoadOptions::curves: columns and one row per epoch.
  std::vector<std::string> curve_columns;
  std::vector<std::vector<double>> curve;
  int csv_rows = -1;     // rows of metrics.csv when it was read (epochs done, for a train task)
  std::string log_tail;  // failed trials, if LoadOptions::log_tails: the last lines of the latest
                         // attempt's log
  std::string problem;   // non-empty when a file of this trial could not be read: what and where
  // Early stopping (SweepResults::early_stopping): the trial is its
  // configuration over every rung. `rung` is the highest rung it reached,
  // `epochs_done` the budget of its newest done rung (0: none done), and
  // state, attempts and outcome_message are those at `rung` (pending there:
  // promoted, not started). metrics, host, job_id and last_attempt_seconds
  // are its newest done rung's record's, wall_seconds the sum over its done
  // rungs' records; log_tail a failed rung's latest attempt's. The
  // curve (metrics.csv in trials/<index>) holds every epoch trained, so it
  // stops at the newest rung's epochs. -1: not an early-stopping sweep.
  int rung = -1;
  int epochs_done = -1;
};

// Whether the trial's point has param_names[k] (records built without
// has_param have every parameter).
inline bool HasParam(const TrialRecord& t, size_t k) {
  return k >= t.has_param.size() || t.has_param[k];
}

// A failed trial whose training loss became non-finite (its record's message
// starts with "diverged:"): shown as such, never ranked.
inline bool IsDiverged(const TrialRecord& t) {
  return t.state == TrialState::kFailed && t.outcome_message.rfind("diverged:", 0) == 0;
}

struct SweepResults {
  SweepSpec spec;  // the latest version's (`sweep extend`)
  // The points over every version of the spec.
  std::shared_ptr<const SweepPoints> points;
  std::string dir;
  std::vector<std::string> param_names;
  std::vector<std::string> metric_names;  // every metric seen, sorted
  uint64_t num_points = 0;
  std::vector<TrialRecord> trials;  // every claimed trial (trials/<index>/ exists), by index
  // LoadOptions::stage: its name and kind; `trials` are then its items with
  // a directory (by key), num_points their number, and params the upstream
  // point's (an after_all item has none).
  std::string stage;
  StageKind stage_kind = StageKind::kEachTrial;
  // A spec with early_stopping (HasRungs), read without a stage: the rungs
  // (per rung its configurations by state, the compute used), and each
  // trial's rung fields set.
  bool early_stopping = false;
  RungScan rungs;
  // Every point's state: counts[kPending] includes the unclaimed points, so
  // the counts add up to num_points.
  std::array<uint64_t, kNumTrialStates> counts{};
  // Points with no trial directory: pending, not in `trials`.
  uint64_t unclaimed() const { return num_points > trials.size() ? num_points - trials.size() : 0; }
};

struct LoadOptions {
  bool curves = false;
  bool log_tails = false;
  int log_tail_lines = 20;
  int threads = 8;  // reading is metadata- and latency-bound: more threads than cores help on NFS
  // A derived stage's items instead of the trials: those of the sweep's
  // points (each_trial, each_checkpoint), or the newest version's funnel
  // item (after_all). A stage the spec lacks is InvalidArgument, naming the
  // stages.
  std::string stage;
};

Status LoadResults(Env* env, const std::string& sweep_dir, const LoadOptions& options,
                   SweepResults* out);

// Re-reads the trials `indices` of `res` (LoadResults's output, with the
// same options; the sweep's trials, not a stage's) and adds those not in it
// yet (newly claimed): `sweep serve` reads only the trials whose files
// changed. Counts and metric_names are recomputed from the records in
// memory (no I/O). Indices must be below res->num_points.
Status RefreshTrials(Env* env, const LoadOptions& options, const std::vector<uint64_t>& indices,
                     SweepResults* res);

// The epochs trial `t` runs in its current attempt, for progress bars: with
// early stopping its rung's budget (a command task's too), else a train
// task's epochs for its point; 0: unknown (a command task).
int EpochsToRun(const SweepResults& res, const TrialRecord& t);

}  // namespace claimsweep
