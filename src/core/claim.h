// The claim protocol: how identical, uncoordinated processes share a sweep.
// docs/protocol.md explains it in prose; this header states the contracts.
//
// Claim a new point i (ClaimNext, after no open trial was claimable):
//   1. build tmp/<token>.<n>/ holding point.json and attempt-0001/{owner.json,heartbeat}
//   2. create leases/<i>.0001 (an index entry; may already exist)
//   3. rename the temp dir to trials/<i>. rename onto a non-empty directory
//      fails, so exactly one process publishes trials/<i>. If it reports
//      EEXIST but our temp dir is gone, our rename did succeed (NFS retransmit).
// Take over attempt k of trial i (interrupted, or stale: heartbeat older than
// the lease as judged by the filesystem's clock):
//   the same with tmp/<token>.<n>/ = {owner.json,heartbeat} renamed to
//   trials/<i>/attempt-<k+1>; whoever publishes attempt k+1 owns the trial.
// Fencing: an owner checks that attempt k+1 does not exist before every write
// others read (result, release, failure records) and on every heartbeat.
// Commit: result.json is linked into place (link(2): first writer wins).
//
// The lowest unclaimed index is found by galloping search from a per-process
// hint over trials/ (claims are made in index order, so claimed indices form
// a prefix); leases/ holds only open trials. A claim therefore costs
// O(log points + open trials) filesystem calls, not O(points).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/layout.h"
#include "core/trial_state.h"
#include "spec.pb.h"

namespace claimsweep {

struct Claim {
  uint64_t index = 0;
  uint32_t attempt = 0;
  // What the trial was before this claim: pending for a new point,
  // interrupted or stale for a takeover.
  TrialState previous = TrialState::kPending;
};

struct ClaimStats {
  uint64_t open_scanned = 0;      // lease entries looked at
  uint64_t lost_races = 0;        // publishes that another process won
  uint64_t garbage_removed = 0;   // lease entries of finished trials removed
};

// Not thread-safe; one per process (or per thread, each with its own token).
class Claimer {
 public:
  // Contents of trials/<i>/point.json for a new point i.
  using PointJsonFn = std::function<std::string(uint64_t)>;

  // `token` identifies this process (ProcessToken()); it must be unique.
  Claimer(Env* env, SweepLayout layout, ClaimPolicy policy, uint64_t num_points, std::string token,
          PointJsonFn point_json);

  // Claims an interrupted or stale trial if there is one, else the lowest
  // pending point. NotFound when nothing is claimable now (all points are
  // claimed and the open ones are running).
  Status ClaimNext(Claim* claim);

  // Renews the lease. Superseded if attempt k+1 exists (the caller must stop
  // and write nothing more).
  Status Heartbeat(const Claim& c);
  // Superseded if another process published attempt k+1.
  Status CheckOwnership(const Claim& c);

  // Done: links `result_json` into trials/<i>/result.json. Superseded, or
  // AlreadyExists if another attempt committed first.
  Status Commit(const Claim& c, const std::string& result_json);
  // Interrupted: writes attempt-<k>.released.json; the trial is claimable at once.
  Status Release(const Claim& c, const std::string& record_json);
  // A failed attempt: writes attempt-<k>.failed.json. *final is set when this
  // was the last attempt allowed (the trial is now failed).
  Status Fail(const Claim& c, const std::string& record_json, bool* final);

  // The filesystem's time now (see Env::FsNow).
  Status FsNow(int64_t* now_ns);
  const ClaimStats& stats() const { return stats_; }
  const std::string& token() const { return token_; }

 private:
  Status ClaimOpenTrial(int64_t now_ns, Claim* claim);
  Status TryTakeOver(uint64_t index, uint32_t attempt, Claim* claim);
  Status TryClaimNew(uint64_t index);
  Status Publish(const std::string& tmp, const std::string& target);
  uint64_t FindFrontier();
  void DropLeaseIfDone(uint64_t index, uint32_t attempt);
  void RemoveLeaseEntries(uint64_t index, const std::vector<uint32_t>& attempts, uint32_t below);
  std::string NewTempPath();
  std::string OwnerJson(uint64_t index, uint32_t attempt) const;

  Env* env_;
  SweepLayout layout_;
  ClaimPolicy policy_;
  uint64_t num_points_;
  std::string token_;
  PointJsonFn point_json_;
  std::string clock_probe_;
  uint64_t hint_ = 0;
  uint64_t temp_counter_ = 0;
  ClaimStats stats_;
};

}  // namespace claimsweep
