// LeaseKeeper: renews a claim's heartbeat on a background thread while the
// task runs, and raises `lost` the moment the claim is superseded.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "core/claim.h"

namespace claimsweep {

class LeaseKeeper {
 public:
  // Starts beating at once. Claimer::Heartbeat only reads shared state, so it
  // is safe to call from this thread while the owner thread waits on the task.
  LeaseKeeper(Claimer* claimer, Claim claim, double period_s);
  ~LeaseKeeper();  // stops the thread
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  const std::atomic<bool>& lost() const { return lost_; }
  std::string lost_reason() const;

 private:
  void Loop();

  Claimer* claimer_;
  Claim claim_;
  double period_s_;
  std::atomic<bool> lost_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::string reason_;
  std::thread thread_;
};

}  // namespace claimsweep
