#include "core/lease_watch.h"

#include <algorithm>

namespace claimsweep {

LeaseWatch::LeaseWatch(Env* env, SweepLayout layout, double lease_seconds, double min_poll_s)
    : env_(env),
      layout_(std::move(layout)),
      lease_ns_(static_cast<int64_t>(lease_seconds * 1e9)),
      min_poll_ns_(static_cast<int64_t>(min_poll_s * 1e9)) {}

LeaseWatch::Look LeaseWatch::Poll(uint64_t index, uint32_t attempt, const std::string& entry_name) {
  auto look = [&](const Observation& o, int64_t now) {
    Look l;
    const int64_t unchanged = now - o.since_ns;
    l.unchanged_s = static_cast<double>(unchanged) / 1e9;
    l.stale_in_s = static_cast<double>(std::max<int64_t>(0, lease_ns_ - unchanged)) / 1e9;
    l.verdict = unchanged >= lease_ns_ ? Verdict::kStale
                : o.changed            ? Verdict::kAlive
                                       : Verdict::kUnknown;
    return l;
  };
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = seen_.find(index);
    const int64_t now = env_->MonotonicNs();
    if (it != seen_.end() && it->second.attempt == attempt &&
        now - it->second.polled_ns < min_poll_ns_)
      return look(it->second, now);
  }
  // The stat runs unlocked: on a frozen mount it may block, and the other
  // thread's looks at other trials need not wait for it.
  FileInfo info;
  bool on_entry = false;
  Status s = env_->Stat(layout_.owner_path(index, attempt), &info);
  if (s.IsNotFound()) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = seen_.find(index);
    if (it != seen_.end() && it->second.attempt == attempt && !it->second.on_entry &&
        !it->second.missed) {
      // owner.json was there: an ESTALE (NFS) or a reset moving the attempt.
      // Gone, look again: judge nothing this time.
      it->second.missed = true;
      return look(it->second, env_->MonotonicNs());
    }
  }
  if (s.IsNotFound()) {
    on_entry = true;
    s = env_->Stat(layout_.lease_entry_path(entry_name), &info);
  }
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = env_->MonotonicNs();
  if (!s.ok()) {
    // Gone (committed, released, renamed by a peer), or unreadable now:
    // either way nothing was seen, so nothing is judged; look again later.
    seen_.erase(index);
    Look l;
    l.verdict = s.IsNotFound() ? Verdict::kGone : Verdict::kUnknown;
    l.stale_in_s = static_cast<double>(lease_ns_) / 1e9;
    return l;
  }
  auto [it, fresh] = seen_.try_emplace(index);
  Observation& o = it->second;
  if (fresh || o.attempt != attempt || o.on_entry != on_entry) {
    // A new target, or a different file to watch: start over, nothing seen yet.
    o = Observation();
    o.attempt = attempt;
    o.on_entry = on_entry;
    o.stamp_ns = info.mtime_ns;
    o.size = info.size;
    o.since_ns = now;
  } else if (info.mtime_ns != o.stamp_ns || info.size != o.size) {
    o.stamp_ns = info.mtime_ns;
    o.size = info.size;
    o.since_ns = now;
    o.changed = true;
  }
  o.polled_ns = now;
  o.missed = false;
  return look(o, now);
}

bool LeaseWatch::SeenAlive(uint64_t index, uint32_t attempt) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = seen_.find(index);
  return it != seen_.end() && it->second.attempt == attempt && it->second.changed &&
         env_->MonotonicNs() - it->second.since_ns < lease_ns_;
}

void LeaseWatch::Forget(uint64_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  seen_.erase(index);
}

}  // namespace claimsweep
