// Early stopping's rungs as readers see them (#14; core/rungs.h has the
// layout): per configuration the rung it reached, the epochs its records
// vouch for and its state there; per rung its configurations by state; the
// compute used against training every configuration to max_epochs. For
// `sweep status`, `sweep summary` and `sweep report`, never for claimers: it
// costs the trial scan plus, per rung k >= 1, a listing of its items and of
// its leases and a snapshot of each item.
//
// Where configuration c is:
//   rung 0    trials/<c> (the sweep's trials; ScanSweep's state)
//   rung k>=1 stages/rung-<k>/items/<c>-0000 (its files' state), or only its
//             announcement stages/rung-<k>/leases/<c>-0000.0000.released:
//             promoted, not started (counted as pending)
// Its rung is the highest rung where it is (done, running, failed, announced,
// ...); its done rung the highest whose record is done (result.json). Under
// early stopping a config is promoted only from a done rung, so the done
// rung is `rung` or `rung` - 1.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/env.h"
#include "core/sweep_scan.h"
#include "core/trial_state.h"
#include "spec.pb.h"

namespace claimsweep {

struct ConfigRung {
  uint64_t config = 0;
  uint32_t rung = 0;    // the highest rung it reached
  int done_rung = -1;   // the highest rung whose record is done; -1: none
  int epochs_done = 0;  // budgets[done_rung]: the epochs trained so far; 0: none done
  TrialState state = TrialState::kPending;  // at `rung` (pending there: announced only)
  uint32_t attempts = 0;                    // at `rung`
};

struct RungCounts {
  uint32_t rung = 0;
  int budget = 0;               // epochs
  uint64_t configurations = 0;  // at this rung: rung 0 every point; k >= 1 those promoted to it
  // By state, adding up to `configurations`; at k >= 1 pending are the
  // promoted configurations no worker has started (announced only).
  std::array<uint64_t, kNumTrialStates> counts{};
  uint64_t count(TrialState s) const { return counts[static_cast<int>(s)]; }
};

struct RungScan {
  std::vector<int> budgets;         // per rung, bottom first (AshaRungBudgets)
  std::vector<RungCounts> rungs;    // one per rung, bottom first
  std::vector<ConfigRung> configs;  // every claimed configuration, by config
  std::vector<uint64_t> reached;    // per rung: configurations done there
  // sum_k reached[k] * (budgets[k] - budgets[k-1]): epochs of done rungs
  // (a running or failed rung's partial epochs are not counted).
  uint64_t epochs_used = 0;
  uint64_t epochs_exhaustive = 0;  // reached[0] * max_epochs
  double compute_fraction = 0;     // ComputeFraction(budgets, reached)
  const ConfigRung* Find(uint64_t config) const;
};

// True when the spec has an early_stopping rule this reads (asha).
bool HasRungs(const SweepSpec& spec);

// `claimed`: every claimed trial below num_points and its state (rung 0),
// by index. `now_ns`: the scan's clock (ScanClock) for the items' leases.
// REQUIRES: HasRungs(spec). Errors only when a rung's directory exists but
// cannot be listed.
Status ScanRungs(Env* env, const std::string& root, const SweepSpec& spec,
                 const std::vector<std::pair<uint64_t, TrialState>>& claimed, uint64_t num_points,
                 int64_t now_ns, RungScan* out);

// Rung k >= 1's entries below num_points (`sweep status --stage rung-<k>`),
// by config: an item directory's state from its files (index: its key,
// ItemKey(c, 0)), an announcement's without one pending (has_dir false).
struct RungEntry {
  uint64_t config = 0;
  bool has_dir = false;
  ScannedTrial scanned;  // index: the item's key
};
Status ScanRungEntries(Env* env, const std::string& root, const SweepSpec& spec, uint32_t k,
                       uint64_t num_points, int64_t now_ns, std::vector<RungEntry>* out);

// "rung 1 (3 epochs): 9 configurations: 6 done, 1 running, 1 promoted (not
// started), 1 failed" (states with none are left out; "0 configurations"
// alone when empty).
std::string RungLine(const RungCounts& r);

}  // namespace claimsweep
