// Env: every filesystem operation claimsweep performs goes through this
// interface, so the claim protocol can be tested against a fault-injecting
// implementation (tests/fault_env.h) as well as the real one.
//
// Which primitives are atomic where (and so which the protocol may rely on):
//  - CreateExclusive: open(O_CREAT|O_EXCL), atomic on NFSv3+ and Lustre.
//  - Rename: atomic on every POSIX filesystem incl. NFS and Lustre; a rename of a
//    directory onto an existing non-empty directory fails, which the protocol
//    uses to publish a fully-populated directory in one step.
//  - LinkExclusive: link(2), atomic, fails if the target exists; the NFS-safe
//    "first writer wins".
// No operation uses flock/fcntl locks.
//
// Thread-safety: every Env is safe to call from several threads at once, and
// every implementation must be (Env::Default(), the confined Env of
// NewSweepEnv, the test Envs). Callers rely on it: the results loader and
// `sweep status` read trials on up to 8 threads (ParallelFor, sweep_scan.h),
// and `trial`'s lease keeper heartbeats on its own thread while the owner's
// thread runs the task (claim.h). Concurrent operations on the same path are
// as atomic as the system calls behind them, no more.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace claimsweep {

struct FileInfo {
  bool is_dir = false;
  bool is_symlink = false;
  int64_t mtime_ns = 0;  // modification time, as the filesystem reports it
  uint64_t size = 0;
  uint32_t mode = 0;  // permission bits and type, as st_mode
  uint32_t uid = 0;
};

// One entry of a directory listing. `type` is the S_IFMT bits of the entry
// itself (S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, ...): links are not followed.
struct DirEntry {
  std::string name;
  uint32_t type = 0;
};

// "a symlink", "a FIFO", "a directory", "a regular file", ... for messages.
const char* FileTypeName(uint32_t mode);

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX implementation.
  static Env* Default();

  // Writes `data` to `path` via a unique temp file in the same directory,
  // fsync, then rename: readers see the old contents or the new, never a mix.
  virtual Status WriteFileAtomic(const std::string& path, const std::string& data) = 0;
  // Creates `path` with `data` (fsync'ed if `sync`); AlreadyExists if it
  // exists. The contents are written after the create, so a crash can leave
  // the file short: callers that need whole contents publish with LinkExclusive.
  virtual Status CreateExclusive(const std::string& path, const std::string& data,
                                 bool sync = false) = 0;
  // link(src, dst): AlreadyExists if dst exists. Verifies the link count of src
  // afterwards, so a retransmitted NFS LINK that reports EEXIST after success
  // is still seen as success.
  virtual Status LinkExclusive(const std::string& src, const std::string& dst) = 0;
  // rename(2). For directories, AlreadyExists when `to` exists and is not empty.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status AppendFile(const std::string& path, const std::string& data) = 0;
  virtual Status ReadFile(const std::string& path, std::string* data) = 0;
  // The whole file if it holds at most `max_bytes`, else Corruption naming the
  // file and its size: for records and other small files a planted or runaway
  // file must not exhaust memory. The default reads it with ReadFile.
  virtual Status ReadFileAtMost(const std::string& path, uint64_t max_bytes, std::string* data);
  // The last `max_bytes` of the file (all of it if it is smaller): log tails.
  // The default reads it with ReadFile.
  virtual Status ReadFileTail(const std::string& path, uint64_t max_bytes, std::string* data);
  // The whole file as read-only memory that stays valid while `*owner` lives.
  // For large files read once (checkpoints): PosixEnv maps the page cache
  // instead of copying. The default reads it with ReadFile.
  virtual Status ReadFileShared(const std::string& path, std::string_view* data,
                                std::shared_ptr<const void>* owner);
  virtual Status CreateDir(const std::string& path) = 0;   // OK if it exists
  virtual Status CreateDirs(const std::string& path) = 0;  // mkdir -p
  // Names in `dir`, without "." and "..", unsorted.
  virtual Status ListDir(const std::string& dir, std::vector<std::string>* names) = 0;
  // The same with each entry's type, from the listing itself where the
  // filesystem reports it (d_type), else one lstat per entry. The default
  // stats each name from ListDir.
  virtual Status ListDirEntries(const std::string& dir, std::vector<DirEntry>* entries);
  // lstat: does not follow a final symlink.
  virtual Status Stat(const std::string& path, FileInfo* info) = 0;
  virtual bool Exists(const std::string& path);
  // Sets the mtime of `path` to the filesystem's own "now", creating the file
  // if needed. This is the heartbeat primitive.
  virtual Status Touch(const std::string& path) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  virtual Status RemoveTree(const std::string& path) = 0;
  // File descriptors (O_CLOEXEC; the caller closes them) for handing what
  // this Env resolved to another process: a directory to enter with fchdir,
  // a regular file opened for appending (created if absent). A path handed
  // over instead could have a link swapped into it after the check. The
  // defaults open by path, not following a final link.
  virtual Status OpenDirectory(const std::string& path, int* fd);
  virtual Status OpenAppend(const std::string& path, int* fd);
  // The filesystem's current time, as seen by touching `probe` and reading its
  // mtime back. Used to judge lease age so that nodes with skewed clocks agree.
  virtual Status FsNow(const std::string& probe, int64_t* now_ns);
  // This process's monotonic clock (CLOCK_MONOTONIC), in nanoseconds: what
  // lease observers judge a heartbeat's age by (lease_watch.h). Never
  // compared with a file time or with another node's clock.
  virtual int64_t MonotonicNs();
};

// An Env confined to one sweep directory, for every command that opens a
// sweep. `sweep_root` itself may be reached through symlinks (/scratch ->
// /lustre/...): it is opened once, on first use, and kept open. Every path
// below it is then resolved relative to that directory without following any
// symlink and without leaving it (openat2 RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH,
// one call per operation; a walk with O_NOFOLLOW per component on kernels
// without openat2), and each operation acts on the entry itself with the
// *at() calls. So inside the sweep:
//  - a symlink at any level, or a ".." that leaves the sweep, is refused
//    (PermissionDenied: "trials/000003 is a symlink (to /x); claimsweep never
//    follows links inside a sweep"); Stat still reports a final symlink;
//  - reads and appends refuse anything but a regular file, and never block on
//    a FIFO or device ("... is a FIFO, not a regular file");
//  - RemoveTree removes links, never what they point at.
// Messages name entries relative to the sweep. Paths outside the sweep (a
// dataset, the spec given to `sweep init`, `report -o FILE`) and the root
// itself behave as with Env::Default(). Thread-safe, like every Env (the root
// is opened once, under a lock).
struct SweepEnvOptions {
  bool use_openat2 = true;  // false: always the per-component walk (tests)
};
std::unique_ptr<Env> NewSweepEnv(const std::string& sweep_root,
                                 SweepEnvOptions options = SweepEnvOptions());

}  // namespace claimsweep
