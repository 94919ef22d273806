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
// Take over attempt k of trial i (interrupted, or stale: judged by an
// observer, see below):
//   the same with tmp/<token>.<n>/owner.json renamed to
//   trials/<i>/attempt-<k+1>; whoever publishes attempt k+1 owns the trial.
// Fencing: an owner checks that attempt k+1 does not exist before every write
// others read (result, release, failure records) and on every heartbeat.
// Commit: result.json is linked into place (link(2): first writer wins;
// PublishFile, publish.h).
//
// Leases are judged by observers, never by comparing a file time with a
// clock (lease_watch.h says why: client-stamped file times on skewed nodes).
// Two kinds of observer, both by their own monotonic clock:
//  - every running `trial` (WatchPeers, from its lease thread): each half
//    heartbeat it looks at the open trials that follow its own in index
//    order, until it has seen two of them alive (at most 16 looks), and
//    renames the entry of one it judges stale (or whose Slurm job is gone)
//    to leases/<i>.<k>.stale;
//  - a claimer with nothing else to claim (ClaimNext's last step) watches
//    every open trial it has not seen alive, and takes over one it judges
//    stale itself.
// A claim reads only trials whose entry is marked .released or .stale, so
// it costs O(log points) filesystem calls plus one listing of leases/,
// whatever the number of running trials (bench/README.md, "claim cost").
//
// The lowest unclaimed index is found by galloping search from a per-process
// hint over trials/ (claims are made in index order, so claimed indices form
// a prefix; directories published out of order, a stopped pending point's
// `stop` or a resumed one's `unordered`, never count as claimed for it);
// leases/ holds only open trials, and a released trial's entry is
// renamed to <i>.<k>.released so claimers see it without reading the trial.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/env.h"
#include "core/layout.h"
#include "core/lease_watch.h"
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
  uint64_t open_scanned = 0;     // trial directories of open trials read
  uint64_t lost_races = 0;       // publishes that another process won
  uint64_t garbage_removed = 0;  // lease entries of finished trials removed
  // Points found below the frontier with neither a trial directory nor a
  // lease entry (see ClaimNext, step 2b), and the first of them.
  uint64_t holes_found = 0;
  uint64_t first_hole = 0;
};

// An open trial that the last ClaimNext found held: its owner was seen alive
// (its heartbeat changed), or it is being watched (unchanged so far) and is
// taken over if it stays unchanged for `stale_in_s` more seconds of this
// process's time.
struct HeldTrial {
  uint64_t index = 0;
  bool alive = false;
  double stale_in_s = 0;  // when !alive
};

// Thread-safety: Heartbeat, CheckOwnership and WatchPeers only read what the
// constructor set and use thread-safe parts (the Env, the LeaseWatch, the
// job_gone callback under its own lock), so they may be called from any
// thread, concurrently with each other and with any other method: `trial`'s
// lease keeper heartbeats and watches on its own thread while the owner's
// thread runs the task (a train task's writes check ownership from there). Every other method
// changes the claimer's state (its temp counter, frontier hint, lease cache):
// one thread at a time. Claimers in different threads or processes need
// distinct tokens.
class Claimer {
 public:
  // `token` identifies this process (ProcessToken()); it must be unique.
  Claimer(Env* env, SweepLayout layout, ClaimPolicy policy, uint64_t num_points, std::string token);

  // The sweep grew (`sweep extend`): points up to `num_points` may be claimed
  // from now on. Call only between trials (while no LeaseKeeper of this
  // claimer runs). Never shrinks.
  void SetNumPoints(uint64_t num_points) {
    if (num_points > num_points_) num_points_ = num_points;
  }
  // What kind of work queue this claimer serves (docs/derived-work.md).
  struct QueueOptions {
    // The sweep's points: new points are claimed in index order (steps 2
    // and 2b of ClaimNext). A derived stage's items (SweepLayout::ForStage)
    // are claimed only through their lease entries: an announcement
    // `<key>.0000.released`, or a takeover. Their keys' upstream points must
    // be below num_points.
    bool ordered = true;
    // For a derived queue: an announced item whose input is not committed
    // yet is left alone (announced early). Unset: every announced item is
    // ready.
    std::function<bool(uint64_t key)> ready;
  };
  void set_queue(QueueOptions queue) { queue_ = std::move(queue); }

  // The spec version (SweepPoints::version()) recorded in the owner.json of
  // attempts claimed from now on.
  void set_spec_version(uint32_t version) { spec_version_ = version; }

