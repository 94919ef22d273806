// A whole-sweep scan: the state of every claimed trial. Used by `sweep status`
// (never by claimers: a claim must not cost O(points)).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/env.h"
#include "core/layout.h"
#include "core/trial_state.h"

namespace claimsweep {

struct ScannedTrial {
  uint64_t index = 0;
  DerivedState derived;
};

struct SweepScan {
  uint64_t total = 0;
  std::array<uint64_t, kNumTrialStates> counts{};  // indexed by TrialState
  std::vector<ScannedTrial> trials;                // every non-pending trial, by index
  bool clock_from_filesystem = true;               // false if the probe could not be written
};

// A trial whose files are bad is counted and listed as broken, with the
// reason in derived.problem; the scan goes on. Besides what ReadTrialSnapshot
// checks, a trial that is not done has its latest attempt's log and its
// metrics.csv checked (one lstat each): readers of the sweep read them. A
// done trial costs one stat of its result.json, which is not read: an empty
// one is broken; one torn otherwise is named by LoadResults (results.h),
// which reads every record.
// Errors only for the sweep as a whole (trials/ cannot be listed).
Status ScanSweep(Env* env, const SweepLayout& layout, const SweepSpec& spec, uint64_t num_points,
                 SweepScan* scan);

// The states of the entries `indices` of layout's trials_dir() (a stage's
// items with SweepLayout::ForStage), as ScanSweep judges them, by `now_ns`;
// out[k] is indices[k]'s, pending where it has no directory. `spec` gives
// the claim policy and where the task's metrics.csv is (MetricsCsvPath).
void ScanEntries(Env* env, const SweepLayout& layout, const SweepSpec& spec,
                 const std::vector<uint64_t>& indices, int64_t now_ns,
                 std::vector<ScannedTrial>* out);

// The pieces every whole-sweep reader shares (ScanSweep, LoadResults):
// The filesystem's time through a probe in tmp/ (sets *from_fs); this
// machine's clock when tmp/ is not writable (e.g. a colleague's sweep).
int64_t ScanClock(Env* env, const SweepLayout& layout, bool* from_fs);
// The indices below num_points that have a trials/<index> directory, sorted.
Status ListClaimedIndices(Env* env, const SweepLayout& layout, uint64_t num_points,
                          std::vector<uint64_t>* out);
// Calls fn(k) for k in [0, n) on up to `threads` threads (fewer for small n:
// one per `per_thread` items). Reading a sweep is latency-bound, so more
// threads than cores help on a network filesystem.
void ParallelFor(size_t n, int threads, size_t per_thread, const std::function<void(size_t)>& fn);

}  // namespace claimsweep
