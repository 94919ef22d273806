// FaultEnv: an Env over a real directory that can "crash" at the Nth mutating
// operation (that op and every later one fail, and a crashing write leaves a
// torn file), and whose filesystem clock can be moved forward so lease expiry
// is tested without sleeping. Thread-safe, as every Env must be (env.h).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/env.h"

namespace claimsweep {

class FaultEnv : public Env {
 public:
  explicit FaultEnv(Env* base) : base_(base) {}

  // Mutating ops numbered from 0; op `n` and later fail. -1: never.
  void CrashAtOp(long n) { crash_at_ = n; }
  long ops() const { return ops_; }
  bool crashed() const { return crashed_; }
  void AdvanceClock(double seconds) { offset_ns_ += static_cast<int64_t>(seconds * 1e9); }
  // NFS retransmits: a rename or link that succeeded answers EEXIST, as when
  // the server's reply to the first request was lost.
  void ReportExistsAfterSuccess(bool on) { lie_after_success_ = on; }
  // A power cut: at the crash, every file's data that was not made durable
  // through this Env is lost. A file created without fsync (CreateExclusive
  // without `sync`, the torn file of a crashing write) is emptied, and what
  // AppendFile added since is cut off; the loss follows the file through
  // renames and links. WriteFileAtomic and CreateExclusive(sync) are durable,
  // as Env promises. Directory entries themselves are not lost: the Env has
  // no directory sync to model, and on NFS the server commits a CREATE,
  // RENAME, LINK or REMOVE to stable storage before it replies (RFC 1813).
  void DropUnsyncedDataAtCrash(bool on) { drop_unsynced_ = on; }
  // A client that stamps file times with its own clock, `seconds` off (sshfs,
  // Lustre, GPFS on a node whose NTP died): every Touch through this Env sets
  // the mtime to the real time plus `seconds`, and so FsNow reads that too.
  void SkewTouches(double seconds) { touch_skew_ns_ = static_cast<int64_t>(seconds * 1e9); }
  // The next call on a path that contains `part` fails with errno `err`
  // (ESTALE: a peer renamed or removed what an NFS handle pointed at).
  void FailOnce(const std::string& part, int err) {
    std::lock_guard<std::mutex> l(mu_);
    fail_once_.emplace_back(part, err);
  }
  // Every call through this Env so far (reads included): a claim's cost.
  long calls() const { return calls_; }

