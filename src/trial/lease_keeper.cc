#include "trial/lease_keeper.h"

#include <chrono>

#include "trial/log.h"

namespace claimsweep {

LeaseKeeper::LeaseKeeper(Claimer* claimer, Claim claim, double period_s, std::function<bool()> stop_check)
    : claimer_(claimer),
      claim_(claim),
      period_s_(period_s),
      stop_check_(std::move(stop_check)),
      thread_([this] { Loop(); }) {}

LeaseKeeper::~LeaseKeeper() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::string LeaseKeeper::lost_reason() const {
  std::lock_guard<std::mutex> l(mu_);
  return reason_;
}

void LeaseKeeper::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  const auto period = std::chrono::duration<double>(period_s_);
  while (!cv_.wait_for(l, period, [this] { return stop_; })) {
    l.unlock();
    Status s = claimer_->Heartbeat(claim_);
    l.lock();
    if (s.IsSuperseded()) {
      reason_ = s.message();
      lost_ = true;
      must_end_ = true;
      return;
    }
    if (!s.ok()) {
      LogWarn("heartbeat failed (will retry): " + s.ToString());
    } else if (LogEnabled(LogLevel::kDebug)) {
      LogDebug("heartbeat: trial " + TrialName(claim_.index) + " attempt " + std::to_string(claim_.attempt));
    }
    if (stop_check_ && !stop_requested_ && stop_check_()) {
      stop_requested_ = true;
      must_end_ = true;
    }
  }
}

}  // namespace claimsweep
