// FaultEnv: an Env over a real directory that can "crash" at the Nth mutating
// operation (that op and every later one fail, and a crashing write leaves a
// torn file), and whose filesystem clock can be moved forward so lease expiry
// is tested without sleeping. Thread-safe, as every Env must be (env.h).
#pragma once

#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>

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
  // sshfs: a rename onto an existing non-empty directory fails with EPERM
  // (the SFTP server answers SSH_FX_FAILURE, which sshfs maps to EPERM), not
  // ENOTEMPTY or EEXIST.
  void RenameOntoADirectoryIsPermissionDenied(bool on) { rename_eperm_ = on; }
  // A power cut: at the crash, every file's data that was not made durable
  // through this Env is lost. A file created without fsync (CreateExclusive
  // without `sync`, the torn file of a crashing write) is emptied, and what
  // AppendFile added since is cut off; the loss follows the file through
  // renames and links. WriteFileAtomic and CreateExclusive(sync) are durable,
  // as Env promises. Directory entries themselves are not lost: the Env has
  // no directory sync to model, and on NFS the server commits a CREATE,
  // RENAME, LINK or REMOVE to stable storage before it replies (RFC 1813).
  void DropUnsyncedDataAtCrash(bool on) { drop_unsynced_ = on; }

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
    if (Crash()) return Dead();
    Status st = base_->Rename(f, t);
    if (st.ok()) Moved(f, t);
    if (st.IsAlreadyExists() && rename_eperm_)
      return Status::PermissionDenied("rename " + f + " -> " + t + ": Operation not permitted");
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
    return crashed_ ? Dead() : base_->ReadFile(p, d);
  }
  Status CreateDir(const std::string& p) override { return Crash() ? Dead() : base_->CreateDir(p); }
  Status CreateDirs(const std::string& p) override {
    return Crash() ? Dead() : base_->CreateDirs(p);
  }
  Status ListDir(const std::string& d, std::vector<std::string>* n) override {
    return crashed_ ? Dead() : base_->ListDir(d, n);
  }
  Status Stat(const std::string& p, FileInfo* i) override {
    return crashed_ ? Dead() : base_->Stat(p, i);
  }
  Status Touch(const std::string& p) override { return Crash() ? Dead() : base_->Touch(p); }
  Status RemoveFile(const std::string& p) override {
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
  Status FsNow(const std::string& probe, int64_t* now_ns) override {
    CS_RETURN_IF_ERROR(Env::FsNow(probe, now_ns));
    *now_ns += offset_ns_;
    return Status::OK();
  }

 private:
  bool Crash() {
    if (crashed_) return true;
    const long op = ops_++;
    if (crash_at_ >= 0 && op >= crash_at_) crashed_ = true;
    return crashed_;
  }
  // Durability is modelled, not done: nothing is fsync'ed for real (the
  // test's own disk need not survive a power cut, and crash loops stay fast).
  Status Create(const std::string& path, const std::string& data, bool durable) {
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
  std::atomic<bool> rename_eperm_{false};
  std::atomic<int64_t> offset_ns_{0};
  std::atomic<bool> drop_unsynced_{false};
  std::mutex mu_;
  bool power_cut_ = false;
  std::map<std::string, uint64_t> unsynced_;
};

}  // namespace claimsweep
