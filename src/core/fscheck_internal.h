// What the parts of `sweep fscheck` (fscheck.cc, fscheck_clock.cc,
// fscheck_mount.cc) share. Internal to them.
#pragma once

#include <time.h>

#include <string>
#include <vector>

#include "core/fscheck.h"

namespace claimsweep::fscheck {

double Realtime();   // CLOCK_REALTIME, seconds: this node's clock
double Monotonic();  // CLOCK_MONOTONIC, seconds
inline double ToSeconds(const timespec& t) { return t.tv_sec + t.tv_nsec * 1e-9; }
// options.stop is set.
inline bool Stopped(const FsCheckOptions& o) { return o.stop != nullptr && *o.stop != 0; }
// "EEXIST (File exists)".
std::string ErrnoName(int e);
void Add(FsCheckReport* r, const char* check, FsVerdict v, std::string found,
         std::string claimsweep, std::string fix = "");

// The largest power of ten from 1 ns to 1 s that divides every nanosecond
// field: the unit the filesystem keeps file times in (sshfs, and ext4 with
// 128-byte inodes, keep whole seconds: zeros there).
double TimeResolution(const std::vector<timespec>& times);

// fscheck's private directory: its name in DIR and its descriptor.
struct WorkDirRef {
  std::string name;
  int fd;
};

// InvalidArgument unless DIR is a writable directory (not a symlink) and the
// second mount, if given, a directory; *dirfd: DIR opened.
Status CheckArguments(const FsCheckOptions& o, int* dirfd);
// statfs, statvfs and /proc/self/mountinfo: the type, the mount, space, inodes.
void CheckSpaceAndType(int dirfd, const std::string& dir, FsCheckReport* r);
// Where file times come from (skew against this node) and their resolution.
void CheckTimes(int w, const FsCheckOptions& o, FsCheckReport* r);
// How long a create, an mtime change and a removal through DIR take to show
// through o.second_mount (bounded by o.timeout_seconds each).
void CheckSecondMount(int dirfd, const WorkDirRef& work, const FsCheckOptions& o, FsCheckReport* r);
void CheckSpecialFiles(int w, FsCheckReport* r);  // symlinks, FIFOs
void CheckPermissions(int dirfd, int w, FsCheckReport* r);

}  // namespace claimsweep::fscheck
