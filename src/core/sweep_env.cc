// The Env confined to one sweep directory (env.h, NewSweepEnv).
//
// Every path below the root is split into its parent and its last component.
// The parent is opened relative to the root's descriptor in one openat2 call
// that follows no symlink and cannot leave the root; the operation then acts
// on the last component with an *at() call that does not follow it either.
// A path-based call could be redirected by a symlink at any level (reset used
// to move the contents of a linked trials/<i> from elsewhere into archive/).
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <mutex>

#include "core/env.h"
#include "core/posix_io.h"

namespace claimsweep {
namespace {

constexpr uint64_t kResolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;

// A descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::vector<std::string> Components(const std::string& rel) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b <= rel.size()) {
    size_t e = rel.find('/', b);
    if (e == std::string::npos) e = rel.size();
    std::string c = rel.substr(b, e - b);
    if (!c.empty() && c != ".") out.push_back(std::move(c));
    b = e + 1;
  }
  return out;
}

bool IsDotName(const char* n) { return n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0)); }

// What an entry reached by a path must be, for the error walk.
enum class Want { kAny, kDir, kRegular };

class SweepEnv : public Env {
 public:
  SweepEnv(std::string root, SweepEnvOptions opt)
      : root_(std::move(root)), opt_(opt), outside_(Env::Default()) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
    prefix_ = root_ == "/" ? "/" : root_ + "/";
  }
  ~SweepEnv() override {
    if (root_fd_ >= 0) ::close(root_fd_);
    for (auto& f : top_fd_) {
      if (f >= 0) ::close(f);
    }
  }

  Status WriteFileAtomic(const std::string& path, const std::string& data) override {
    Where w;
    if (!Locate(path, &w)) return outside_->WriteFileAtomic(path, data);
    CS_RETURN_IF_ERROR(w.status);
    const std::string tmp = TempNameFor(w.leaf);
    CS_RETURN_IF_ERROR(WriteNew(w, tmp, data, /*sync=*/true));
    if (::renameat(w.dir(), tmp.c_str(), w.dir(), w.leaf.c_str()) != 0) {
      int err = errno;
      ::unlinkat(w.dir(), tmp.c_str(), 0);
      return Fail("rename", w, err, Want::kAny);
    }
    return Status::OK();
  }

  Status CreateExclusive(const std::string& path, const std::string& data, bool sync) override {
    std::string rel;
    if (!Inside(path, &rel)) return outside_->CreateExclusive(path, data, sync);
    // The common case in one call (no descriptor of the parent to open and
    // close): openat2 resolves the whole path with the same guarantees.
    // Anything but success or EEXIST goes the long way, which names the
    // offending entry (and cleans up after a failed write).
    Fd fd;
    const int err = OpenDirect(rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, &fd);
    if (err == EEXIST) return Status::FromErrno("create", prefix_ + rel, EEXIST);
    if (err == 0) {
      const std::string shown = prefix_ + rel;
      Status s = WriteFd(fd.get(), data, shown);
      if (s.ok() && sync && ::fsync(fd.get()) != 0) s = Status::FromErrno("fsync", shown, errno);
      if (::close(fd.release()) != 0 && s.ok()) s = Status::FromErrno("close", shown, errno);
      if (s.ok()) return s;
      RemoveFile(path).IgnoreError();
      return s;
    }
    Where w;
    Locate(path, &w);
    CS_RETURN_IF_ERROR(w.status);
    return WriteNew(w, w.leaf, data, sync);
  }

  Status LinkExclusive(const std::string& src, const std::string& dst) override {
    Where s, d;
    const bool in_s = Locate(src, &s), in_d = Locate(dst, &d);
    if (!in_s && !in_d) return outside_->LinkExclusive(src, dst);
    CS_RETURN_IF_ERROR(s.status);
    CS_RETURN_IF_ERROR(d.status);
    if (::linkat(s.dir(), s.leaf.c_str(), d.dir(), d.leaf.c_str(), 0) == 0) return Status::OK();
    int err = errno;
    if (err == EEXIST) {
      // NFS: a retransmitted LINK can fail with EEXIST although the first one
      // succeeded. Our source then has two links, and that is proof we won.
      struct stat st, dt;
      if (::fstatat(s.dir(), s.leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_nlink >= 2 &&
          ::fstatat(d.dir(), d.leaf.c_str(), &dt, AT_SYMLINK_NOFOLLOW) == 0 &&
          dt.st_ino == st.st_ino && dt.st_dev == st.st_dev) {
        return Status::OK();
      }
    }
    return Fail("link", d, err, Want::kAny);
  }

  Status Rename(const std::string& from, const std::string& to) override {
    Where f, t;
    const bool in_f = Locate(from, &f), in_t = Locate(to, &t);
    if (!in_f && !in_t) return outside_->Rename(from, to);
    CS_RETURN_IF_ERROR(f.status);
    CS_RETURN_IF_ERROR(t.status);
    if (::renameat(f.dir(), f.leaf.c_str(), t.dir(), t.leaf.c_str()) == 0) return Status::OK();
    return Status::FromErrno("rename " + from + " ->", to, errno);
  }

  Status AppendFile(const std::string& path, const std::string& data) override {
    std::string rel;
    if (!Inside(path, &rel)) return outside_->AppendFile(path, data);
    int raw = -1;
    CS_RETURN_IF_ERROR(OpenAppend(path, &raw));
    Fd fd(raw);
    return WriteFd(fd.get(), data, path);
  }

  Status OpenDirectory(const std::string& path, int* fd) override {
    std::string rel;
    if (!Inside(path, &rel)) return outside_->OpenDirectory(path, fd);
    Fd f;
    CS_RETURN_IF_ERROR(OpenBeneath(rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, &f));
    *fd = f.release();
    return Status::OK();
  }

  Status OpenAppend(const std::string& path, int* fd) override {
    // O_NONBLOCK: opening a FIFO for writing would otherwise wait for a reader.
    constexpr int kFlags = O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
    std::string rel;
    if (!Inside(path, &rel)) return outside_->OpenAppend(path, fd);
    Fd direct;
    if (OpenDirect(rel, kFlags, &direct) == 0) {  // else the long way, for the message
      CS_RETURN_IF_ERROR(CheckRegular(direct.get(), rel));
      *fd = direct.release();
      return Status::OK();
    }
    Where w;
    Locate(path, &w);
    CS_RETURN_IF_ERROR(w.status);
    Fd f(::openat(w.dir(), w.leaf.c_str(), kFlags, 0666));
    if (f.get() < 0) return Fail("open", w, errno, Want::kRegular);
    CS_RETURN_IF_ERROR(CheckRegular(f.get(), w.rel));
    *fd = f.release();
    return Status::OK();
  }

  Status ReadFile(const std::string& path, std::string* data) override {
    std::string rel;
    if (!Inside(path, &rel)) return outside_->ReadFile(path, data);
    Fd fd;
    struct stat st;
    CS_RETURN_IF_ERROR(OpenRegular(rel, &fd, &st));
    return ReadFd(fd.get(), path, 0, data, &st);
  }

  Status ReadFileAtMost(const std::string& path, uint64_t max_bytes, std::string* data) override {
    std::string rel;
    if (!Inside(path, &rel)) return outside_->ReadFileAtMost(path, max_bytes, data);
    Fd fd;
    struct stat st;
    CS_RETURN_IF_ERROR(OpenRegular(rel, &fd, &st));
    return ReadFd(fd.get(), rel, max_bytes, data, &st);
  }

  Status ReadFileTail(const std::string& path, uint64_t max_bytes, std::string* data) override {
    std::string rel;
    if (!Inside(path, &rel)) return outside_->ReadFileTail(path, max_bytes, data);
    Fd fd;
    CS_RETURN_IF_ERROR(OpenRegular(rel, &fd));
    return ReadFdTail(fd.get(), path, max_bytes, data);
  }

  Status ReadFileShared(const std::string& path, std::string_view* data,
                        std::shared_ptr<const void>* owner) override {
    std::string rel;
    if (!Inside(path, &rel)) return outside_->ReadFileShared(path, data, owner);
    Fd fd;
    CS_RETURN_IF_ERROR(OpenRegular(rel, &fd));
    return MapOrReadFd(fd.get(), path, data, owner);
  }

  Status CreateDir(const std::string& path) override {
    Where w;
    if (!Locate(path, &w)) return outside_->CreateDir(path);
    CS_RETURN_IF_ERROR(w.status);
    if (::mkdirat(w.dir(), w.leaf.c_str(), 0777) == 0) return Status::OK();
    const int err = errno;
    if (err == EEXIST) {
      struct stat st;
      if (::fstatat(w.dir(), w.leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
        return Status::OK();
      return Fail("mkdir", w, ENOTDIR, Want::kDir);
    }
    return Fail("mkdir", w, err, Want::kAny);
  }

  Status CreateDirs(const std::string& path) override {
    std::string rel;
    if (!Inside(path, &rel)) return outside_->CreateDirs(path);
    int root = -1;
    CS_RETURN_IF_ERROR(Root(&root));
    Fd cur;
    std::string sofar;
    for (const std::string& c : Components(rel)) {
      sofar += (sofar.empty() ? "" : "/") + c;
      if (c == "..") return Escape(sofar);
      const int at = cur.get() >= 0 ? cur.get() : root;
      if (::mkdirat(at, c.c_str(), 0777) != 0 && errno != EEXIST)
        return Fail("mkdir", sofar, errno, Want::kDir);
      Fd next(::openat(at, c.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (next.get() < 0) return Fail("mkdir", sofar, errno, Want::kDir);
      cur = std::move(next);
    }
    return Status::OK();
  }

  Status ListDir(const std::string& dir, std::vector<std::string>* names) override {
    std::string rel;
    if (!Inside(dir, &rel)) return outside_->ListDir(dir, names);
    std::vector<DirEntry> entries;
    CS_RETURN_IF_ERROR(List(dir, rel, /*types=*/false, &entries));
    names->clear();
    for (DirEntry& e : entries) names->push_back(std::move(e.name));
    return Status::OK();
  }

  Status ListDirEntries(const std::string& dir, std::vector<DirEntry>* entries) override {
    std::string rel;
    if (!Inside(dir, &rel)) return outside_->ListDirEntries(dir, entries);
    return List(dir, rel, /*types=*/true, entries);
  }

  Status Stat(const std::string& path, FileInfo* info) override {
    Where w;
    if (!Locate(path, &w)) return outside_->Stat(path, info);
    CS_RETURN_IF_ERROR(w.status);
    struct stat st;
    if (::fstatat(w.dir(), w.leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return Fail("stat", w, errno, Want::kAny);
    FillFileInfo(st, info);
    return Status::OK();
  }

  // One openat2 (O_PATH, a final link not followed, like lstat): exists
  // exactly when Stat would succeed, without opening the parent first.
  bool Exists(const std::string& path) override {
    std::string rel;
    if (!Inside(path, &rel)) return outside_->Exists(path);
    Fd fd;
    const int err = OpenDirect(rel, O_PATH | O_NOFOLLOW | O_CLOEXEC, &fd);
    if (err == ENOSYS || err == EPERM)
      return Env::Exists(path);  // no openat2, or a "." or ".." leaf
    return err == 0;
  }

  Status Touch(const std::string& path) override {
    Where w;
    if (!Locate(path, &w)) return outside_->Touch(path);
    CS_RETURN_IF_ERROR(w.status);
    // utimensat(NULL) asks the server to stamp its own time (NFS SET_TO_SERVER_TIME).
    if (::utimensat(w.dir(), w.leaf.c_str(), nullptr, AT_SYMLINK_NOFOLLOW) == 0)
      return Status::OK();
    if (errno != ENOENT) return Fail("touch", w, errno, Want::kAny);
    Fd fd(::openat(w.dir(), w.leaf.c_str(),
                   O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0666));
    if (fd.get() < 0) return Fail("create", w, errno, Want::kRegular);
    return Status::OK();
  }

  Status RemoveFile(const std::string& path) override {
    Where w;
    if (!Locate(path, &w)) return outside_->RemoveFile(path);
    CS_RETURN_IF_ERROR(w.status);
    if (::unlinkat(w.dir(), w.leaf.c_str(), 0) == 0) return Status::OK();
    return Fail("unlink", w, errno, Want::kAny);
  }

  Status RemoveTree(const std::string& path) override {
    Where w;
    if (!Locate(path, &w)) return outside_->RemoveTree(path);
    if (w.status.IsNotFound()) return Status::OK();
    CS_RETURN_IF_ERROR(w.status);
    Status s = RemoveAt(w.dir(), w.leaf, path);
    return s.IsNotFound() ? Status::OK() : s;
  }

 private:
  // A path below the root, located: its parent directory opened beneath the
  // root (or the root itself), and its last component.
  struct Where {
    Status status;
    std::string rel;   // relative to the root, for messages
    std::string leaf;  // the last component (the whole path outside the sweep)
    Fd parent;         // -1: the root's own descriptor is `root`, or a kept one is `top`
    int top = -1;      // the kept descriptor of trials/, leases/ or tmp/ (TopDir)
    int root = AT_FDCWD;
    int dir() const { return parent.get() >= 0 ? parent.get() : top >= 0 ? top : root; }
  };

  // True if `path` is below the root (sets *rel); false for the root itself
  // and everything outside it.
  bool Inside(const std::string& path, std::string* rel) const {
    if (path.size() <= prefix_.size() || path.compare(0, prefix_.size(), prefix_) != 0)
      return false;
    size_t b = prefix_.size();
    while (b < path.size() && path[b] == '/') ++b;
    if (b == path.size()) return false;
    *rel = path.substr(b);
    while (rel->size() > 1 && rel->back() == '/') rel->pop_back();
    return true;
  }

  // False (and nothing set) outside the sweep. Inside, w->status says
  // whether the parent could be opened.
  bool Locate(const std::string& path, Where* w) {
    std::string rel;
    if (!Inside(path, &rel)) {
      w->leaf = path;
      return false;
    }
    w->rel = rel;
    const size_t slash = rel.rfind('/');
    w->leaf = slash == std::string::npos ? rel : rel.substr(slash + 1);
    if (w->leaf == "." || w->leaf == "..") {
      w->status = Escape(rel);
      return true;
    }
    w->status = Root(&w->root);
    if (w->status.ok() && slash != std::string::npos) {
      const std::string parent = rel.substr(0, slash);
      w->status = TopDir(parent, &w->top);
      if (w->status.ok() && w->top < 0)
        w->status = OpenBeneath(parent, O_PATH | O_DIRECTORY | O_CLOEXEC, &w->parent);
    }
    return true;
  }

  // trials/, leases/ and tmp/ hold nearly every entry the protocol touches:
  // their descriptors are opened once (without following a link, like every
  // other) and kept, which saves an open and a close per operation. They are
  // created by `sweep init` and never renamed or removed by claimsweep; a
  // descriptor refers to the directory itself, so a link put in place of one
  // later is still not followed (only the sweep's owner could do that: see
  // security.h). *fd is -1 for any other directory, or one not there yet.
  Status TopDir(const std::string& rel, int* fd) {
    *fd = -1;
    int slot = -1;
    for (int i = 0; i < kTopDirs; ++i) {
      if (rel == kTopDirNames[i]) slot = i;
    }
    if (slot < 0) return Status::OK();
    int f = top_fd_[slot].load(std::memory_order_acquire);
    if (f < 0) {
      Fd opened;
      Status s = OpenBeneath(rel, O_PATH | O_DIRECTORY | O_CLOEXEC, &opened);
      if (s.IsNotFound()) return Status::OK();  // the long way says so, and `init` may create it
      CS_RETURN_IF_ERROR(s);
      int expected = -1;
      f = opened.release();
      if (!top_fd_[slot].compare_exchange_strong(expected, f)) {
        ::close(f);  // another thread opened it first
        f = expected;
      }
    }
    *fd = f;
    return Status::OK();
  }

  // The root's descriptor, opened on first use (the root may not exist yet
  // when the Env is made: `sweep init` creates it). Follows links in the
  // root's own path on purpose.
  Status Root(int* fd) {
    int f = root_fd_.load(std::memory_order_acquire);
    if (f >= 0) {
      *fd = f;
      return Status::OK();
    }
    std::lock_guard<std::mutex> lock(mu_);
    f = root_fd_.load(std::memory_order_relaxed);
    if (f < 0) {
      f = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (f < 0) return Status::FromErrno("open", root_, errno);
      root_fd_.store(f, std::memory_order_release);
    }
    *fd = f;
    return Status::OK();
  }

  // Opens `rel` beneath the root, following no link on the way or at the end.
  Status OpenBeneath(const std::string& rel, int flags, Fd* out) {
    int root = -1;
    CS_RETURN_IF_ERROR(Root(&root));
    const Want want = (flags & O_DIRECTORY) ? Want::kDir : Want::kAny;
    if (opt_.use_openat2 && !no_openat2_.load(std::memory_order_relaxed)) {
      struct open_how how = {};
      how.flags = static_cast<uint64_t>(flags);
      how.resolve = kResolve;
      for (int tries = 0;; ++tries) {
        long fd = ::syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how);
        if (fd >= 0) {
          *out = Fd(static_cast<int>(fd));
          return Status::OK();
        }
        // EAGAIN: a concurrent rename raced a ".." lookup; the kernel asks to retry.
        if (errno == EAGAIN && tries < 8) continue;
        if (errno != ENOSYS && errno != EPERM) return Fail("open", rel, errno, want);
        no_openat2_.store(true);  // ENOSYS: old kernel; EPERM: a seccomp filter
        break;
      }
    }
    // Component by component: O_NOFOLLOW refuses a link at each step.
    Fd cur;
    std::vector<std::string> comps = Components(rel);
    std::string sofar;
    for (size_t i = 0; i < comps.size(); ++i) {
      sofar += (sofar.empty() ? "" : "/") + comps[i];
      if (comps[i] == "..") return Escape(sofar);
      const bool last = i + 1 == comps.size();
      const int f = last ? (flags | O_NOFOLLOW) : (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      Fd next(::openat(cur.get() >= 0 ? cur.get() : root, comps[i].c_str(), f, 0));
      if (next.get() < 0) return Fail("open", rel, errno, want);
      cur = std::move(next);
    }
    if (cur.get() < 0) cur = Fd(::openat(root, ".", flags, 0));  // rel named the root
    if (cur.get() < 0) return Status::FromErrno("open", root_, errno);
    *out = std::move(cur);
    return Status::OK();
  }

  // One openat2 of `rel` beneath the root (following no link), for the
  // operations that open their last component anyway: 0 and *out set, else
  // the errno (ENOSYS when openat2 is not used: go the long way).
  int OpenDirect(const std::string& rel, int flags, Fd* out) {
    int root = -1;
    if (!opt_.use_openat2 || no_openat2_.load(std::memory_order_relaxed) || !Root(&root).ok())
      return ENOSYS;
    const size_t slash = rel.rfind('/');
    const std::string leaf = slash == std::string::npos ? rel : rel.substr(slash + 1);
    if (leaf == "." || leaf == "..") return EPERM;  // the long way says why
    struct open_how how = {};
    how.flags = static_cast<uint64_t>(flags);
    how.mode = (flags & O_CREAT) ? 0666 : 0;
    how.resolve = kResolve;
    for (int tries = 0;; ++tries) {
      long fd = ::syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how);
      if (fd >= 0) {
        *out = Fd(static_cast<int>(fd));
        return 0;
      }
      if (errno == EAGAIN && tries < 8) continue;  // a concurrent rename raced a ".." lookup
      return errno;
    }
  }

  // For reading: a regular file, opened without blocking (a FIFO's open for
  // reading would wait for a writer; its read for data).
  // `st`, if given, receives the file's fstat (for ReadFd).
  Status OpenRegular(const std::string& rel, Fd* fd, struct stat* st = nullptr) {
    CS_RETURN_IF_ERROR(OpenBeneath(rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, fd));
    return CheckRegular(fd->get(), rel, st);
  }

  static Status CheckRegular(int fd, const std::string& rel, struct stat* out = nullptr) {
    struct stat own;
    struct stat& st = out != nullptr ? *out : own;
    if (::fstat(fd, &st) != 0) return Status::FromErrno("stat", rel, errno);
    if (S_ISREG(st.st_mode)) return Status::OK();
    return Status::PermissionDenied(rel + " is " + FileTypeName(st.st_mode) +
                                    ", not a regular file");
  }

  Status WriteNew(const Where& w, const std::string& leaf, const std::string& data, bool sync) {
    const std::string path = prefix_ + w.rel.substr(0, w.rel.size() - w.leaf.size()) + leaf;
    Fd fd(::openat(w.dir(), leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                   0666));
    if (fd.get() < 0) return Status::FromErrno("create", path, errno);
    Status s = WriteFd(fd.get(), data, path);
    if (s.ok() && sync && ::fsync(fd.get()) != 0) s = Status::FromErrno("fsync", path, errno);
    if (::close(fd.release()) != 0 && s.ok()) s = Status::FromErrno("close", path, errno);
    if (!s.ok()) ::unlinkat(w.dir(), leaf.c_str(), 0);
    return s;
  }

  // Removes `name` in `dirfd`: a directory's entries first, by descriptor;
  // links are removed, never followed.
  Status RemoveAt(int dirfd, const std::string& name, const std::string& shown) {
    if (::unlinkat(dirfd, name.c_str(), 0) == 0) return Status::OK();
    if (errno != EISDIR && errno != EPERM) return Status::FromErrno("rm", shown, errno);
    Fd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() < 0) return Status::FromErrno("rm -r", shown, errno);
    DIR* d = ::fdopendir(fd.get());
    if (d == nullptr) return Status::FromErrno("rm -r", shown, errno);
    fd.release();
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      if (!IsDotName(e->d_name)) names.emplace_back(e->d_name);
    }
    Status s;
    for (const std::string& n : names) {
      Status r = RemoveAt(::dirfd(d), n, shown + "/" + n);
      if (!r.ok() && !r.IsNotFound() && s.ok()) s = r;
    }
    ::closedir(d);
    if (!s.ok()) return s;
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0)
      return Status::FromErrno("rm -r", shown, errno);
    return Status::OK();
  }

  // `types`: fill DirEntry::type, with an lstat where readdir does not say
  // (so a plain listing of trials/ never costs a stat per entry).
  Status List(const std::string& dir, const std::string& rel, bool types,
              std::vector<DirEntry>* entries) {
    entries->clear();
    Fd fd;
    CS_RETURN_IF_ERROR(OpenBeneath(rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, &fd));
    // getdents64 itself (readdir's DIR would cost an fstat and two fcntl per listing).
    alignas(8) char buf[32768];
    for (;;) {
      const long n = ::syscall(SYS_getdents64, fd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno("readdir", dir, errno);
      if (n == 0) break;
      for (long off = 0; off < n;) {
        struct Dirent64 {
          uint64_t ino;
          int64_t off;
          unsigned short reclen;
          unsigned char type;
          char name[1];
        };
        const auto* e = reinterpret_cast<const Dirent64*>(buf + off);
        off += e->reclen;
        if (IsDotName(e->name)) continue;
        uint32_t type = e->type == DT_UNKNOWN ? 0 : DTTOIF(e->type);
        struct stat st;
        if (types && type == 0 && ::fstatat(fd.get(), e->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
          type = st.st_mode & S_IFMT;
        }
        entries->push_back({e->name, type});
      }
    }
    return Status::OK();
  }

  Status Escape(const std::string& rel) const {
    return Status::PermissionDenied(
        rel + " leads out of the sweep directory (..); claimsweep stays inside " + root_);
  }

  Status Fail(const std::string& what, const Where& w, int err, Want want) {
    if (w.rel.empty()) return Status::FromErrno(what, w.leaf, err);  // outside the sweep
    return Fail(what, w.rel, err, want);
  }

  // The error of a failed operation on `rel`. When the cause is the tree's
  // shape (a link, a non-directory on the way, a FIFO), walk the path once to
  // name the offending entry: this is the error path only.
  Status Fail(const std::string& what, const std::string& rel, int err, Want want) {
    if (err == ELOOP || err == ENOTDIR || err == EXDEV || err == ENXIO || err == EISDIR ||
        err == EMLINK) {
      int root = -1;
      if (Root(&root).ok()) {
        Fd cur;
        std::vector<std::string> comps = Components(rel);
        std::string sofar;
        for (size_t i = 0; i < comps.size(); ++i) {
          sofar += (sofar.empty() ? "" : "/") + comps[i];
          if (comps[i] == "..") return Escape(sofar);
          const int at = cur.get() >= 0 ? cur.get() : root;
          struct stat st;
          if (::fstatat(at, comps[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) break;
          const bool last = i + 1 == comps.size();
          if (S_ISLNK(st.st_mode)) {
            char target[4096];
            ssize_t n = ::readlinkat(at, comps[i].c_str(), target, sizeof target - 1);
            const std::string to =
                n > 0 ? " (to " + std::string(target, static_cast<size_t>(n)) + ")" : "";
            return Status::PermissionDenied(sofar + " is a symlink" + to +
                                            "; claimsweep never follows links inside a sweep");
          }
          if (!last && !S_ISDIR(st.st_mode)) {
            return Status::PermissionDenied(sofar + " is " + FileTypeName(st.st_mode) +
                                            ", not a directory");
          }
          if (last && want == Want::kDir && !S_ISDIR(st.st_mode)) {
            return Status::PermissionDenied(sofar + " is " + FileTypeName(st.st_mode) +
                                            ", not a directory");
          }
          if (last && want == Want::kRegular && !S_ISREG(st.st_mode)) {
            return Status::PermissionDenied(sofar + " is " + FileTypeName(st.st_mode) +
                                            ", not a regular file");
          }
          if (last) break;
          Fd next(::openat(at, comps[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
          if (next.get() < 0) break;
          cur = std::move(next);
        }
      }
    }
    return Status::FromErrno(what, prefix_ + rel, err);
  }

  std::string root_;
  std::string prefix_;  // root_ + "/"
  SweepEnvOptions opt_;
  Env* outside_;
  std::mutex mu_;
  std::atomic<int> root_fd_{-1};
  static constexpr int kTopDirs = 3;
  static constexpr const char* kTopDirNames[kTopDirs] = {"trials", "leases", "tmp"};
  std::atomic<int> top_fd_[kTopDirs] = {-1, -1, -1};
  std::atomic<bool> no_openat2_{false};
};

}  // namespace

std::unique_ptr<Env> NewSweepEnv(const std::string& sweep_root, SweepEnvOptions options) {
  return std::make_unique<SweepEnv>(sweep_root, options);
}

}  // namespace claimsweep
