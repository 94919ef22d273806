#include "sweep/live_sweep.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "core/layout.h"
#include "core/sweep_scan.h"

namespace claimsweep {

namespace {

constexpr uint32_t kTrialMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF;

// What the page shows of a trial, to tell whether a re-read changed anything.
std::string Fingerprint(const TrialRecord& t) {
  std::string f = std::to_string(static_cast<int>(t.state)) + "/" + std::to_string(t.attempts) +
                  "/" + std::to_string(t.csv_rows) + "/" + std::to_string(t.curve.size()) + "/" +
                  std::to_string(t.metrics.size()) + "/" + t.problem + "/" + t.log_tail;
  for (const auto& [k, v] : t.metrics) f += k + "=" + std::to_string(v) + ",";
  return f;
}

bool Rereads(TrialState s) { return s == TrialState::kRunning || s == TrialState::kBroken; }

}  // namespace

LiveSweep::LiveSweep(std::string dir, Options options)
    : dir_(std::move(dir)), options_(std::move(options)) {}

LiveSweep::~LiveSweep() {
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
}

Status LiveSweep::Open() {
  env_ = NewSweepEnv(dir_);
  if (options_.use_inotify) {
    // Watches first, then the read: a change between the two is seen twice, never missed.
    inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ >= 0) {
      trials_wd_ = ::inotify_add_watch(inotify_fd_, SweepLayout(dir_).trials_dir().c_str(),
                                       IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_ONLYDIR);
      if (trials_wd_ < 0) {
        ::close(inotify_fd_);
        inotify_fd_ = -1;
      }
    }
  }
  CS_RETURN_IF_ERROR(LoadResults(env_.get(), dir_, options_.load, &res_));
  for (const TrialRecord& t : res_.trials) Watch(t.index);
  ++version_;
  return Status::OK();
}

LiveSweep::DirStamp LiveSweep::StampOf(uint64_t index) const {
  struct stat st;
  DirStamp d;
  if (::lstat(SweepLayout(dir_).trial_dir(index).c_str(), &st) == 0) {
    d.mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    d.ctime_ns = st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
  }
  return d;
}

void LiveSweep::Watch(uint64_t index) {
  if (inotify_fd_ >= 0 && !watch_limit_hit_) {
    const int wd = ::inotify_add_watch(inotify_fd_, SweepLayout(dir_).trial_dir(index).c_str(),
                                       kTrialMask | IN_ONLYDIR | IN_DONT_FOLLOW);
    if (wd >= 0) {
      wd_index_[wd] = index;
      return;
    }
    if (errno == ENOSPC) watch_limit_hit_ = true;  // the rest: bounded scans
  }
  stamps_[index] = StampOf(index);
}

void LiveSweep::DrainEvents(std::vector<uint64_t>* changed, bool* list_again) {
  alignas(struct inotify_event) char buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
    if (n <= 0) return;  // EAGAIN: nothing more
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const struct inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
      if (ev->mask & IN_Q_OVERFLOW) {
        *list_again = true;
        continue;
      }
      if (ev->wd == trials_wd_) {
        uint64_t index = 0;
        if (ev->len > 0 && ParseTrialName(ev->name, &index) && index < res_.num_points) {
          changed->push_back(index);
          if (ev->mask & (IN_CREATE | IN_MOVED_TO)) Watch(index);
        }
        continue;
      }
      auto it = wd_index_.find(ev->wd);
      if (it == wd_index_.end()) continue;
      changed->push_back(it->second);
      if (ev->mask & IN_IGNORED) wd_index_.erase(it);
    }
  }
}

Status LiveSweep::Reload() {
  SweepResults fresh;
  CS_RETURN_IF_ERROR(LoadResults(env_.get(), dir_, options_.load, &fresh));
  res_ = std::move(fresh);
  for (const TrialRecord& t : res_.trials) {
    if (!stamps_.count(t.index) && std::none_of(wd_index_.begin(), wd_index_.end(),
                                                [&](const auto& w) { return w.second == t.index; }))
      Watch(t.index);
  }
  last_reloaded_ = res_.trials.size();
  ++version_;
  return Status::OK();
}

Status LiveSweep::Poll(bool* changed) {
  *changed = false;
  std::vector<uint64_t> todo;
  bool list_again = inotify_fd_ < 0 || watch_limit_hit_;
  bool overflow = false;
  if (inotify_fd_ >= 0) DrainEvents(&todo, &overflow);
  if (overflow) {
    // Events were lost: read it all again, as Open() did.
    CS_RETURN_IF_ERROR(Reload());
    *changed = true;
    return Status::OK();
  }
  if (list_again) {
    // Newly claimed trials, without events to tell: trials/ is listed.
    std::vector<uint64_t> claimed;
    CS_RETURN_IF_ERROR(
        ListClaimedIndices(env_.get(), SweepLayout(dir_), res_.num_points, &claimed));
    size_t k = 0;
    for (uint64_t i : claimed) {
      while (k < res_.trials.size() && res_.trials[k].index < i) ++k;
      if (k < res_.trials.size() && res_.trials[k].index == i) continue;
      todo.push_back(i);
      Watch(i);
    }
  }
  // Unwatched trials: a bounded slice of them, round robin.
  if (!stamps_.empty()) {
    auto it = stamps_.lower_bound(scan_cursor_);
    for (size_t n = 0; n < options_.scan_per_poll && n < stamps_.size(); ++n) {
      if (it == stamps_.end()) it = stamps_.begin();
      const DirStamp now = StampOf(it->first);
      if (!(now == it->second)) {
        it->second = now;
        todo.push_back(it->first);
      }
      scan_cursor_ = it->first + 1;
      ++it;
    }
  }
  for (const TrialRecord& t : res_.trials) {
    if (Rereads(t.state)) todo.push_back(t.index);
  }
  std::sort(todo.begin(), todo.end());
  todo.erase(std::unique(todo.begin(), todo.end()), todo.end());
  last_reloaded_ = todo.size();
  if (todo.empty()) return Status::OK();

  std::map<uint64_t, std::string> before;
  size_t k = 0;
  for (uint64_t i : todo) {
    while (k < res_.trials.size() && res_.trials[k].index < i) ++k;
    if (k < res_.trials.size() && res_.trials[k].index == i)
      before[i] = Fingerprint(res_.trials[k]);
  }
  CS_RETURN_IF_ERROR(RefreshTrials(env_.get(), options_.load, todo, &res_));
  k = 0;
  for (uint64_t i : todo) {
    while (k < res_.trials.size() && res_.trials[k].index < i) ++k;
    auto b = before.find(i);
    if (b == before.end() || k >= res_.trials.size() || b->second != Fingerprint(res_.trials[k])) {
      *changed = true;
      break;
    }
  }
  if (*changed) ++version_;
  return Status::OK();
}

}  // namespace claimsweep
