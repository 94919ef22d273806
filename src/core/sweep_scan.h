// A whole-sweep scan: the state of every claimed trial. Used by `sweep status`
// (never by claimers: a claim must not cost O(points)).
#pragma once

#include <array>
#include <cstdint>
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
  std::vector<ScannedTrial> trials;                 // every non-pending trial, by index
  bool clock_from_filesystem = true;                // false if the probe could not be written
};

Status ScanSweep(Env* env, const SweepLayout& layout, const ClaimPolicy& policy, uint64_t num_points,
                 SweepScan* scan);

}  // namespace claimsweep