  // Claims a trial whose lease entry is marked released or stale if there is
  // one, else the lowest pending point, else (watching the open trials) one
  // this process judges stale. NotFound when nothing is claimable now; then
  // watching() says whether calling again later may find one.
  Status ClaimNext(Claim* claim);
  // After NotFound: some open trial has not changed within the last
  // heartbeat and a half (not seen alive now) and is not judged yet; a later
  // ClaimNext (after about half a heartbeat) looks again, and takes it over
  // once it has stayed unchanged for a lease.
  bool watching() const { return watching_; }

  // One round of watching peers, for the owner of `own` (its lease thread):
  // looks at the open trials after own.index in index order (wrapping) until
  // two are seen alive or 16 were looked at, and marks the entry of each one
  // judged stale leases/<i>.<k>.stale, so that any claimer takes it at once.
  // Returns how many it marked. Failures are ignored: watching is best-effort.
  int WatchPeers(const Claim& own);

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
  // Optional. Asked about an open trial an observer looks at (a peer in
  // WatchPeers, a held trial in ClaimNext's last step) whose owner recorded a
  // Slurm job of this user on this cluster; returns true only when Slurm
  // confirms the job is gone. Such a trial is judged stale at once instead of
  // after its lease. `trial` installs one (squeue). Called under a lock, from
  // either thread.
  void set_job_gone(std::function<bool(const std::string& job_id)> f) { job_gone_ = std::move(f); }

  const ClaimStats& stats() const { return stats_; }
  // After ClaimNext returned NotFound: the open trials it found held, the
  // watched ones first, soonest claimable first (no extra filesystem calls).
  std::vector<HeldTrial> held() const;
  const std::string& token() const { return token_; }

 private:
  using OpenTrials = std::map<uint64_t, std::vector<LeaseEntry>>;
  Status ListOpen(OpenTrials* open);
  // Reads trial `index` and takes it over if it is claimable. `stale_attempt`:
  // the attempt an observer judged stale (0: none), which makes the trial's
  // open latest attempt stale if it is that attempt or an older one.
  // NotFound when it is not claimable (or another process took it first).
  Status TryOpenTrial(uint64_t index, const std::vector<LeaseEntry>& entries,
                      uint32_t stale_attempt, Claim* claim);
  Status TryTakeOver(uint64_t index, uint32_t attempt, Claim* claim);
  // `exclusive`: create the lease entry with O_EXCL first (a new point);
  // otherwise adopt the existing entry (a point whose claimer died).
  Status TryClaimNew(uint64_t index, bool exclusive);
  // Whether the observer's look makes (index, attempt) stale: unchanged for a
  // lease, or unchanged for a while with its Slurm job gone.
  bool JudgedStale(uint64_t index, uint32_t attempt, const LeaseWatch::Look& look);
  // `hint_claimed`: Claimed(hint_) was just seen true.
  uint64_t FindFrontier(bool hint_claimed = false);
  // Steps 2 and 2b of ClaimNext: the lowest unclaimed point, then holes.
  Status ClaimInOrder(const OpenTrials& open, Claim* claim);
  // Points below the highest trial directory that have neither a trial
  // directory nor an entry in `open` (one listing of trials/).
  Status FindHoles(const OpenTrials& open, std::vector<uint64_t>* holes);
  // Whether point i counts as claimed for the frontier search (1-3 stats).
  bool Claimed(uint64_t i);
  void DropLeaseIfDone(uint64_t index, uint32_t attempt);
  void RemoveLeaseEntries(uint64_t index, const std::vector<LeaseEntry>& entries, uint32_t below);
  Status MarkReleased(const Claim& c);
  std::string NewTempPath();
  std::string OwnerJson(uint64_t index, uint32_t attempt) const;

  Env* env_;
  SweepLayout layout_;
  ClaimPolicy policy_;
  uint64_t num_points_;
  uint32_t spec_version_ = 1;
  QueueOptions queue_;
  // Points up to which step 2b looked for holes (0: not yet).
  uint64_t holes_checked_to_ = 0;
  std::string token_;
  std::string clock_probe_;
  LeaseWatch watch_;
  std::vector<HeldTrial> held_;  // by the current ClaimNext
  bool watching_ = false;
  uint64_t hint_ = 0;
  uint64_t temp_counter_ = 0;
  ClaimStats stats_;
  std::mutex job_mu_;  // guards job_gone_ (called from both threads) and owner_jobs_
  std::function<bool(const std::string&)> job_gone_;
  // Per open trial: (attempt, its owner's Slurm job, "" when not ours to ask about).
  std::unordered_map<uint64_t, std::pair<uint32_t, std::string>> owner_jobs_;
  bool OwnerJobGone(uint64_t index, uint32_t attempt);
};

}  // namespace claimsweep
