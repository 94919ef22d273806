// LeaseKeeper: renews a claim's heartbeat on a background thread while the
// task runs, and raises `lost` the moment the claim is superseded. After each
// heartbeat it also asks `stop_check` (trials/<i>/stop exists: `sweep stop`)
// and raises `stop_requested`.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/claim.h"

namespace claimsweep {

class LeaseKeeper {
 public:
  // Starts beating at once. Claimer::Heartbeat only reads shared state, so it
  // is safe to call from this thread while the owner thread waits on the task.
  LeaseKeeper(Claimer* claimer, Claim claim, double period_s, std::function<bool()> stop_check = nullptr);
  ~LeaseKeeper();  // stops the thread
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  const std::atomic<bool>& lost() const { return lost_; }
  // The user asked the trial to stop (checked once per heartbeat).
  bool stop_requested() const { return stop_requested_.load(); }
  // lost() or stop_requested(): the task must end now (a command's abort flag).
  const std::atomic<bool>& must_end() const { return must_end_; }
  std::string lost_reason() const;

 private:
  void Loop();

  Claimer* claimer_;
  Claim claim_;
  double period_s_;
  std::function<bool()> stop_check_;
  std::atomic<bool> lost_{false};
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> must_end_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::string reason_;
  std::thread thread_;
};

}  // namespace claimsweep
