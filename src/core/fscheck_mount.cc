// `sweep fscheck`: the arguments, the filesystem's type and mount, space and
// inodes, symlinks and FIFOs, permissions.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/fscheck_internal.h"
#include "core/number_format.h"

namespace claimsweep {

std::string FsMagicName(uint64_t magic) {
  struct Known {
    uint64_t magic;
    const char* name;
  };
  static const Known kKnown[] = {
      {0xEF53, "ext4"},     {0x01021994, "tmpfs"},   {0x858458F6, "ramfs"},  {0x6969, "nfs"},
      {0x65735546, "fuse"}, {0x58465342, "xfs"},     {0x9123683E, "btrfs"},  {0x0BD00BD0, "lustre"},
      {0x47504653, "gpfs"}, {0x794C7630, "overlay"}, {0x19830326, "beegfs"}, {0x00C36400, "ceph"},
      {0xFE534D42, "smb2"}, {0xFF534D42, "cifs"},    {0x2FC12FC1, "zfs"},    {0x01021997, "9p"},
      {0x4D44, "vfat"},     {0xF2F52010, "f2fs"},
  };
  for (const auto& k : kKnown)
    if (k.magic == magic) return k.name;
  return "";
}

namespace fscheck {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::strtol(s.substr(i + 1, 3).c_str(), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool Under(const std::string& path, const std::string& mount) {
  if (mount == "/") return true;
  return path.compare(0, mount.size(), mount) == 0 &&
         (path.size() == mount.size() || path[mount.size()] == '/');
}

// The /proc/self/mountinfo line of DIR's filesystem: its device, and of those
// the mount point holding DIR's real path (bind mounts share a device).
void FindMount(dev_t dev, const std::string& dir, FsCheckReport* r) {
  char real[PATH_MAX];
  const std::string path = ::realpath(dir.c_str(), real) ? real : dir;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  const std::string want = std::to_string(major(dev)) + ":" + std::to_string(minor(dev));
  size_t best = 0;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, devno, root, point, options, field;
    f >> id >> parent >> devno >> root >> point >> options;
    while (f >> field && field != "-") {
    }
    std::string type, source, super;
    f >> type >> source >> super;
    point = Unescape(point);
    if (devno != want || !Under(path, point) || point.size() + 1 <= best) continue;
    best = point.size() + 1;
    r->filesystem = type;
    r->mount_point = point;
    r->mount_source = Unescape(source);
    r->mount_options = options + (super.empty() ? "" : "," + super);
  }
}

bool StartsWith(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

// What the filesystem's kind means for a sweep; sets r->network.
std::string KindNote(FsCheckReport* r) {
  const std::string& t = r->filesystem;
  auto shared = [&](const char* note) {
    r->network = true;
    return std::string("a network filesystem: ") + note;
  };
  if (t == "tmpfs" || t == "ramfs")
    return "in memory on this node: only this node's processes share a sweep here, and it is "
           "gone at reboot";
  if (t == "ext2" || t == "ext3" || t == "ext4" || t == "xfs" || t == "btrfs" || t == "zfs" ||
      t == "f2fs" || t == "overlay" || t == "vfat")
    return "a local filesystem: only this node's processes share a sweep here (jobs on other "
           "nodes would not see it)";
  if (StartsWith(t, "nfs"))
    return shared(
        "create, rename and link are atomic on the server (NFSv3 and later); a retransmitted "
        "rename or link that reports EEXIST after it succeeded is recognised (core/publish.h); "
        "attribute caching (actimeo) delays what other clients see");
  if (t == "fuse.sshfs")
    return shared(
        "sshfs stamps a touch with the client's clock and caches attributes and directories, "
        "which delays what other clients see");
  if (t == "lustre" || t == "gpfs") return shared("clients stamp file times with their own clocks");
  if (t == "fuse.glusterfs" || t == "glusterfs")
    return shared(
        "the bricks make create, rename and link atomic; the FUSE client caches attributes, "
        "which delays what other clients see");
  if (t == "ceph" || t == "fuse.ceph" || t == "cifs" || t == "smb3" || t == "beegfs" || t == "9p" ||
      t == "virtiofs" || t == "afs" || t == "fuse.beegfs")
    return shared("caches may delay what other clients see");
  if (StartsWith(t, "fuse")) return "a FUSE filesystem: local or shared depends on what serves it";
  return "a filesystem fscheck does not know";
}

std::string Size(double bytes) {
  const double gib = bytes / (1024.0 * 1024 * 1024);
  return gib >= 1 ? FormatFixed(gib, 1) + " GiB" : FormatFixed(bytes / (1024.0 * 1024), 1) + " MiB";
}

std::string Octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

Status Refuse(const std::string& m) { return Status::InvalidArgument(m); }

std::string TypeName(mode_t m) {
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISREG(m)) return "a regular file";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
  return "not a directory";
}

}  // namespace

Status CheckArguments(const FsCheckOptions& o, int* dirfd) {
  if (o.dir.empty()) return Refuse("fscheck needs DIR: the directory a sweep will live in");
  if (!(o.timeout_seconds > 0) || !std::isfinite(o.timeout_seconds))
    return Refuse("--timeout " + FormatDouble(o.timeout_seconds) +
                  ": must be a positive number of seconds");
  if (!(o.heartbeat_seconds > 0) || !(o.lease_seconds > o.heartbeat_seconds) ||
      !std::isfinite(o.lease_seconds))
    return Refuse("--heartbeat-seconds " + FormatDouble(o.heartbeat_seconds) +
                  " and --lease-seconds " + FormatDouble(o.lease_seconds) +
                  ": both positive, the heartbeat shorter than the lease");
  std::string dir = o.dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) {
    const int e = errno;
    if (e == ENOENT)
      return Refuse(o.dir +
                    ": no such directory (fscheck checks an existing directory: mkdir -p it "
                    "first)");
    return Refuse("cannot read " + o.dir + ": " + ErrnoName(e));
  }
  if (S_ISLNK(st.st_mode)) {
    char real[PATH_MAX];
    const std::string to = ::realpath(dir.c_str(), real) ? std::string(real) : "a missing target";
    return Refuse(o.dir + " is a symlink (to " + to +
                  "): claimsweep follows no symlink inside a sweep; give fscheck the directory "
                  "itself");
  }
  if (!S_ISDIR(st.st_mode))
    return Refuse(o.dir + " is " + TypeName(st.st_mode) + ", not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    const int e = errno;
    return Refuse(o.dir + " is not writable by you (" + ErrnoName(e) + "; mode " +
                  Octal(st.st_mode & 07777) + ", owner uid " + std::to_string(st.st_uid) +
                  ", you uid " + std::to_string(::geteuid()) +
                  "): fscheck works in a directory it creates there; give a directory you can "
                  "write, where the sweep will live");
  }
  if (!o.second_mount.empty()) {
    struct stat m;
    if (::stat(o.second_mount.c_str(), &m) != 0) {
      const int e = errno;
      return Refuse("--second-mount " + o.second_mount + ": " +
                    (e == ENOENT ? std::string("no such directory") : ErrnoName(e)));
    }
    if (!S_ISDIR(m.st_mode))
      return Refuse("--second-mount " + o.second_mount + " is " + TypeName(m.st_mode) +
                    ", not a directory: give the directory that shows " + o.dir +
                    "'s files through another client");
  }
  *dirfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (*dirfd < 0) return Refuse("cannot open " + o.dir + ": " + ErrnoName(errno));
  return Status::OK();
}

