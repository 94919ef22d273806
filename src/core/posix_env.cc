// The real Env over POSIX syscalls.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "core/env.h"
#include "core/posix_io.h"
#include "core/token.h"

namespace claimsweep {

Status WriteFd(int fd, const std::string& data, const std::string& path) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("write", path, errno);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return Status::OK();
}

Status ReadFd(int fd, const std::string& path, uint64_t max_bytes, std::string* data,
              const struct stat* known) {
  data->clear();
  // One allocation of the file's size (a checkpoint is ~100 MB: growing a
  // string by doubling page-faults through three times that), then read
  // until EOF, in case the file grew meanwhile.
  struct stat st;
  size_t size = 0;
  bool regular = false;
  if (known != nullptr || ::fstat(fd, &st) == 0) {
    if (known != nullptr) st = *known;
    if (st.st_size > 0) size = static_cast<size_t>(st.st_size);
    regular = S_ISREG(st.st_mode);
  }
  auto too_big = [&](uint64_t n) {
    return Status::Corruption(path + " is " + std::to_string(n) + " bytes, more than the " +
                              std::to_string(max_bytes) + " such a file may hold; not read");
  };
  if (max_bytes > 0 && size > max_bytes) return too_big(size);
  data->resize(size + 1);
  size_t got = 0;
  for (;;) {
    if (got == data->size()) data->resize(data->size() * 2 + (1 << 16));
    ssize_t n = ::read(fd, &(*data)[got], data->size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      data->clear();
      return Status::FromErrno("read", path, err);
    }
    if (n == 0) break;
    const bool short_read = static_cast<size_t>(n) < data->size() - got;
    got += static_cast<size_t>(n);
    if (max_bytes > 0 && got > max_bytes) {
      data->clear();
      return too_big(got);
    }
    // A regular file reads short only at its end: no second read to see it
    // (one network round trip fewer per record).
    if (regular && short_read) break;
  }
  data->resize(got);
  return Status::OK();
}

Status ReadFdTail(int fd, const std::string& path, uint64_t max_bytes, std::string* data) {
  data->clear();
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno("stat", path, errno);
  const uint64_t size = st.st_size > 0 ? static_cast<uint64_t>(st.st_size) : 0;
  const uint64_t from = size > max_bytes ? size - max_bytes : 0;
  data->resize(static_cast<size_t>(size - from));
  size_t got = 0;
  while (got < data->size()) {
    ssize_t n = ::pread(fd, &(*data)[got], data->size() - got, static_cast<off_t>(from + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      data->clear();
      return Status::FromErrno("read", path, err);
    }
    if (n == 0) break;  // shrank meanwhile
    got += static_cast<size_t>(n);
  }
  data->resize(got);
  return Status::OK();
}

Status MapOrReadFd(int fd, const std::string& path, std::string_view* data,
                   std::shared_ptr<const void>* owner) {
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_size < (1 << 20)) {  // small: a copy is cheaper than a mapping
    auto s = std::make_shared<std::string>();
    CS_RETURN_IF_ERROR(ReadFd(fd, path, 0, s.get()));
    *data = *s;
    *owner = std::move(s);
    return Status::OK();
  }
  const size_t size = static_cast<size_t>(st.st_size);
  // MAP_POPULATE maps the cached pages up front: no page fault per 4 KiB.
  // Files read this way are replaced by rename, never truncated in place.
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  if (p == MAP_FAILED) return Status::FromErrno("mmap", path, errno);
  *data = std::string_view(static_cast<const char*>(p), size);
  *owner = std::shared_ptr<const void>(
      p, [size](const void* q) { ::munmap(const_cast<void*>(q), size); });
  return Status::OK();
}

void FillFileInfo(const struct stat& st, FileInfo* info) {
  info->is_dir = S_ISDIR(st.st_mode);
  info->is_symlink = S_ISLNK(st.st_mode);
  info->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  info->size = static_cast<uint64_t>(st.st_size);
  info->mode = st.st_mode;
  info->uid = st.st_uid;
}

