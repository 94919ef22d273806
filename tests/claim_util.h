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

}  // namespace claimsweep::testing
