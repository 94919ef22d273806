// Claiming in tests as `trial` does: when nothing is claimable but the
// claimer is watching an open trial it has not seen alive, let a lease pass
// on its clock and look again (trial sleeps instead).
#pragma once

#include "core/claim.h"
#include "fault_env.h"

namespace claimsweep::testing {

inline Status ClaimWatching(Claimer* claimer, FaultEnv* clock, Claim* claim,
                            double lease_seconds = 30) {
  Status s = claimer->ClaimNext(claim);
  // A poll, then one that sees the stamp unchanged for the lease; a few more
  // in case several trials are judged one after another.
  for (int round = 0; round < 8 && s.IsNotFound() && claimer->watching(); ++round) {
    clock->AdvanceClock(lease_seconds + 1);
    s = claimer->ClaimNext(claim);
  }
  return s;
}

// Heartbeats `claim` until its owner.json's mtime differs from before (a beat
// within the filesystem's timestamp resolution would not show), as a live
// owner's next heartbeat does.
inline Status BeatUntilChanged(Claimer* owner, const Claim& claim, const SweepLayout& layout) {
  FileInfo before, after;
  CS_RETURN_IF_ERROR(
      Env::Default()->Stat(layout.heartbeat_path(claim.index, claim.attempt), &before));
  do {
    CS_RETURN_IF_ERROR(owner->Heartbeat(claim));
    CS_RETURN_IF_ERROR(
        Env::Default()->Stat(layout.heartbeat_path(claim.index, claim.attempt), &after));
  } while (after.mtime_ns == before.mtime_ns);
  return Status::OK();
}

}  // namespace claimsweep::testing
