// A whole-sweep scan of the derived stages (docs/derived-work.md §1.4): each
// stage's items and their states. Used by `sweep status` and `sweep summary`
// (never by claimers: it costs O(claimed trials), not O(ready items)).
//
// Items per stage kind (keys: layout.h ItemKey):
//   each_trial       (i,0) per point i: pending (waiting) until trial i is
//                    claimed; listed from then on
//   each_checkpoint  (i,e) per kept checkpoint trials/<i>/kept/ckpt-<e>.csckpt
//                    of each claimed trial, plus every item directory: a
//                    trial still training may keep more later
//   after_all        (0,v), v the sweep's newest spec version
// An item with a directory has the state DeriveState gives its files (as
// trials). One without is DeriveItemState's: pending when its input is
// committed (ready), blocked when the input is finally failed or stopped
// (naming it), else pending (waiting). A funnel's input is every item of its
// input stage: blocked by the first failed, stopped or blocked one.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/derived.h"
#include "core/env.h"
#include "core/layout.h"
#include "core/sweep_scan.h"
#include "core/trial_state.h"
#include "spec.pb.h"

namespace claimsweep {

// StageKind, KindOf, InputOf, StageKindName: core/derived.h.

// The input of an item that has no directory, as scanned.
struct ItemInput {
  bool committed = false;  // its result (or kept checkpoint) exists
  TrialState state = TrialState::kPending;
  std::string name;  // relative to the sweep: "trials/000042", "stages/eval/items/..."
  uint32_t attempts = 0;
  std::string problem;  // its own, when it is blocked
};

// "trials/000042 failed (3 attempts)", "... stopped", or "<name> blocked:
// <its problem>"; "" when `in` blocks nothing (not failed, stopped or blocked).
std::string BlockingProblem(const ItemInput& in);

// Pure: an item with no directory (docs/derived-work.md §1.4).
DerivedState DeriveItemState(const ItemInput& input);

struct ScannedItem {
  uint64_t key = 0;
  DerivedState derived;
  bool has_dir = false;
};

struct StageScan {
  std::string name;
  StageKind kind = StageKind::kEachTrial;
  std::string input;  // "trials" or a stage's name
  uint64_t total = 0;
  std::array<uint64_t, kNumTrialStates> counts{};  // add up to total
  // Every item known by name (each_trial: those of claimed trials), by key.
  // each_trial's other points' items are pending, counted only.
  std::vector<ScannedItem> items;
};

// Where an item's task writes metrics.csv: the stage's own task (a command
// runs in work/). For MetricsCsvPath and LoadResults.
SweepSpec StageTaskSpec(const SweepSpec& spec, const Stage& stage);
// The stage named `name` in spec, or nullptr.
const Stage* FindStage(const SweepSpec& spec, const std::string& name);
// "eval, collect" (for "no stage 'x' (stages: eval, collect)").
std::string StageNamesText(const SweepSpec& spec);

// The keys of `stage`'s item directories (layout: SweepLayout::ForStage)
// that belong to the sweep as it is now: upstream points below num_points
// (each_trial: sub-key 0), or the funnel of spec version `version`; sorted.
Status ListStageItems(Env* env, const SweepLayout& layout, const Stage& stage, uint64_t num_points,
                      uint32_t version, std::vector<uint64_t>* keys);

// Every stage of spec, in spec order. `trials` is ScanSweep's of the sweep's
// points (num_points of them), `version` the newest spec version (1 unless
// extended), `now_ns` the scan's clock (ScanClock). Errors only when a
// stage's directory exists but cannot be listed.
Status ScanStages(Env* env, const std::string& root, const SweepSpec& spec, const SweepScan& trials,
                  uint64_t num_points, uint32_t version, int64_t now_ns,
                  std::vector<StageScan>* out);

}  // namespace claimsweep
