// A sweep kept in memory for `sweep serve`, re-read incrementally: each
// Poll() re-reads only the trials whose files changed since the last one,
// plus the trials whose state can change with no file changing (running:
// a lease expires by the clock), and adds newly claimed ones.
//
// What changed comes from inotify (a watch on trials/ and on each claimed
// trial's directory) where the filesystem delivers it: a local disk, or the
// node that writes. On NFS, Lustre or GlusterFS, other nodes' writes raise
// no event, so every poll also stats a bounded slice of the trial
// directories (round robin, `scan_per_poll` of them) and re-reads those whose
// directory changed (mtime, ctime): a change shows within
// ceil(claimed / scan_per_poll) polls. When watches run out
// (fs.inotify.max_user_watches) the rest are covered the same way.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/results.h"

namespace claimsweep {

class LiveSweep {
 public:
  struct Options {
    bool use_inotify = true;
    size_t scan_per_poll = 2000;  // directories stat'ed per Poll()
    LoadOptions load;             // curves and log tails, for the page
  };
  LiveSweep(std::string dir, Options options);
  ~LiveSweep();
  LiveSweep(const LiveSweep&) = delete;
  LiveSweep& operator=(const LiveSweep&) = delete;

  // The first, full read.
  Status Open();
  // Re-reads what changed; true when the results may differ (version() grew).
  Status Poll(bool* changed);
  // Reads it all again, as Open() did (version() grows). For what Poll()
  // does not follow: an early-stopping sweep's rungs, whose work changes
  // files outside trials/.
  Status Reload();

  const SweepResults& results() const { return res_; }
  const std::string& dir() const { return dir_; }
  Env* env() { return env_.get(); }
  uint64_t version() const { return version_; }
  // Trials the last Poll() re-read, and whether inotify watches them.
  size_t last_reloaded() const { return last_reloaded_; }
  bool watching() const { return inotify_fd_ >= 0; }

 private:
  struct DirStamp {
    int64_t mtime_ns = -1, ctime_ns = -1;
    bool operator==(const DirStamp& o) const {
      return mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns;
    }
  };
  void Watch(uint64_t index);
  void DrainEvents(std::vector<uint64_t>* changed, bool* list_again);
  DirStamp StampOf(uint64_t index) const;

  std::string dir_;
  Options options_;
  std::unique_ptr<Env> env_;
  SweepResults res_;
  uint64_t version_ = 0;
  size_t last_reloaded_ = 0;
  int inotify_fd_ = -1;
  int trials_wd_ = -1;
  std::map<int, uint64_t> wd_index_;
  std::map<uint64_t, DirStamp> stamps_;  // unwatched trials: their directory's last stamp
  size_t scan_cursor_ = 0;
  bool watch_limit_hit_ = false;
};

}  // namespace claimsweep
