// User control of single trials: `sweep stop`, `sweep reset`, `sweep retry`,
// `sweep resume`.
// docs/protocol.md ("Stopping, resetting, retrying, resuming") explains why each is
// safe against claimers working at the same time.
//
//   stop   creates trials/<i>/stop (for a pending point: publishes a trial
//          directory holding only `stop`, by rename, like a claim). A running
//          `trial` sees it at its next heartbeat and stops at a safe point.
//          Lease entries of the trial are removed: claimers never read it again.
//   reset  renames everything inside trials/<i>/ into archive/<i>-<UTC time>/
//          (keeping trials/<i>/ itself, so claimed indices stay a prefix) and
//          creates leases/<i>.0001.released: the next claim runs attempt 1.
//          Refuses a running trial unless `force`.
//   retry  creates trials/<i>/retry-<k> (k: the latest attempt): failures up
//          to attempt k no longer count, the trial derives as interrupted, and
//          leases/<i>.<k>.released leads the next claim to it (attempt k+1).
//   resume removes trials/<i>/stop after creating the lease entry that leads
//          claimers to the trial again: it continues as attempt k+1 (from its
//          checkpoints), or goes on running if its owner had not stopped yet.
//          A point stopped while pending (no attempt yet) is first marked
//          `unordered` (the frontier search never counts it) and is claimed
//          through leases/<i>.0001.released as attempt 1.
//
// `refused` is set when the trial is in no state the operation applies to
// and not already where it would bring it (e.g. retry of a done trial, stop
// of a failed one, resume of anything not stopped): the command exits 1.
#pragma once

#include <cstdint>
#include <string>

#include "core/env.h"
#include "core/layout.h"
#include "core/trial_state.h"
#include "spec.pb.h"

namespace claimsweep {

// What one operation did to one trial.
struct ControlReport {
  TrialState before = TrialState::kPending;  // the state it was found in
  uint32_t latest_attempt = 0;
  bool changed = false;  // something was written (or moved)
  bool refused = false;  // not done, and the user should know (exit status 1)
  std::string archive;   // reset: the folder the old files went to
  std::string what;      // one line for the user, without the index
};

class TrialControl {
 public:
  // `token` names this process's temp files (ProcessToken()).
  TrialControl(Env* env, SweepLayout layout, ClaimPolicy policy, std::string token);

  Status Stop(uint64_t index, ControlReport* report);
  Status Reset(uint64_t index, bool force, ControlReport* report);
  Status Retry(uint64_t index, ControlReport* report);
  Status Resume(uint64_t index, ControlReport* report);

  // The state of a trial now (by the filesystem's clock).
  Status State(uint64_t index, DerivedState* derived, TrialSnapshot* snap = nullptr);
  // Overrides the UTC stamp of archive folder names (tests).
  void set_archive_stamp(std::string stamp) { stamp_ = std::move(stamp); }

 private:
  Status Now(int64_t* now_ns);
  // Removes leases/<index>.<k>[.released] for every k <= max_attempt.
  void RemoveLeaseEntries(uint64_t index, uint32_t max_attempt);
  std::string NewArchiveDir(uint64_t index);

  Env* env_;
  SweepLayout layout_;
  ClaimPolicy policy_;
  std::string token_;
  std::string stamp_;
  int64_t now_ns_ = -1;
  uint64_t temp_counter_ = 0;
};

}  // namespace claimsweep
