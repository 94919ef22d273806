// `sweep fscheck`'s checks: each primitive of docs/protocol.md tried for real
// in a private directory, then clocks, a second client, permissions, space.
#include "core/fscheck.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <random>

#include "core/fscheck_internal.h"

namespace claimsweep {
namespace {

using fscheck::Add;
using fscheck::ErrnoName;
using fscheck::Realtime;
using fscheck::ToSeconds;

// Removes `name` in `parent` and, if it is a directory, everything below it,
// never following a symlink. Only used on fscheck's own directory.
void RemoveTree(int parent, const char* name) {
  struct stat st;
  if (::fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    const int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      if (DIR* d = ::fdopendir(fd)) {
        std::vector<std::string> names;
        while (dirent* e = ::readdir(d)) {
          if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
            names.push_back(e->d_name);
        }
        for (const auto& n : names) RemoveTree(::dirfd(d), n.c_str());
        ::closedir(d);
      } else {
        ::close(fd);
      }
    }
    ::unlinkat(parent, name, AT_REMOVEDIR);
  } else {
    ::unlinkat(parent, name, 0);
  }
}

// The private directory the checks work in; removed with everything in it.
class WorkDir {
 public:
  WorkDir(int parent, std::string name, int fd)
      : parent_(parent), name_(std::move(name)), fd_(fd) {}
  ~WorkDir() {
    ::close(fd_);
    RemoveTree(parent_, name_.c_str());
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  int fd() const { return fd_; }
  const std::string& name() const { return name_; }

 private:
  int parent_;
  std::string name_;
  int fd_;
};

std::string WorkDirName() {
  char host[256] = "host";
  ::gethostname(host, sizeof host - 1);
  host[sizeof host - 1] = 0;
  std::random_device rd;
  char tail[32];
  std::snprintf(tail, sizeof tail, ".%d.%08x", static_cast<int>(::getpid()), rd());
  return std::string(".sweep-fscheck.") + host + tail;
}

bool CreateFile(int dir, const char* name, const std::string& data) {
  const int fd = ::openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
                  ::fsync(fd) == 0;
  return ::close(fd) == 0 && ok;
}

std::string ReadSmall(int dir, const char* name) {
  const int fd = ::openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return "";
  char buf[256];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  return n > 0 ? std::string(buf, n) : "";
}

// O_CREAT|O_EXCL: one creator wins. Also measures the skew of a new file's time.
void CheckExclusiveCreate(int w, FsCheckReport* r) {
  const char* what = "elects one claimer per new point (leases/<i>.0001): the losers move on";
  const double t0 = Realtime();
  const int fd = ::openat(w, "excl", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  const double t1 = Realtime();
  if (fd < 0) {
    const int e = errno;
    Add(r, "exclusive_create", FsVerdict::kUnsafe,
        "creating a file with O_CREAT|O_EXCL failed: " + ErrnoName(e), what,
        "a sweep cannot claim anything here: use a directory where you can create files");
    return;
  }
  struct stat st;
  if (::fstat(fd, &st) == 0) r->create_skew_seconds = ToSeconds(st.st_mtim) - (t0 + t1) / 2;
  ::close(fd);
  const int again = ::openat(w, "excl", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  const int e = errno;
  if (again >= 0) {
    ::close(again);
    Add(r, "exclusive_create", FsVerdict::kUnsafe,
        "a second O_CREAT|O_EXCL create of an existing name succeeded",
        "relies on it to elect one claimer per new point: two jobs could run the same point",
        "put the sweep on a filesystem with atomic exclusive create (a local disk, NFSv3 or "
        "later, Lustre, GPFS, GlusterFS)");
  } else if (e != EEXIST) {
    Add(r, "exclusive_create", FsVerdict::kUnsafe,
        "a second O_CREAT|O_EXCL create of an existing name failed with " + ErrnoName(e) +
            ", not EEXIST",
        "takes only EEXIST for a lost election; anything else fails the claim",
        "put the sweep on a filesystem whose exclusive create reports EEXIST");
  } else {
    Add(r, "exclusive_create", FsVerdict::kOk,
        "a second O_CREAT|O_EXCL create of the same name fails with EEXIST", what);
  }
}

// rename(2) of a directory: onto a missing name it publishes, onto a non-empty
// directory it must fail and leave both in place.
void CheckRenameDir(int w, FsCheckReport* r) {
  const char* what =
      "claims a point and takes over a trial by renaming a fully built directory onto "
      "trials/<i> (or attempt-<k+1>): exactly one process publishes it";
  if (::mkdirat(w, "src", 0700) != 0 || !CreateFile(w, "src/a", "a") ||
      ::mkdirat(w, "dst", 0700) != 0 || !CreateFile(w, "dst/b", "b")) {
    Add(r, "rename_dir", FsVerdict::kUnsafe,
        "could not create directories and files to rename: " + ErrnoName(errno), what,
        "use a directory where you can create directories");
    return;
  }
  const int rc = ::renameat(w, "src", w, "dst");
  const int e = errno;
  struct stat st;
  const bool kept = ::fstatat(w, "dst/b", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    ::fstatat(w, "src/a", &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (rc == 0 || !kept) {
    Add(r, "rename_dir", FsVerdict::kUnsafe,
        rc == 0 ? "renaming a directory onto a non-empty directory succeeded"
                : "a failed rename onto a non-empty directory changed one of them",
        "relies on that rename failing: two jobs could both publish the same trial",
        "put the sweep on a POSIX filesystem (a local disk, NFS, Lustre, GPFS, GlusterFS)");
    return;
  }
  if (e != ENOTEMPTY && e != EEXIST) {
    // Still exclusive (both directories are intact), but the loser of a race
    // cannot tell it lost (sshfs maps the server's ENOTEMPTY to EPERM).
    Add(r, "rename_dir", FsVerdict::kWarning,
        "renaming a directory onto a non-empty directory fails, leaving both, but with " +
            ErrnoName(e) + ", not ENOTEMPTY or EEXIST",
        "takes only ENOTEMPTY/EEXIST for a lost claim or takeover race: a job that loses one "
        "here stops with that error instead of moving on (nothing runs twice: the rename "
        "itself failed)",
        "expect an occasional job to fail at a contended claim, or put the sweep on a "
        "filesystem that reports ENOTEMPTY (NFS, Lustre, GPFS, GlusterFS, a local disk)");
    return;
  }
  if (::renameat(w, "src", w, "fresh") != 0) {
    Add(r, "rename_dir", FsVerdict::kUnsafe,
        "renaming a directory onto a missing name failed: " + ErrnoName(errno), what,
        "put the sweep on a filesystem that can rename directories");
    return;
  }
  Add(r, "rename_dir", FsVerdict::kOk,
      "renaming a directory onto a non-empty one fails with " + ErrnoName(e) +
          "; onto a missing name it succeeds",
      what);
}

// link(2): the commit. Works, and fails on an existing target.
void CheckLink(int w, FsCheckReport* r) {
  const char* what =
      "commits a result by link()ing a whole, fsynced file to result.json: the first writer "
      "wins";
  if (!CreateFile(w, "rec1", "first") || !CreateFile(w, "rec2", "second")) {
    Add(r, "link", FsVerdict::kUnsafe, "could not write files: " + ErrnoName(errno), what,
        "use a directory where you can write files");
    return;
  }
  if (::linkat(w, "rec1", w, "result", 0) != 0) {
    Add(r, "link", FsVerdict::kUnsafe, "link(2) failed: " + ErrnoName(errno),
        "cannot commit here: every trial would run and then fail at its commit",
        "put the sweep on a filesystem with hard links (sshfs: a server with the "
        "hardlink@openssh.com extension, OpenSSH's default)");
    return;
  }
  const int rc = ::linkat(w, "rec2", w, "result", 0);
  const int e = errno;
  if (rc == 0 || ReadSmall(w, "result") != "first") {
    Add(r, "link", FsVerdict::kUnsafe,
        rc == 0 ? "link(2) onto an existing name succeeded"
                : "a failed link(2) changed the existing target",
        "relies on link failing on an existing result.json: a result could be replaced",
        "put the sweep on a POSIX filesystem");
    return;
  }
  if (e != EEXIST) {
    Add(r, "link", FsVerdict::kUnsafe,
        "link(2) onto an existing name failed with " + ErrnoName(e) + ", not EEXIST",
        "takes only EEXIST for \"already committed\"; anything else fails the commit",
        "put the sweep on a filesystem whose link reports EEXIST");
    return;
  }
  struct stat st;
  std::string count;
  if (::fstatat(w, "rec1", &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_nlink != 2) {
    count = "; the link count reads " + std::to_string(st.st_nlink) +
            " after it (claimsweep's check of a retransmitted link then compares bytes)";
  }
  Add(r, "link", FsVerdict::kOk,
      "link(2) works and fails with EEXIST on an existing target" + count, what);
}

}  // namespace

const char* FsVerdictName(FsVerdict v) {
  switch (v) {
    case FsVerdict::kOk: return "ok";
    case FsVerdict::kInfo: return "info";
    case FsVerdict::kWarning: return "warning";
    case FsVerdict::kUnsafe: return "unsafe";
  }
  return "?";
}

bool FsCheckReport::safe() const {
  for (const auto& f : findings)
    if (f.verdict == FsVerdict::kUnsafe) return false;
  return true;
}

Result<FsCheckReport> RunFsCheck(const FsCheckOptions& o) {
  int dirfd = -1;
  CS_RETURN_IF_ERROR(fscheck::CheckArguments(o, &dirfd));
  FsCheckReport r;
  r.dir = o.dir;
  r.second_mount = o.second_mount;
  fscheck::CheckSpaceAndType(dirfd, o.dir, &r);
  const std::string name = WorkDirName();
  if (::mkdirat(dirfd, name.c_str(), 0700) != 0) {
    const int e = errno;
    ::close(dirfd);
    return Status::InvalidArgument("cannot create a directory in " + o.dir + ": " + ErrnoName(e) +
                                   " (fscheck needs a directory you can write)");
  }
  const int w = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (w < 0) {
    const int e = errno;
    RemoveTree(dirfd, name.c_str());
    ::close(dirfd);
    return Status::IOError("cannot open " + o.dir + "/" + name + ": " + ErrnoName(e));
  }
  {
    WorkDir work(dirfd, name, w);
    const std::function<void()> checks[] = {
        [&] { CheckExclusiveCreate(w, &r); },
        [&] { CheckRenameDir(w, &r); },
        [&] { CheckLink(w, &r); },
        [&] { fscheck::CheckTimes(w, o, &r); },
        [&] {
          if (!o.second_mount.empty()) fscheck::CheckSecondMount(dirfd, {name, w}, o, &r);
        },
        [&] { fscheck::CheckSpecialFiles(w, &r); },
        [&] { fscheck::CheckPermissions(dirfd, w, &r); },
    };
    for (const auto& check : checks) {
      if (fscheck::Stopped(o)) break;
      check();
    }
    r.interrupted = fscheck::Stopped(o);
  }
  ::close(dirfd);
  return r;
}

}  // namespace claimsweep
