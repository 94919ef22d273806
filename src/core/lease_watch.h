// LeaseWatch: judges whether open trials' owners are alive, by this process's
// own monotonic clock and never by comparing a file time with a clock.
//
// A heartbeat is the owner's touch of its owner.json. Who stamps the new
// mtime depends on the filesystem: an NFS server stamps its own time, but
// sshfs, Lustre and GPFS clients stamp the *client's* time, and a node whose
// NTP died may be minutes off. Comparing a stamp with any clock (the
// observer's, or the filesystem's as seen through the observer's client)
// then judges live trials stale, or dead ones alive.
//
// So an observer only asks whether the stamp *changed*. It remembers the
// stamp it saw last and when, by its own CLOCK_MONOTONIC, it first saw that
// stamp; the lease has expired when the stamp has stayed the same for
// `lease_seconds` of the observer's own time. A live owner changes the stamp
// at every heartbeat (at most a third of the lease, enforced at `sweep init`),
// whatever its clock says, so no clock skew makes it look dead; a dead one
// stops changing it, and every observer that watches it judges it stale
// within one lease plus one poll of the last heartbeat it saw.
//
// What the judgement needs from the filesystem: a timestamp resolution finer
// than the heartbeat (sshfs: 1 s) and a change that shows through the
// observer's client within lease - heartbeat (attribute caches). `sweep
// fscheck` measures both.
//
// A target whose attempt is not published yet (a claimer created the lease
// entry and died before its rename) has no owner.json: the lease entry's own
// stamp, which nobody renews, is watched instead.
//
// Thread-safe: `trial`'s lease thread watches peers while its main thread may
// watch held trials when it has nothing to claim.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/env.h"
#include "core/layout.h"

namespace claimsweep {

class LeaseWatch {
 public:
  enum class Verdict {
    kUnknown,  // watched, unchanged so far, not yet for a lease
    kAlive,    // its stamp changed while this process watched it
    kStale,    // unchanged for a lease of this process's time: claimable
    kGone,     // neither owner.json nor the lease entry exists any more
  };
  struct Look {
    Verdict verdict = Verdict::kUnknown;
    double unchanged_s = 0;  // how long this process has seen the same stamp
    double stale_in_s = 0;   // seconds until it is stale if it stays unchanged
  };

  // Polls closer together than `min_poll_s` reuse the last look (no call).
  LeaseWatch(Env* env, SweepLayout layout, double lease_seconds, double min_poll_s);

  // Looks at attempt `attempt` of trial `index` (one stat; two when the
  // attempt is not published), or reuses a look younger than min_poll_s.
  // `entry_name`: its lease entry in leases/.
  Look Poll(uint64_t index, uint32_t attempt, const std::string& entry_name);
  // Whether the last look at (index, attempt) saw it change, without a call.
  bool SeenAlive(uint64_t index, uint32_t attempt) const;
  // Forgets a trial (taken over, finished, judged).
  void Forget(uint64_t index);

 private:
  struct Observation {
    uint32_t attempt = 0;
    bool on_entry = false;  // watching the lease entry (no owner.json)
    int64_t stamp_ns = 0;
    uint64_t size = 0;
    int64_t since_ns = 0;   // monotonic: when this stamp was first seen
    int64_t polled_ns = 0;  // monotonic: last stat
    bool changed = false;   // the stamp changed at least once while watched
    bool missed = false;    // owner.json was not found once (looked at again before judging)
  };

  Env* env_;
  SweepLayout layout_;
  int64_t lease_ns_;
  int64_t min_poll_ns_;
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Observation> seen_;
};

}  // namespace claimsweep