void CheckSpaceAndType(int dirfd, const std::string& dir, FsCheckReport* r) {
  struct statfs sf;
  if (::fstatfs(dirfd, &sf) == 0) r->fs_magic = static_cast<uint64_t>(sf.f_type) & 0xFFFFFFFFu;
  struct stat st;
  if (::fstat(dirfd, &st) == 0) FindMount(st.st_dev, dir, r);
  if (r->filesystem.empty()) r->filesystem = FsMagicName(r->fs_magic);
  char magic[32];
  std::snprintf(magic, sizeof magic, "0x%llx", static_cast<unsigned long long>(r->fs_magic));
  const std::string note = KindNote(r);
  std::string where = r->filesystem.empty() ? std::string("unknown") : r->filesystem;
  where += std::string(" (f_type ") + magic + ")";
  if (!r->mount_point.empty())
    where += ", mounted at " + r->mount_point + " from " + r->mount_source;
  Add(r, "filesystem", FsVerdict::kInfo, where, note);

  struct statvfs sv;
  if (::fstatvfs(dirfd, &sv) != 0) {
    Add(r, "space", FsVerdict::kWarning, "statvfs failed: " + ErrnoName(errno),
        "needs space and inodes for every trial's files", "check the space with df");
    return;
  }
  r->free_bytes = static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
  r->total_bytes = static_cast<uint64_t>(sv.f_blocks) * sv.f_frsize;
  r->free_inodes = sv.f_favail;
  r->total_inodes = sv.f_files;
  std::string found = Size(r->free_bytes) + " free of " + Size(r->total_bytes) + ", ";
  found += sv.f_files == 0 ? std::string("no inode count reported (no fixed limit)")
                           : std::to_string(r->free_inodes) + " inodes free of " +
                                 std::to_string(r->total_inodes);
  const char* need =
      "a trial takes about 10 inodes (its directory, attempt, owner.json, log, records, lease "
      "entry) plus what its command writes";
  if (sv.f_bavail == 0 || (sv.f_files > 0 && sv.f_favail == 0)) {
    Add(r, "space", FsVerdict::kUnsafe, found, need,
        "free space or inodes, or use another filesystem");
  } else if (r->free_bytes < (1ull << 30) || (sv.f_files > 0 && sv.f_favail < 10000)) {
    Add(r, "space", FsVerdict::kWarning, found, need, "free space or inodes before a large sweep");
  } else {
    Add(r, "space", FsVerdict::kOk, found, need);
  }
}

