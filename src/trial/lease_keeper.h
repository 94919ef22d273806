// LeaseKeeper: renews a claim's heartbeat in the background while the task
// runs, and raises `lost` the moment the claim is superseded. After each
// heartbeat it also asks `stop_check` (trials/<i>/stop exists: `sweep stop`)
// and raises `stop_requested`. Every half period it watches its peers
// (Claimer::WatchPeers: marks the open trials after its own that it judges
// stale), so that dead owners are found while every process is busy.
//
// The beats come from one thread per process, started by the first keeper
// and kept for the next ones (a thread per trial cost more than a short
// trial's claim); each keeper is a schedule on it.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

#include "core/claim.h"

namespace claimsweep {

class LeaseKeeper {
 public:
  // Beats every `period_s`, the first one period from now; watches peers
  // every half period. Claimer::Heartbeat
  // only reads shared state, so it is safe to call from the beating thread
  // while the owner thread waits on the task.
  LeaseKeeper(Claimer* claimer, Claim claim, double period_s,
              std::function<bool()> stop_check = nullptr);
  // Stops the beats; waits for one in progress, so nothing of this keeper or
  // its claimer is used after it returns.
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  const std::atomic<bool>& lost() const { return lost_; }
  // The user asked the trial to stop (checked once per heartbeat).
  bool stop_requested() const { return stop_requested_.load(); }
  // lost() or stop_requested(): the task must end now (a command's abort flag).
  const std::atomic<bool>& must_end() const { return must_end_; }
  std::string lost_reason() const;

 private:
  friend class Beater;
  // One beat; false once the claim is lost (no more beats).
  bool Beat();

  Claimer* claimer_;
  Claim claim_;
  std::chrono::steady_clock::duration period_;
  std::chrono::steady_clock::time_point next_;  // guarded by the beater's mutex
  bool beating_ = false;  // guarded by the beater's mutex: a Beat() in progress
  uint64_t ticks_ = 0;    // only the beating thread touches it
  std::function<bool()> stop_check_;
  std::atomic<bool> lost_{false};
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> must_end_{false};
  std::string reason_;  // set before lost_ (release), read after it
};

}  // namespace claimsweep
