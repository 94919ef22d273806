// Trial states, derived from files alone. `sweep status` and `trial` both use
// this module, so they cannot disagree.
//
//   pending      no trials/<index>/ yet
//   running      latest attempt open, heartbeat younger than the lease
//   stale        latest attempt open, heartbeat older than the lease (owner dead)
//   interrupted  latest attempt released (walltime signal, exit 75) or failed
//                with attempts left: claimable at once
//   done         result.json exists
//   failed       max_attempts attempts have failed, or one failed fatally
//                (attempt-<k>.fatal: deterministic, e.g. the loss diverged)
//   stopped      the user created trials/<index>/stop
//   broken       an entry claimsweep reads is not what it writes there:
//                trials/<index> or attempt-<k> is not a plain directory, a
//                record or owner.json is a symlink, FIFO or other non-regular
//                file, or the directory cannot be read. Never claimed, never
//                followed; `sweep status` shows why (DerivedState::problem)
//   blocked      a derived stage's item only (core/stage_scan.h), never from
//                its files: no item directory yet and its input finally failed
//                or stopped; `problem` names the input. A retried input
//                unblocks it: no file records the state
//
// `sweep retry` writes trials/<index>/retry-<k>: failures of attempts <= k no
// longer count against max_attempts (they stay on disk as history).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/layout.h"
#include "spec.pb.h"

namespace claimsweep {

enum class TrialState {
  kPending,
  kRunning,
  kInterrupted,
  kStale,
  kDone,
  kFailed,
  kStopped,
  kBroken,
  kBlocked
};
inline constexpr int kNumTrialStates = 9;
const char* TrialStateName(TrialState s);

struct AttemptFiles {
  uint32_t number = 0;
  bool has_dir = false;
  bool released = false;
  bool failed = false;
  bool fatal = false;  // attempt-<k>.fatal: failed and not to be retried
};

// What one readdir of trials/<index>/ (plus one stat of the heartbeat) shows.
struct TrialSnapshot {
  bool exists = false;
  bool has_result = false;
  bool has_stop = false;
  std::vector<AttemptFiles> attempts;  // ascending by number
  int64_t heartbeat_ns = -1;           // mtime of the latest attempt's heartbeat; -1 if absent
  uint32_t retried_after = 0;          // k of the newest retry-<k> marker; 0 if none
  std::string problem;                 // non-empty: the trial is broken, and why
};

// Reads the snapshot. The heartbeat is stat'ed only when the latest attempt is
// open (neither released nor failed) and there is no result. The entries'
// types come with the listing, so checking them costs nothing: an entry that
// is not what claimsweep writes, or a trial directory that cannot be listed,
// sets snap->problem (naming it relative to the sweep) and returns OK, so
// that one bad trial never stops a claimer or `sweep status`.
Status ReadTrialSnapshot(Env* env, const SweepLayout& layout, uint64_t index, TrialSnapshot* snap);

struct DerivedState {
  TrialState state = TrialState::kPending;
  uint32_t latest_attempt = 0;  // 0 when there is none
  uint32_t failures = 0;        // failed attempts so far (after the newest retry marker)
  double heartbeat_age_s = -1;  // for open attempts
  std::string problem;          // broken: why (from TrialSnapshot::problem); blocked: the input
};

// Pure: the state of a trial given its files, the policy and the filesystem's
// now, judging an open attempt's heartbeat by its file time. For display
// (`sweep status`, summaries): on filesystems whose clients stamp file times
// with their own clock (sshfs, Lustre, GPFS) a skewed node's trials can show
// as stale while they run. Claimers never use it to take a trial over.
DerivedState DeriveState(const TrialSnapshot& snap, const ClaimPolicy& policy, int64_t fs_now_ns);
// For claimers: the same, but an open attempt is stale only when
// `judged_stale` (an observer saw its heartbeat unchanged for a lease of its
// own time, or its Slurm job is gone: lease_watch.h, claim.h), and running
// otherwise. No file time is compared with any clock.
DerivedState DeriveClaimState(const TrialSnapshot& snap, const ClaimPolicy& policy,
                              bool judged_stale);

// True for states a claimer may take over (interrupted, stale).
inline bool IsClaimable(TrialState s) {
  return s == TrialState::kInterrupted || s == TrialState::kStale;
}

}  // namespace claimsweep
