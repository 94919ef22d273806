#include "trial/lease_keeper.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "trial/log.h"

namespace claimsweep {

// The process's beating thread and the keepers it serves.
class Beater {
 public:
  static Beater& Get() {
    // Never destroyed: the detached thread may still wait on it at exit.
    static Beater* b = new Beater;
    return *b;
  }

  void Add(LeaseKeeper* k) {
    std::lock_guard<std::mutex> l(mu_);
    k->next_ = std::chrono::steady_clock::now() + k->period_;
    keepers_.push_back(k);
    if (!started_) {
      started_ = true;
      std::thread([this] { Loop(); }).detach();
    }
    // The thread wakes by itself before this keeper's first beat is due
    // (it sleeps until the last keeper's, a period after an earlier now):
    // no wake-up per trial.
    if (k->next_ < wake_at_) cv_.notify_all();
  }

  void Remove(LeaseKeeper* k) {
    std::unique_lock<std::mutex> l(mu_);
    done_cv_.wait(l, [k] { return !k->beating_; });
    keepers_.erase(std::remove(keepers_.begin(), keepers_.end(), k), keepers_.end());
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      if (keepers_.empty()) {
        // Until the beat that would have been next (or for good): a keeper
        // added meanwhile is due later, or wakes us.
        if (wake_at_ <= std::chrono::steady_clock::now())
          wake_at_ = std::chrono::steady_clock::time_point::max();
        if (wake_at_ == std::chrono::steady_clock::time_point::max()) {
          cv_.wait(l);
        } else {
          cv_.wait_until(l, wake_at_);
        }
        continue;
      }
      LeaseKeeper* due =
          *std::min_element(keepers_.begin(), keepers_.end(),
                            [](LeaseKeeper* a, LeaseKeeper* b) { return a->next_ < b->next_; });
      if (std::chrono::steady_clock::now() < due->next_) {
        wake_at_ = due->next_;
        cv_.wait_until(l, wake_at_);  // or an earlier keeper came: look again
        continue;
      }
      due->beating_ = true;
      l.unlock();
      const bool again = due->Beat();
      l.lock();
      due->beating_ = false;
      due->next_ = std::chrono::steady_clock::now() + due->period_;
      if (!again)
        keepers_.erase(std::remove(keepers_.begin(), keepers_.end(), due), keepers_.end());
      done_cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;       // keepers added or removed
  std::condition_variable done_cv_;  // a beat finished
  std::vector<LeaseKeeper*> keepers_;
  bool started_ = false;
  // When the thread wakes next by itself (max: only when notified).
  std::chrono::steady_clock::time_point wake_at_ = std::chrono::steady_clock::time_point::max();
};

LeaseKeeper::LeaseKeeper(Claimer* claimer, Claim claim, double period_s,
                         std::function<bool()> stop_check)
    : claimer_(claimer),
      claim_(claim),
      // Ticks at half the heartbeat period: peers are watched at every tick,
      // the heartbeat renewed at every second one.
      period_(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(period_s / 2))),
      stop_check_(std::move(stop_check)) {
  Beater::Get().Add(this);
}

LeaseKeeper::~LeaseKeeper() { Beater::Get().Remove(this); }

std::string LeaseKeeper::lost_reason() const {
  return lost_.load(std::memory_order_acquire) ? reason_ : "";
}

bool LeaseKeeper::Beat() {
  const int marked = claimer_->WatchPeers(claim_);
  if (marked > 0) {
    LogInfo("judged " + std::to_string(marked) + (marked == 1 ? " trial" : " trials") +
            " stale (heartbeat unchanged for a lease, or Slurm job gone): claimable now");
  }
  if (++ticks_ % 2 != 0) return true;
  Status s = claimer_->Heartbeat(claim_);
  if (s.IsSuperseded()) {
    reason_ = s.message();
    lost_.store(true, std::memory_order_release);
    must_end_ = true;
    return false;
  }
  if (!s.ok()) {
    LogWarn("heartbeat failed (will retry): " + s.ToString());
  } else if (LogEnabled(LogLevel::kDebug)) {
    LogDebug("heartbeat: trial " + TrialName(claim_.index) + " attempt " +
             std::to_string(claim_.attempt));
  }
  if (stop_check_ && !stop_requested_ && stop_check_()) {
    stop_requested_ = true;
    must_end_ = true;
  }
  return true;
}

}  // namespace claimsweep
