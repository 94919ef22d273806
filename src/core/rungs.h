// Early stopping on disk (#14): successive halving's rungs as work queues,
// its promotions as announcements (docs/protocol.md, "Rungs and promotions").
//
// Rung 0 is the sweep's points queue (trials/<c>), trained to budgets[0]
// epochs. Rung k >= 1 is the derived queue stages/rung-<k>/ (SweepLayout::
// ForStage), one item per promoted configuration c, key (c, 0), named
// "<c>-0000". Every rung of c trains in trials/<c>: the item resumes c's newest
// checkpoint and trains on to budgets[k] (a command runs in trials/<c>/work
// with {budget}), so no epoch is trained twice.
//
// What a decision reads: the score index of the rungs involved,
//   DIR/rungs/<k>/<c>=<value>    c's result at rung k (the shortest exact form), or
//   DIR/rungs/<k>/<c>=fail       failed, diverged, or no finite metric,
// one marker per configuration, created with O_EXCL after c's rung-k work
// committed or failed for good, never removed. The record (result.json) is
// the truth; a marker lost to a crash between the two is recreated from it by
// Repair.
//
// A promotion of c from rung k is the exclusive create of its announcement
// stages/rung-<k+1>/leases/<c>-0000.0000.released (Announce, core/derived.h):
// under racing deciders it happens once, and the item is then claimed, leased,
// retried and committed as any other. Its readiness: c's rung-k record.
//  * SHA (synchronous): rung k's members are every point (k = 0) or the
//    configurations promoted to it. Once every member has a marker, the
//    finisher that sees so announces ShaPromotions(rung k): a set computed
//    from the scores alone, so racing finishers announce the same one and it
//    does not depend on arrival order.
//  * ASHA (asynchronous): a free worker runs AshaDecide over every rung's
//    markers and the configurations already promoted (rung k+1's items and
//    lease entries) and announces its choice.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/asha.h"
#include "core/env.h"
#include "core/layout.h"
#include "core/status.h"
#include "core/trial_state.h"
#include "records.pb.h"
#include "spec.pb.h"

namespace claimsweep {

// "rung-<k>": the stage name of rung k >= 1's queue.
std::string RungStageName(uint32_t k);
// k from "rung-<k>" (k >= 1); false for any other name.
bool ParseRungStageName(const std::string& name, uint32_t* k);
// Rung k's queue: the sweep's own layout for k = 0, else stages/rung-<k>.
SweepLayout RungQueue(const SweepLayout& root, uint32_t k);
// The queue key of configuration c at rung k: c itself at rung 0, else (c, 0).
uint64_t RungKey(uint32_t k, uint64_t config);
// DIR/rungs/<k>.
std::string RungScoresDir(const SweepLayout& root, uint32_t k);

// "000003=0.875" (the shortest form that reads back as the same double) or
// "000003=fail" (RanksAsFailed).
std::string ScoreMarkerName(const RungResult& r);
bool ParseScoreMarker(const std::string& name, RungResult* r);

// The score rung work's record gives: its metric `metric` when it committed
// ("done") with a finite value; failed otherwise.
RungResult ScoreOfRecord(uint64_t config, const TrialResult& rec, const std::string& metric);

class Rungs {
 public:
  // `asha`: the spec's validated early_stopping.asha.
  Rungs(Env* env, SweepLayout root, const Asha& asha);

  const std::vector<int>& budgets() const { return budgets_; }
  uint32_t top() const { return static_cast<uint32_t>(budgets_.size() - 1); }
  const Asha& asha() const { return asha_; }

  // Rung k's published results (a listing of its score index). A
  // configuration with two markers (a failed one retried by the user) counts
  // by its finite one.
  Status Read(uint32_t k, std::vector<RungResult>* out);
  // Publishes c's result at rung k (its marker; one already there is OK).
  Status Publish(uint32_t k, const RungResult& r);

  // SHA: rung k's members (every point below num_points at k = 0; else
  // ShaPromotions of the complete rung k-1). *complete: rung k-1 is complete
  // (always true at k = 0); when it is not, members are unknown and empty.
  Status Members(uint32_t k, uint64_t num_points, std::vector<uint64_t>* members, bool* complete);
  // SHA: if every member of rung k (< top) has a marker, announces
  // ShaPromotions(rung k) in rung k+1. *announced: how many of those
  // announcements this call created.
  Status ShaAdvance(uint32_t k, uint64_t num_points, size_t* announced);
  // ASHA: decides (AshaDecide over every rung) and announces a promotion.
  // *promoted: true when it created one (rung *to, configuration *config).
  // A decision whose announcement already existed (another decider's, seen
  // late) is decided again, at most a few times.
  Status AshaPromote(bool* promoted, uint32_t* to, uint64_t* config);
  // After c's rung-k work committed, or failed for good: publishes its score
  // and, under SHA, advances the rung. *announced: promotions created.
  Status Finished(uint32_t k, const RungResult& r, uint64_t num_points, size_t* announced);
  // Lost wakeups: for each rung, every member whose work ended (committed, or
  // failed for good by `policy`) but has no marker gets one from its record;
  // then SHA advances every rung. *fixed: markers recreated plus promotions
  // announced. Cost: a listing per rung plus a snapshot of each member
  // without a marker (the running ones, normally).
  Status Repair(uint64_t num_points, const ClaimPolicy& policy, size_t* fixed);

  // The configurations promoted from rung k (rung k+1's items and lease
  // entries: two listings).
  Status Promoted(uint32_t k, std::set<uint64_t>* out);

 private:
  Env* env_;
  SweepLayout root_;
  Asha asha_;
  std::vector<int> budgets_;
};

}  // namespace claimsweep
