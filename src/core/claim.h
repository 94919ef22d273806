// The claim protocol: how identical, uncoordinated processes share a sweep.
// docs/protocol.md explains it in prose; this header states the contracts.
//
// Claim a new point i (after no open trial was claimable):
//   1. create leases/<i>.0001 with O_EXCL: the claimer that creates it is the
//      one that builds the claim; the others move on at the cost of one call
//   2. build tmp/<token>.<n>/attempt-0001/owner.json (owner.json's mtime is
//      the heartbeat)
//   3. rename the temp dir to trials/<i>. rename onto a non-empty directory
//      fails, so exactly one process publishes trials/<i> (PublishDir,
//      publish.h, which also says why an EEXIST from NFS can be ours).
// Take over attempt k of trial i (interrupted, or stale: heartbeat older than
// the lease as judged by the filesystem's clock):
//   the same with tmp/<token>.<n>/owner.json renamed to
//   trials/<i>/attempt-<k+1>; whoever publishes attempt k+1 owns the trial.
// Fencing: an owner checks that attempt k+1 does not exist before every write
// others read (result, release, failure records) and on every heartbeat.
// Commit: result.json is linked into place (link(2): first writer wins;
// PublishFile, publish.h).
//
// The lowest unclaimed index is found by galloping search from a per-process
// hint over trials/ (claims are made in index order, so claimed indices form
// a prefix; directories published out of order, a stopped pending point's
// `stop` or a resumed one's `unordered`, never count as claimed for it);
// leases/ holds only open trials, and a released trial's entry is
// renamed to <i>.<k>.released so claimers see it without reading the trial.
// A claim therefore costs O(log points + open trials) filesystem calls, not
// O(points), and heartbeats of running trials are re-read at most once per
// heartbeat period by each process.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/env.h"
#include "core/layout.h"
#include "core/publish.h"
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
  uint64_t open_scanned = 0;     // lease entries looked at
  uint64_t lost_races = 0;       // publishes that another process won
  uint64_t garbage_removed = 0;  // lease entries of finished trials removed
};

// An open trial that the last ClaimNext found held by a lease: running by its
// heartbeat (its owner may be alive, or dead and not yet stale), or a point
// whose claimer has not published it yet. Claimable (as stale) after
// `lease_expires_ns`, by the filesystem's clock, unless its owner renews it.
struct HeldTrial {
  uint64_t index = 0;
  int64_t lease_expires_ns = 0;  // filesystem clock
  double seconds_left = 0;       // from the filesystem's now at that claim
};

// Thread-safety: Heartbeat and CheckOwnership only read what the constructor
// set (and call the Env, which is thread-safe), so they may be called from
// any thread, concurrently with each other and with any other method: `trial`'s
// lease keeper heartbeats on its own thread while the owner's thread runs the
// task (a train task's writes check ownership from there). Every other method
// changes the claimer's state (its temp counter, frontier hint, lease cache):
// one thread at a time. Claimers in different threads or processes need
// distinct tokens.
class Claimer {
 public:
  // `token` identifies this process (ProcessToken()); it must be unique.
  Claimer(Env* env, SweepLayout layout, ClaimPolicy policy, uint64_t num_points, std::string token);

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
  // Interrupted: writes attempt-<k>.released.json and marks the lease entry
  // released; the trial is claimable at once.
  Status Release(const Claim& c, const std::string& record_json);
  // A failed attempt: writes attempt-<k>.failed.json. *final is set when this
  // was the last attempt allowed (the trial is now failed). A failure that is
  // not `retryable` (deterministic: the loss diverged) first creates
  // attempt-<k>.fatal, which fails the trial at once.
  Status Fail(const Claim& c, const std::string& record_json, bool* final, bool retryable = true);

  // The filesystem's time now (see Env::FsNow).
  Status FsNow(int64_t* now_ns);
  // Optional. Asked about a running trial (heartbeat still fresh) whose owner
  // recorded a Slurm job of this user on this cluster; returns true only when
  // Slurm confirms the job is gone. Such a trial is taken over at once, as
  // stale, instead of after its lease. `trial` installs one (squeue).
  void set_job_gone(std::function<bool(const std::string& job_id)> f) { job_gone_ = std::move(f); }

  const ClaimStats& stats() const { return stats_; }
  // After ClaimNext returned NotFound: the trials leases still held, earliest
  // expiry first (what the claim saw anyway: no extra filesystem calls).
  std::vector<HeldTrial> held() const;
  const std::string& token() const { return token_; }

 private:
  Status ClaimOpenTrial(Claim* claim);
  Status TryTakeOver(uint64_t index, uint32_t attempt, Claim* claim);
  // `exclusive`: create the lease entry with O_EXCL first (a new point);
  // otherwise adopt the existing entry (a point whose claimer died).
  Status TryClaimNew(uint64_t index, bool exclusive);
  uint64_t FindFrontier();
  void DropLeaseIfDone(uint64_t index, uint32_t attempt);
  void RemoveLeaseEntries(uint64_t index, const std::vector<LeaseEntry>& entries, uint32_t below);
  Status MarkReleased(const Claim& c);
  std::string NewTempPath();
  std::string OwnerJson(uint64_t index, uint32_t attempt) const;
  // The filesystem's time, read at most once per ClaimNext and only if needed.
  Status LazyNow(int64_t* now_ns);

  Env* env_;
  SweepLayout layout_;
  ClaimPolicy policy_;
  uint64_t num_points_;
  std::string token_;
  std::string clock_probe_;
  int64_t now_ns_ = -1;  // LazyNow's cache for the current ClaimNext
  // When this process last saw (index, attempt) running, by the filesystem's
  // clock: a running trial's heartbeat is re-read at most once per period.
  struct SeenRunning {
    uint32_t attempt = 0;
    int64_t seen_ns = 0;
    int64_t lease_expires_ns = 0;
  };
  std::unordered_map<uint64_t, SeenRunning> seen_running_;
  std::vector<HeldTrial> held_;  // by the current ClaimNext
  uint64_t hint_ = 0;
  uint64_t temp_counter_ = 0;
  ClaimStats stats_;
  std::function<bool(const std::string&)> job_gone_;
  bool OwnerJobGone(uint64_t index, uint32_t attempt);
};

}  // namespace claimsweep
