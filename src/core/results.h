// Everything `sweep summary`, `sweep report` and `sweep status --watch` read
// out of a sweep: per trial its state, attempts, parameters, metrics and
// (optionally) its learning curve and log tail. Reads many trials in
// parallel; a trial whose files are corrupt or half-written is still listed,
// with `problem` saying what is wrong, and never stops the whole load.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/trial_state.h"
#include "spec.pb.h"

namespace claimsweep {

struct TrialRecord {
  uint64_t index = 0;
  TrialState state = TrialState::kPending;
  uint32_t attempts = 0;
  uint32_t failures = 0;
  std::vector<std::string> params;        // values, in SweepResults::param_names order
  std::map<std::string, double> metrics;  // result.json's numeric metrics, else metrics.csv's last row
  double wall_seconds = -1;               // result.json's duration_seconds (-1: unknown)
  std::string host, job_id, outcome_message;
  // metrics.csv, if LoadOptions::curves: columns and one row per epoch.
  std::vector<std::string> curve_columns;
  std::vector<std::vector<double>> curve;
  int csv_rows = -1;     // rows of metrics.csv when it was read (epochs done, for a train task)
  std::string log_tail;  // failed trials, if LoadOptions::log_tails: the last lines of the latest attempt's log
  std::string problem;   // non-empty when a file of this trial could not be read: what and where
};

struct SweepResults {
  SweepSpec spec;
  std::string dir;
  std::vector<std::string> param_names;
  std::vector<std::string> metric_names;  // every metric seen, sorted
  std::vector<TrialRecord> trials;        // every point, by index (pending ones too)
  std::array<uint64_t, kNumTrialStates> counts{};
};

struct LoadOptions {
  bool curves = false;
  bool log_tails = false;
  int log_tail_lines = 20;
  int threads = 8;  // reading is metadata- and latency-bound: more threads than cores help on NFS
};

Status LoadResults(Env* env, const std::string& sweep_dir, const LoadOptions& options, SweepResults* out);

}  // namespace claimsweep