  Status WriteFileAtomic(const std::string& path, const std::string& data) override {
    // Spelled out as temp write + rename so a crash can fall between them.
    // The temp file counts as fsync'ed, as Env promises.
    const std::string tmp = path + ".tmp.fault";
    CS_RETURN_IF_ERROR(Create(tmp, data, /*durable=*/true));
    return Rename(tmp, path);
  }
  Status CreateExclusive(const std::string& path, const std::string& data,
                         bool sync = false) override {
    return Create(path, data, /*durable=*/sync);
  }
  Status LinkExclusive(const std::string& s, const std::string& d) override {
    if (Crash()) return Dead();
    Status st = base_->LinkExclusive(s, d);
    if (st.ok()) Linked(s, d);
    return st.ok() && lie_after_success_
               ? Status::AlreadyExists("link " + d + ": File exists (retransmitted)")
               : st;
  }
  Status Rename(const std::string& f, const std::string& t) override {
    if (Status inj = Injected("rename", f); !inj.ok()) return inj;
    if (Crash()) return Dead();
    Status st = base_->Rename(f, t);
    if (st.ok()) Moved(f, t);
    return st.ok() && lie_after_success_
               ? Status::AlreadyExists("rename " + t + ": File exists (retransmitted)")
               : st;
  }
  Status AppendFile(const std::string& p, const std::string& d) override {
    if (Crash()) return Dead();
    FileInfo before;
    const uint64_t size = base_->Stat(p, &before).ok() ? before.size : 0;
    Status s = base_->AppendFile(p, d);
    if (s.ok()) Unsynced(p, size);
    return s;
  }
  Status ReadFile(const std::string& p, std::string* d) override {
    ++calls_;
    if (Status inj = Injected("read", p); !inj.ok()) return inj;
    return crashed_ ? Dead() : base_->ReadFile(p, d);
  }
  Status CreateDir(const std::string& p) override { return Crash() ? Dead() : base_->CreateDir(p); }
  Status CreateDirs(const std::string& p) override {
    return Crash() ? Dead() : base_->CreateDirs(p);
  }
  Status ListDir(const std::string& d, std::vector<std::string>* n) override {
    ++calls_;
    if (Status inj = Injected("opendir", d); !inj.ok()) return inj;
    return crashed_ ? Dead() : base_->ListDir(d, n);
  }
  Status Stat(const std::string& p, FileInfo* i) override {
    ++calls_;
    if (Status inj = Injected("stat", p); !inj.ok()) return inj;
    return crashed_ ? Dead() : base_->Stat(p, i);
  }
  Status Touch(const std::string& p) override {
    if (Crash()) return Dead();
    Status s = base_->Touch(p);
    if (s.ok() && touch_skew_ns_ != 0) {
      struct timespec now, ts[2];
      ::clock_gettime(CLOCK_REALTIME, &now);
      const int64_t t = now.tv_sec * 1000000000LL + now.tv_nsec + touch_skew_ns_;
      ts[0].tv_sec = ts[1].tv_sec = t / 1000000000LL;
      ts[0].tv_nsec = ts[1].tv_nsec = t % 1000000000LL;
      if (::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
        return Status::FromErrno("utimensat", p, errno);
    }
    return s;
  }
  Status RemoveFile(const std::string& p) override {
    if (Status inj = Injected("unlink", p); !inj.ok()) return inj;
    if (Crash()) return Dead();
    Status s = base_->RemoveFile(p);
    if (s.ok()) Forget(p);
    return s;
  }
  Status RemoveTree(const std::string& p) override {
    if (Crash()) return Dead();
    Status s = base_->RemoveTree(p);
    if (s.ok()) Forget(p);
    return s;
  }
  // AdvanceClock moves this process's monotonic clock too: a lease observer
  // (lease_watch.h) sees that much time pass.
  int64_t MonotonicNs() override { return base_->MonotonicNs() + offset_ns_; }
  Status FsNow(const std::string& probe, int64_t* now_ns) override {
    CS_RETURN_IF_ERROR(Env::FsNow(probe, now_ns));
    *now_ns += offset_ns_;
    return Status::OK();
  }

 private:
  // Counts the call; an error if FailOnce asked for one on this path.
  Status Injected(const char* what, const std::string& path) {
    std::lock_guard<std::mutex> l(mu_);
    for (auto it = fail_once_.begin(); it != fail_once_.end(); ++it) {
      if (path.find(it->first) == std::string::npos) continue;
      const int err = it->second;
      fail_once_.erase(it);
      return Status::FromErrno(what, path, err);
    }
    return Status::OK();
  }
  bool Crash() {
    ++calls_;
    if (crashed_) return true;
    const long op = ops_++;
    if (crash_at_ >= 0 && op >= crash_at_) crashed_ = true;
    return crashed_;
  }
  // Durability is modelled, not done: nothing is fsync'ed for real (the
  // test's own disk need not survive a power cut, and crash loops stay fast).
  Status Create(const std::string& path, const std::string& data, bool durable) {
    if (Status inj = Injected("create", path); !inj.ok()) return inj;
    if (Crash()) {
      // A crash mid-write: half the bytes reach the file, none of them durably.
      if (base_->CreateExclusive(path, data.substr(0, data.size() / 2), false).ok())
        Unsynced(path, 0);
      return Dead();
    }
    Status s = base_->CreateExclusive(path, data, /*sync=*/false);
    if (s.ok() && !durable) Unsynced(path, 0);
    return s;
  }
  // Every op at and after the crash: the power is gone, and with it what was
  // never durable (once, if DropUnsyncedDataAtCrash).
  Status Dead() {
    std::lock_guard<std::mutex> l(mu_);
    if (drop_unsynced_ && !power_cut_) {
      power_cut_ = true;
      for (const auto& [path, durable] : unsynced_)
        (void)!::truncate(path.c_str(), static_cast<off_t>(durable));
    }
    return Status::IOError("injected crash");
  }

  // What survives a power cut of each file written without fsync: its size
  // when it was last durable. Keyed by path; moved along with renames.
  void Unsynced(const std::string& path, uint64_t durable) {
    std::lock_guard<std::mutex> l(mu_);
    unsynced_.emplace(path, durable);  // an earlier, smaller durable size stands
  }
  static bool Below(const std::string& path, const std::string& dir) {
    return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                           path[dir.size()] == '/');
  }
  void Forget(const std::string& path) {
    std::lock_guard<std::mutex> l(mu_);
    for (auto it = unsynced_.begin(); it != unsynced_.end();)
      it = Below(it->first, path) ? unsynced_.erase(it) : ++it;
  }
  void Moved(const std::string& from, const std::string& to) {
    Forget(to);  // replaced
    std::lock_guard<std::mutex> l(mu_);
    std::map<std::string, uint64_t> moved;
    for (auto it = unsynced_.begin(); it != unsynced_.end();) {
      if (!Below(it->first, from)) {
        ++it;
        continue;
      }
      moved[to + it->first.substr(from.size())] = it->second;
      it = unsynced_.erase(it);
    }
    unsynced_.insert(moved.begin(), moved.end());
  }
  void Linked(const std::string& src, const std::string& dst) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = unsynced_.find(src);
    if (it != unsynced_.end()) unsynced_[dst] = it->second;  // one inode: the same data is lost
  }

  Env* base_;
  std::atomic<long> crash_at_{-1};
  std::atomic<long> ops_{0};
  std::atomic<bool> crashed_{false};
  std::atomic<bool> lie_after_success_{false};
  std::atomic<int64_t> offset_ns_{0};
  std::atomic<bool> drop_unsynced_{false};
  std::atomic<int64_t> touch_skew_ns_{0};
  std::atomic<long> calls_{0};
  std::vector<std::pair<std::string, int>> fail_once_;  // guarded by mu_
  std::mutex mu_;
  bool power_cut_ = false;
  std::map<std::string, uint64_t> unsynced_;
};

}  // namespace claimsweep