void CheckSpecialFiles(int w, FsCheckReport* r) {
  if (::symlinkat("/nonexistent-target", w, "symlink") == 0) {
    Add(r, "symlinks", FsVerdict::kInfo, "symlinks can be created",
        "follows no symlink inside a sweep (openat2 RESOLVE_NO_SYMLINKS): a planted one makes its "
        "trial broken, named by `sweep status`, and nothing outside the sweep is reached");
  } else {
    Add(r, "symlinks", FsVerdict::kInfo, "symlinks cannot be created: " + ErrnoName(errno),
        "follows no symlink inside a sweep; none can be planted here");
  }
  if (::mkfifoat(w, "fifo", 0600) == 0) {
    Add(r, "fifos", FsVerdict::kInfo, "FIFOs can be created",
        "reads only regular files, opened with O_NONBLOCK: a planted FIFO never hangs a command; "
        "its trial is broken");
  } else {
    Add(r, "fifos", FsVerdict::kInfo, "FIFOs cannot be created: " + ErrnoName(errno),
        "reads only regular files; no FIFO can be planted here");
  }
}

void CheckPermissions(int dirfd, int w, FsCheckReport* r) {
  struct stat st;
  if (::fstat(dirfd, &st) != 0) return;
  r->dir_mode = st.st_mode & 07777;
  r->dir_uid = st.st_uid;
  const char* rule =
      "`trial` refuses a sweep whose directory, spec or state folders are writable by group or "
      "others, or owned by another user, unless the spec says security { allow_shared: true } "
      "(README: Shared directories); a sweep made inside DIR gets your umask instead";
  const std::string mode = r->dir + " is mode " + Octal(r->dir_mode);
  if (st.st_uid != ::geteuid()) {
    Add(r, "permissions", FsVerdict::kWarning,
        mode + ", owned by uid " + std::to_string(st.st_uid) + ", not you (uid " +
            std::to_string(::geteuid()) + ")",
        rule, "make the sweep a new directory inside DIR, or share it on purpose (allow_shared)");
  } else if (r->dir_mode & 022) {
    const bool others = r->dir_mode & 002;
    Add(r, "permissions", FsVerdict::kWarning,
        mode + ": writable by " + (others ? "others" : "its group") +
            ((r->dir_mode & 01000) ? " (sticky: they cannot rename or remove your entries)" : ""),
        rule,
        "make the sweep a new directory inside DIR; to make DIR itself the sweep, chmod go-w it, "
        "or share it on purpose with security { allow_shared: true }");
  } else {
    Add(r, "permissions", FsVerdict::kOk, mode + ", yours, not writable by group or others", rule);
  }

  if (::mkdirat(w, "perm", 0777) != 0 || ::fstatat(w, "perm", &st, AT_SYMLINK_NOFOLLOW) != 0)
    return;
  r->new_dir_mode = st.st_mode & 07777;
  const bool kept = ::fchmodat(w, "perm", 0700, 0) == 0 &&
                    ::fstatat(w, "perm", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    (st.st_mode & 07777) == 0700;
  const std::string made = "a directory made with mode 0777 got " + Octal(r->new_dir_mode);
  if (!kept) {
    Add(r, "new_files", FsVerdict::kWarning,
        made + "; chmod 0700 reads back " + Octal(st.st_mode & 07777) +
            ": the filesystem does not keep permission bits",
        "`trial` judges a sweep's safety by its permission bits: here it may refuse every sweep",
        "use a filesystem that keeps modes, or set security { allow_shared: true } if everyone "
        "who can write here may run commands as you");
  } else if (r->new_dir_mode & 022) {
    Add(r, "new_files", FsVerdict::kWarning, made + ": your umask lets group or others write it",
        "`sweep init` warns and `trial` refuses such a sweep unless allow_shared",
        "umask 022 before `sweep init`, or security { allow_shared: true } for a group's sweep");
  } else {
    Add(r, "new_files", FsVerdict::kOk, made + "; permission bits are kept",
        "a sweep made here passes trial's ownership and permission checks");
  }
}

}  // namespace fscheck
}  // namespace claimsweep
