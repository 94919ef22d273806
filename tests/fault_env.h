// FaultEnv: an Env over a real directory that can "crash" at the Nth mutating
// operation (that op and every later one fail, and a crashing write leaves a
// torn file), and whose filesystem clock can be moved forward so lease expiry
// is tested without sleeping.
#pragma once

#include <atomic>
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

  Status WriteFileAtomic(const std::string& path, const std::string& data) override {
    // Spelled out as temp write + rename so a crash can fall between them.
    const std::string tmp = path + ".tmp.fault";
    CS_RETURN_IF_ERROR(CreateExclusive(tmp, data));
    return Rename(tmp, path);
  }
  Status CreateExclusive(const std::string& path, const std::string& data, bool sync = false) override {
    if (Crash()) {
      // A crash mid-write: half the bytes reach the disk.
      base_->CreateExclusive(path, data.substr(0, data.size() / 2), false);
      return Dead();
    }
    return base_->CreateExclusive(path, data, sync);
  }
  Status LinkExclusive(const std::string& s, const std::string& d) override {
    if (Crash()) return Dead();
    Status st = base_->LinkExclusive(s, d);
    return st.ok() && lie_after_success_ ? Status::AlreadyExists("link " + d + ": File exists (retransmitted)") : st;
  }
  Status Rename(const std::string& f, const std::string& t) override {
    if (Crash()) return Dead();
    Status st = base_->Rename(f, t);
    return st.ok() && lie_after_success_ ? Status::AlreadyExists("rename " + t + ": File exists (retransmitted)") : st;
  }
  Status AppendFile(const std::string& p, const std::string& d) override {
    return Crash() ? Dead() : base_->AppendFile(p, d);
  }
  Status ReadFile(const std::string& p, std::string* d) override {
    return crashed_ ? Dead() : base_->ReadFile(p, d);
  }
  Status CreateDir(const std::string& p) override { return Crash() ? Dead() : base_->CreateDir(p); }
  Status CreateDirs(const std::string& p) override { return Crash() ? Dead() : base_->CreateDirs(p); }
  Status ListDir(const std::string& d, std::vector<std::string>* n) override {
    return crashed_ ? Dead() : base_->ListDir(d, n);
  }
  Status Stat(const std::string& p, FileInfo* i) override { return crashed_ ? Dead() : base_->Stat(p, i); }
  Status Touch(const std::string& p) override { return Crash() ? Dead() : base_->Touch(p); }
  Status RemoveFile(const std::string& p) override { return Crash() ? Dead() : base_->RemoveFile(p); }
  Status RemoveTree(const std::string& p) override { return Crash() ? Dead() : base_->RemoveTree(p); }
  Status FsNow(const std::string& probe, int64_t* now_ns) override {
    CS_RETURN_IF_ERROR(Env::FsNow(probe, now_ns));
    *now_ns += offset_ns_;
    return Status::OK();
  }

 private:
  bool Crash() {
    if (crashed_) return true;
    if (crash_at_ >= 0 && ops_ >= crash_at_) crashed_ = true;
    ++ops_;
    return crashed_;
  }
  static Status Dead() { return Status::IOError("injected crash"); }

  Env* base_;
  long crash_at_ = -1;
  long ops_ = 0;
  bool crashed_ = false;
  bool lie_after_success_ = false;
  int64_t offset_ns_ = 0;
};

}  // namespace claimsweep