std::string TempNameFor(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return path + ".tmp." + ProcessToken() + "." + std::to_string(counter++);
}

const char* FileTypeName(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFLNK: return "a symlink";
    case S_IFIFO: return "a FIFO";
    case S_IFSOCK: return "a socket";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
  }
  return "of unknown type";
}

namespace {

class PosixEnv : public Env {
 public:
  Status WriteFileAtomic(const std::string& path, const std::string& data) override {
    std::string tmp = TempNameFor(path);
    Status s = WriteNew(tmp, data, /*sync=*/true);
    if (!s.ok()) return s;
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return Status::FromErrno("rename", path, err);
    }
    return Status::OK();
  }

  Status CreateExclusive(const std::string& path, const std::string& data, bool sync) override {
    return WriteNew(path, data, sync);
  }

  Status LinkExclusive(const std::string& src, const std::string& dst) override {
    if (::link(src.c_str(), dst.c_str()) == 0) return Status::OK();
    int err = errno;
    if (err == EEXIST) {
      // NFS: a retransmitted LINK can fail with EEXIST although the first one
      // succeeded. Our source then has two links, and that is proof we won.
      struct stat st;
      if (::lstat(src.c_str(), &st) == 0 && st.st_nlink >= 2) {
        struct stat dt;
        if (::lstat(dst.c_str(), &dt) == 0 && dt.st_ino == st.st_ino) return Status::OK();
      }
    }
    return Status::FromErrno("link", dst, err);
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) == 0) return Status::OK();
    return Status::FromErrno("rename " + from + " ->", to, errno);
  }

  Status AppendFile(const std::string& path, const std::string& data) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) return Status::FromErrno("open", path, errno);
    Status s = WriteFd(fd, data, path);
    ::close(fd);
    return s;
  }

  Status ReadFile(const std::string& path, std::string* data) override {
    return ReadWith(path, [&](int fd) { return ReadFd(fd, path, 0, data); });
  }

  Status ReadFileAtMost(const std::string& path, uint64_t max_bytes, std::string* data) override {
    return ReadWith(path, [&](int fd) { return ReadFd(fd, path, max_bytes, data); });
  }

  Status ReadFileTail(const std::string& path, uint64_t max_bytes, std::string* data) override {
    return ReadWith(path, [&](int fd) { return ReadFdTail(fd, path, max_bytes, data); });
  }

  Status ReadFileShared(const std::string& path, std::string_view* data,
                        std::shared_ptr<const void>* owner) override {
    return ReadWith(path, [&](int fd) { return MapOrReadFd(fd, path, data, owner); });
  }

  Status CreateDir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0777) == 0) return Status::OK();
    int err = errno;
    if (err == EEXIST) {
      struct stat st;
      if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Status::OK();
      return Status::IOError(path + " exists and is not a directory");
    }
    return Status::FromErrno("mkdir", path, err);
  }

  Status CreateDirs(const std::string& path) override {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return Status::IOError("mkdir -p " + path + ": " + ec.message());
    return Status::OK();
  }

  Status ListDir(const std::string& dir, std::vector<std::string>* names) override {
    names->clear();
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Status::FromErrno("opendir", dir, errno);
    while (struct dirent* e = ::readdir(d)) {
      const char* n = e->d_name;
      if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
      names->emplace_back(n);
    }
    ::closedir(d);
    return Status::OK();
  }

  Status ListDirEntries(const std::string& dir, std::vector<DirEntry>* entries) override {
    entries->clear();
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Status::FromErrno("opendir", dir, errno);
    while (struct dirent* e = ::readdir(d)) {
      const char* n = e->d_name;
      if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
      uint32_t type = e->d_type == DT_UNKNOWN ? 0 : DTTOIF(e->d_type);
      struct stat st;
      if (type == 0 && ::fstatat(::dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) == 0)
        type = st.st_mode & S_IFMT;
      entries->push_back({n, type});
    }
    ::closedir(d);
    return Status::OK();
  }

  Status Stat(const std::string& path, FileInfo* info) override {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return Status::FromErrno("stat", path, errno);
    FillFileInfo(st, info);
    return Status::OK();
  }

  Status Touch(const std::string& path) override {
    // utimensat(NULL) asks the server to stamp its own time (NFS SET_TO_SERVER_TIME).
    if (::utimensat(AT_FDCWD, path.c_str(), nullptr, AT_SYMLINK_NOFOLLOW) == 0) return Status::OK();
    if (errno != ENOENT) return Status::FromErrno("touch", path, errno);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) return Status::FromErrno("create", path, errno);
    ::close(fd);
    return Status::OK();
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) == 0) return Status::OK();
    return Status::FromErrno("unlink", path, errno);
  }

  Status RemoveTree(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) return Status::IOError("rm -r " + path + ": " + ec.message());
    return Status::OK();
  }

 private:
  template <typename F>
  Status ReadWith(const std::string& path, F read) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open", path, errno);
    Status s = read(fd);
    ::close(fd);
    return s;
  }

  Status WriteNew(const std::string& path, const std::string& data, bool sync) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) return Status::FromErrno("create", path, errno);
    Status s = WriteFd(fd, data, path);
    if (s.ok() && sync && ::fsync(fd) != 0) s = Status::FromErrno("fsync", path, errno);
    if (::close(fd) != 0 && s.ok()) s = Status::FromErrno("close", path, errno);
    if (!s.ok()) ::unlink(path.c_str());
    return s;
  }
};

}  // namespace

