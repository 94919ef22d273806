// `sweep fscheck`: does the filesystem where a sweep will live provide the
// primitives the claim protocol relies on (docs/protocol.md, "Primitives"),
// and what do its clocks, caches and permissions mean for a sweep?
//
// The checks call the syscalls themselves (openat, renameat, linkat,
// utimensat, ...) rather than going through Env: what is under test is the
// filesystem's answer to each one, errno included. Everything happens in a
// private directory created in DIR (`.sweep-fscheck.<host>.<pid>.<random>`,
// mode 0700) and removed at the end; nothing else in DIR is read or written.
#pragma once

#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace claimsweep {

struct FsCheckOptions {
  std::string dir;           // an existing, writable directory (not a symlink)
  std::string second_mount;  // empty: none; else a directory showing DIR's files via another client
  double timeout_seconds = 30;  // how long to wait for a change to show through second_mount
  // The lease the findings are compared with (the spec's claim block).
  double lease_seconds = 300;
  double heartbeat_seconds = 15;
  // When set and *stop becomes nonzero (a signal handler's flag), the checks
  // stop at the next step or poll, remove their directory, and the report
  // says interrupted.
  const volatile std::sig_atomic_t* stop = nullptr;
};

enum class FsVerdict { kOk, kInfo, kWarning, kUnsafe };
// "ok", "info", "warning", "unsafe".
const char* FsVerdictName(FsVerdict v);

struct FsFinding {
  std::string check;  // a stable key: exclusive_create, rename_dir, link, ...
  FsVerdict verdict = FsVerdict::kOk;
  std::string found;       // what the filesystem did
  std::string claimsweep;  // what claimsweep does about it
  std::string fix;         // warning and unsafe: what to change
};

// One change made through DIR and waited for through the second mount.
struct FsPropagation {
  std::string change;  // "create", "change" (mtime), "remove"
  bool shown = false;
  double milliseconds = 0;  // until it showed; when not shown, how long we waited
};

struct FsCheckReport {
  std::string dir;
  std::string filesystem;     // mountinfo's type: ext4, tmpfs, fuse.sshfs, nfs4, lustre, ...
  uint64_t fs_magic = 0;      // statfs f_type
  std::string mount_point;    // where that filesystem is mounted ("" if not found)
  std::string mount_source;   // mountinfo's source (server:/export, /dev/sda1, ...)
  std::string mount_options;  // per-mount and per-superblock options
  bool network = false;       // a filesystem other nodes can mount
  // File time minus this node's CLOCK_REALTIME (the middle of the call), in
  // seconds: of a new directory, of a newly created file, and of one touched
  // with utimensat(NULL) (the heartbeat). They differ where the server stamps
  // some and the client others (sshfs: the server makes directories, the
  // client stamps files).
  double mkdir_skew_seconds = 0;
  double create_skew_seconds = 0;
  double touch_skew_seconds = 0;
  double resolution_seconds =
      0;                       // unit of the file times: 1e-9 ... 1 (0: touches never changed them)
  double touch_change_ms = 0;  // how long repeated touches took to change the mtime
  uint64_t free_bytes = 0, total_bytes = 0;  // statvfs, available to unprivileged users
  uint64_t free_inodes = 0, total_inodes = 0;
  uint32_t dir_mode = 0;  // DIR's permission bits
  uint32_t dir_uid = 0;
  uint32_t new_dir_mode = 0;  // what a directory made with 0777 and this umask got
  std::string second_mount;
  std::vector<FsPropagation> propagation;  // empty without a second mount
  std::vector<FsFinding> findings;
  bool interrupted = false;  // options.stop was set: the findings are incomplete

  // No finding is unsafe.
  bool safe() const;
};

// Runs every check on options.dir. InvalidArgument (the command exits 2) when
// DIR or the second mount is missing, not a directory, a symlink, or DIR is
// not writable; otherwise a report, whose unsafe findings say what to fix.
// Waits at most options.timeout_seconds per propagation step.
Result<FsCheckReport> RunFsCheck(const FsCheckOptions& options);

// The name of a statfs f_type ("ext4", "nfs", "fuse", ...), or "" if unknown.
std::string FsMagicName(uint64_t magic);

}  // namespace claimsweep
