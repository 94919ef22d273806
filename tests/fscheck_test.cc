// `sweep fscheck`'s checks in-process (core/fscheck.h) on this machine's ext4
// (/tmp) and tmpfs (/dev/shm): the primitives pass, the type is named, the
// numbers are the filesystem's, and nothing is left behind.
#include "core/fscheck.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/fscheck_internal.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

// A fresh directory under `base`, removed at the end.
class DirUnder {
 public:
  explicit DirUnder(const std::string& base) {
    std::string t = base + "/claimsweep-fscheck-test.XXXXXX";
    if (::mkdtemp(t.data()) != nullptr) path_ = t;
  }
  ~DirUnder() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().string());
  return names;
}

std::map<std::string, FsVerdict> Verdicts(const FsCheckReport& r) {
  std::map<std::string, FsVerdict> v;
  for (const auto& f : r.findings) {
    auto it = v.find(f.check);
    if (it == v.end() || f.verdict > it->second) v[f.check] = f.verdict;
  }
  return v;
}

void ExpectSafeAndNamed(const std::string& base, const std::string& type, uint64_t magic) {
  DirUnder d(base);
  ASSERT_FALSE(d.path().empty()) << base;
  FsCheckOptions o;
  o.dir = d.path();
  auto r = RunFsCheck(o);
  ASSERT_OK(r);
  EXPECT_TRUE(r->safe());
  EXPECT_EQ(r->filesystem, type);
  EXPECT_EQ(r->fs_magic, magic);
  EXPECT_FALSE(r->network);
  auto v = Verdicts(*r);
  for (const char* c : {"exclusive_create", "rename_dir", "link", "clock_skew", "time_resolution"})
    EXPECT_EQ(v[c], FsVerdict::kOk) << c;
  for (const char* c : {"filesystem", "symlinks", "fifos", "permissions", "new_files", "space"})
    EXPECT_EQ(v.count(c), 1u) << c;
  // Local files are stamped by this kernel's clock, to the nanosecond.
  EXPECT_LT(std::fabs(r->mkdir_skew_seconds), 1.0);
  EXPECT_LT(std::fabs(r->create_skew_seconds), 1.0);
  EXPECT_LT(std::fabs(r->touch_skew_seconds), 1.0);
  EXPECT_EQ(r->resolution_seconds, 1e-9);
  EXPECT_GT(r->touch_change_ms, 0);
  struct statvfs sv;
  ASSERT_EQ(::statvfs(d.path().c_str(), &sv), 0);
  EXPECT_EQ(r->total_bytes, static_cast<uint64_t>(sv.f_blocks) * sv.f_frsize);
  EXPECT_EQ(r->total_inodes, sv.f_files);
  EXPECT_GT(r->free_bytes, 0u);
  EXPECT_TRUE(Entries(d.path()).empty()) << "fscheck left its directory behind";
}

TEST(FsCheck, Ext4IsSafeAndNamed) { ExpectSafeAndNamed("/tmp", "ext4", 0xEF53); }

TEST(FsCheck, TmpfsIsSafeAndNamed) {
  if (::access("/dev/shm", W_OK) != 0) GTEST_SKIP() << "no writable /dev/shm";
  ExpectSafeAndNamed("/dev/shm", "tmpfs", 0x01021994);
}

TEST(FsCheck, GroupOrWorldWritableDirIsAWarningThatNamesAllowShared) {
  DirUnder d("/tmp");
  ASSERT_EQ(::chmod(d.path().c_str(), 01777), 0);
  FsCheckOptions o;
  o.dir = d.path();
  auto r = RunFsCheck(o);
  ASSERT_OK(r);
  EXPECT_TRUE(r->safe());  // a sweep made inside it gets the umask
  EXPECT_EQ(r->dir_mode, 01777u);
  bool seen = false;
  for (const auto& f : r->findings) {
    if (f.check != "permissions") continue;
    seen = true;
    EXPECT_EQ(f.verdict, FsVerdict::kWarning);
    EXPECT_NE(f.found.find("writable by others (sticky"), std::string::npos) << f.found;
    EXPECT_NE(f.claimsweep.find("allow_shared"), std::string::npos) << f.claimsweep;
  }
  EXPECT_TRUE(seen);
}

TEST(FsCheck, ResolutionIsTheUnitTheNanosecondsAreKeptIn) {
  using fscheck::TimeResolution;
  EXPECT_EQ(TimeResolution({{100, 0}, {101, 0}}), 1);  // sshfs: whole seconds
  EXPECT_EQ(TimeResolution({{100, 5000}, {100, 120000}}), 1e-6);
  EXPECT_EQ(TimeResolution({{100, 4000000}, {100, 8000000}, {101, 0}}), 1e-3);
  EXPECT_EQ(TimeResolution({{100, 123456789}, {100, 0}}), 1e-9);
}

TEST(FsCheck, BadArgumentsAreRefusedByName) {
  DirUnder d("/tmp");
  const std::string file = d.path() + "/file", fifo = d.path() + "/fifo", link = d.path() + "/link",
                    sub = d.path() + "/sub";
  WriteRaw(file, "x");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  ASSERT_EQ(::symlink(sub.c_str(), link.c_str()), 0);
  struct Case {
    std::string dir, second, message;
  };
  const std::vector<Case> cases = {
      {d.path() + "/missing", "", "no such directory"},
      {file, "", "is a regular file, not a directory"},
      {link, "", "is a symlink (to " + sub + ")"},
      {link + "/", "", "is a symlink"},
      {sub, fifo, "--second-mount " + fifo + " is a FIFO, not a directory"},
      {sub, d.path() + "/nowhere", "no such directory"},
  };
  for (const auto& c : cases) {
    FsCheckOptions o;
    o.dir = c.dir;
    o.second_mount = c.second;
    auto r = RunFsCheck(o);
    ASSERT_FALSE(r.ok()) << c.dir;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.message), std::string::npos) << r.status().message();
  }
  EXPECT_TRUE(Entries(sub).empty());
}

}  // namespace
}  // namespace claimsweep::testing
