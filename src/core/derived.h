// Derived stages: work that appears as the sweep's trials finish
// (docs/protocol.md, "Derived work items"; docs/derived-work.md).
//
// A stage is one more work queue (SweepLayout::ForStage), claimed by the same
// Claimer (QueueOptions{ordered: false}): its items are claimable only once
// announced, by the exclusive create of stages/<S>/leases/<key>.0000.released.
//
// each_trial / each_checkpoint: the upstream owner announces its downstream
// items *before* it commits (result.json, or kept/ckpt-<e>), so an input never
// exists without the announcement that leads claimers to it. A crash between
// the two leaves an announcement early: claimers' readiness stat (InputReady)
// fails and they leave it alone, and the upstream's next attempt commits.
// What can still lose an announcement (a false EEXIST on a network
// filesystem, a hand edit) is found by ReconcileAnnouncements, which idle
// workers run once per process.
//
// after_all: one item per spec version v, key (0, v), announced by the last
// member of its input to finish, through a gate of marker files without
// counters (Gate below): no file is rewritten by every worker.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/layout.h"
#include "core/status.h"
#include "spec.pb.h"

namespace claimsweep {

// The name an after_all stage uses for the sweep's own trials as its input.
inline constexpr const char* kTrialsStageName = "trials";

enum class StageKind { kEachTrial, kEachCheckpoint, kAfterAll };
const char* StageKindName(StageKind k);  // "each_trial", "each_checkpoint", "after_all"
StageKind KindOf(const Stage& stage);
// The stage's input: kTrialsStageName, or the stage after_all names.
std::string InputOf(const Stage& stage);

struct StageInfo {
  std::string name;
  StageKind kind = StageKind::kEachTrial;
  // What it takes as input: kTrialsStageName, or (after_all) a stage's name.
  std::string input;
  Stage spec;
};

// The stages of a (validated) spec, in the order written.
class StageGraph {
 public:
  StageGraph() = default;
  explicit StageGraph(const SweepSpec& spec);
  bool empty() const { return stages_.empty(); }
  const std::vector<StageInfo>& stages() const { return stages_; }
  // Null when there is no such stage.
  const StageInfo* Find(const std::string& name) const;
  // The after_all stages whose input is `input` (a stage's name or
  // kTrialsStageName).
  std::vector<const StageInfo*> FunnelsOf(const std::string& input) const;
  // The each_trial (each_checkpoint) stages: fed by the sweep's trials.
  std::vector<const StageInfo*> OfKind(StageKind kind) const;