Status Env::ReadFileShared(const std::string& path, std::string_view* data,
                           std::shared_ptr<const void>* owner) {
  auto s = std::make_shared<std::string>();
  CS_RETURN_IF_ERROR(ReadFile(path, s.get()));
  *data = *s;
  *owner = std::move(s);
  return Status::OK();
}

Status Env::OpenDirectory(const std::string& path, int* fd) {
  *fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  return *fd >= 0 ? Status::OK() : Status::FromErrno("open", path, errno);
}

Status Env::OpenAppend(const std::string& path, int* fd) {
  *fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
               0666);
  if (*fd < 0) return Status::FromErrno("open", path, errno);
  struct stat st;
  if (::fstat(*fd, &st) == 0 && S_ISREG(st.st_mode)) return Status::OK();
  ::close(*fd);
  *fd = -1;
  return Status::PermissionDenied(path + " is not a regular file");
}

Status Env::ReadFileAtMost(const std::string& path, uint64_t max_bytes, std::string* data) {
  CS_RETURN_IF_ERROR(ReadFile(path, data));
  if (data->size() <= max_bytes) return Status::OK();
  const size_t n = data->size();
  data->clear();
  return Status::Corruption(path + " is " + std::to_string(n) + " bytes, more than the " +
                            std::to_string(max_bytes) + " such a file may hold; not read");
}

Status Env::ReadFileTail(const std::string& path, uint64_t max_bytes, std::string* data) {
  CS_RETURN_IF_ERROR(ReadFile(path, data));
  if (data->size() > max_bytes) data->erase(0, data->size() - max_bytes);
  return Status::OK();
}

Status Env::ListDirEntries(const std::string& dir, std::vector<DirEntry>* entries) {
  entries->clear();
  std::vector<std::string> names;
  CS_RETURN_IF_ERROR(ListDir(dir, &names));
  for (std::string& n : names) {
    FileInfo info;
    const uint32_t type = Stat(dir + "/" + n, &info).ok() ? (info.mode & S_IFMT) : 0;
    entries->push_back({std::move(n), type});
  }
  return Status::OK();
}

bool Env::Exists(const std::string& path) {
  FileInfo info;
  return Stat(path, &info).ok();
}

int64_t Env::MonotonicNs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

Status Env::FsNow(const std::string& probe, int64_t* now_ns) {
  CS_RETURN_IF_ERROR(Touch(probe));
  FileInfo info;
  CS_RETURN_IF_ERROR(Stat(probe, &info));
  *now_ns = info.mtime_ns;
  return Status::OK();
}

Env* Env::Default() {
  static PosixEnv env;
  return &env;
}

}  // namespace claimsweep