 private:
  std::vector<StageInfo> stages_;
};

// Stage `stage`'s item for trial `upstream`: (upstream, 0), or for
// each_checkpoint (upstream, epoch).
inline uint64_t StageItemKey(uint64_t upstream, uint32_t epoch = 0) {
  return ItemKey(static_cast<uint32_t>(upstream), epoch);
}
// The key of an after_all stage's item for spec version v.
inline uint64_t FunnelKey(uint32_t version) { return ItemKey(0, version); }

// trials/<i>/kept/ and the epochs kept there (ckpt-<epoch>.csckpt).
std::string KeptDir(const SweepLayout& root, uint64_t index);
std::string KeptCheckpointPath(const SweepLayout& root, uint64_t index, uint32_t epoch);
Status ListKeptEpochs(Env* env, const SweepLayout& root, uint64_t index,
                      std::vector<uint32_t>* epochs);

// Announces item `key` of the stage `stage` lays out: creates its
// `<key>.0000.released` with O_EXCL. An existing one (an earlier attempt's,
// a retransmit) is success. Idempotent.
Status Announce(Env* env, const SweepLayout& stage, uint64_t key);

// Whether the input of item `key` of `stage` is committed (one stat):
// each_trial: trials/<u>/result.json; each_checkpoint: kept/ckpt-<e>;
// after_all: always (its announcement is made only once its input is complete).
bool InputReady(Env* env, const SweepLayout& root, const StageInfo& stage, uint64_t key);

// For every trial below `num_points` whose input to `stage` (each_trial or
// each_checkpoint) is committed and whose item has neither a directory nor a
// lease entry: announces it. Sets *announced to how many it made. Costs three
// listings (trials/, the stage's items/ and leases/), a stat per trial whose
// item is missing and, for each_checkpoint, a listing of each trial's kept/.
Status ReconcileAnnouncements(Env* env, const SweepLayout& root, const StageInfo& stage,
                              uint64_t num_points, uint64_t* announced);

// The gate of an after_all stage F over input U: F's item (0, v) is announced
// once every point i below the point count N of version v is complete in U:
//   U = trials: trials/<i> done;   U each_trial: item (i,0) done;
//   U each_checkpoint: trials/<i> done and item (i,e) done for every e kept.
// Markers, each created with O_EXCL and never removed:
//   stages/F/gate/p/<j>/<i>   point i (of block j = i / 1000) is complete
//   stages/F/gate/b/<j>       every point of full block j is complete
// After its own commit each member runs PointDone (mark i; if i's block is
// complete mark it; if every block is complete, announce). Of the last two
// finishers, the one whose listing comes later sees both markers, so the last
// one announces; both may, and the create decides. A crash between steps (or
// a filesystem serving a stale listing) loses a wakeup, which Repair finds.
class Gate {
 public:
  // `refresh` is asked, before an announcement, whether the sweep has a newer
  // spec version than `version` (`sweep extend`): it loads it and sets the new
  // point count and version (then the gate is checked again with them), or
  // returns false. Null: versions are never checked.
  using Refresh = std::function<bool(uint64_t* num_points, uint32_t* version)>;
  // `block`: points per block, kBlock on disk (every worker must agree);
  // tests use less.
  Gate(Env* env, SweepLayout root, const StageGraph* graph, const StageInfo* funnel,
       Refresh refresh = nullptr, uint64_t block = kBlock);

  // Member point `i` of the input may have become complete (its owner just
  // committed). *announced: this call made F's announcement.
  Status PointDone(uint64_t i, uint64_t num_points, uint32_t version, bool* announced = nullptr);
  // Lost wakeups: unless F's item for `version` is announced or exists (two
  // stats), looks at every point without a marker (a listing per block
  // missing its marker, PointComplete for each such point), marks what is
  // complete and announces when all is. Cost O(points not marked).
  Status Repair(uint64_t num_points, uint32_t version, bool* announced = nullptr);

  // Point i complete in the input (the rules above).
  bool PointComplete(uint64_t i);
  static constexpr uint64_t kBlock = 1000;

 private:
  std::string points_dir(uint64_t block) const;
  std::string point_marker(uint64_t i) const;
  std::string blocks_dir() const;
  std::string block_marker(uint64_t block) const;
  // The markers in `dir` (none when it is absent).
  Status Markers(const std::string& dir, std::set<uint64_t>* out);
  // Creates `marker` in `dir` with O_EXCL; one already there is success.
  Status Mark(const std::string& dir, const std::string& marker);
  // Every point of `block` below num_points is in `marked`.
  bool BlockComplete(uint64_t block, uint64_t num_points, const std::set<uint64_t>& marked);
  // g4: every block complete (a listing of b/, and of p/<j> for each block
  // without its marker, stopping at the first incomplete one). `repair`:
  // also mark the points found complete that have no marker.
  Status AllComplete(uint64_t num_points, bool repair, bool* complete);
  Status AnnounceIfCurrent(uint64_t num_points, uint32_t version, bool* announced);

  Env* env_;
  SweepLayout root_;
  SweepLayout funnel_;
  const StageGraph* graph_;
  const StageInfo* stage_;
  const StageInfo* input_;  // null: the sweep's trials
  Refresh refresh_;
  uint64_t block_;
};

}  // namespace claimsweep
