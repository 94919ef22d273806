// The Env confined to a sweep (NewSweepEnv): ordinary operations work, and no
// operation follows a symlink at any level, leaves the sweep through "..", or
// blocks on a FIFO. Every test runs with openat2 and with the per-component
// walk used on kernels without it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "core/env.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

class SweepEnvTest : public ::testing::TestWithParam<bool> {
 protected:
  SweepEnvTest() {
    std::filesystem::create_directories(root + "/trials/000000");
    std::filesystem::create_directories(outside);
    WriteRaw(secret, "the secret\n");
    SweepEnvOptions opt;
    opt.use_openat2 = GetParam();
    env = NewSweepEnv(root, opt);
  }
  // Everything outside the sweep, as it was: names and the secret's text.
  std::vector<std::string> OutsideNames() {
    std::vector<std::string> n;
    for (const auto& e : std::filesystem::recursive_directory_iterator(outside))
      n.push_back(e.path().string());
    std::sort(n.begin(), n.end());
    return n;
  }

  TempDir tmp;
  std::string root = tmp.path() + "/sweep";
  std::string outside = tmp.path() + "/outside";
  std::string secret = outside + "/secret";
  std::unique_ptr<Env> env;
};

TEST_P(SweepEnvTest, OrdinaryOperationsWork) {
  const std::string t = root + "/trials/000000";
  ASSERT_OK(env->CreateDirs(t + "/attempt-0001/sub"));
  ASSERT_OK(env->CreateDir(t + "/attempt-0001"));  // exists: fine
  ASSERT_OK(env->WriteFileAtomic(t + "/a.json", "one"));
  ASSERT_OK(env->WriteFileAtomic(t + "/a.json", "two"));
  std::string text;
  ASSERT_OK(env->ReadFile(t + "/a.json", &text));
  EXPECT_EQ(text, "two");
  EXPECT_OK(env->CreateExclusive(t + "/b", "x"));
  EXPECT_TRUE(env->CreateExclusive(t + "/b", "y").IsAlreadyExists());
  EXPECT_OK(env->LinkExclusive(t + "/b", t + "/c"));
  EXPECT_TRUE(env->LinkExclusive(t + "/a.json", t + "/c").IsAlreadyExists());
  EXPECT_OK(env->Rename(t + "/c", root + "/trials/c"));
  EXPECT_OK(env->AppendFile(t + "/log", "1\n"));
  EXPECT_OK(env->AppendFile(t + "/log", "2\n"));
  ASSERT_OK(env->ReadFileTail(t + "/log", 2, &text));
  EXPECT_EQ(text, "2\n");
  EXPECT_OK(env->ReadFileAtMost(t + "/log", 4, &text));
  Status big = env->ReadFileAtMost(t + "/log", 3, &text);
  EXPECT_EQ(big.code(), Status::Code::kCorruption) << big.ToString();
  FileInfo info;
  ASSERT_OK(env->Stat(t + "/attempt-0001", &info));
  EXPECT_TRUE(info.is_dir);
  EXPECT_TRUE(env->Stat(t + "/nothing", &info).IsNotFound());
  EXPECT_TRUE(env->ReadFile(t + "/nothing", &text).IsNotFound());
  std::vector<std::string> none;
  EXPECT_TRUE(env->ListDir(root + "/trials/000001", &none).IsNotFound());
  int64_t now = 0;
  EXPECT_OK(env->FsNow(t + "/probe", &now));
  EXPECT_GT(now, 0);
  std::vector<DirEntry> entries;
  ASSERT_OK(env->ListDirEntries(t, &entries));
  std::sort(entries.begin(), entries.end(),
            [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  std::vector<std::string> names;
  for (const auto& e : entries) names.push_back(e.name + (e.type == S_IFDIR ? "/" : ""));
  EXPECT_EQ(names, (std::vector<std::string>{"a.json", "attempt-0001/", "b", "log", "probe"}));
  EXPECT_OK(env->RemoveFile(t + "/b"));
  EXPECT_OK(env->RemoveTree(t));
  EXPECT_FALSE(std::filesystem::exists(t));
  EXPECT_OK(env->RemoveTree(t));  // already gone
  // The root itself and paths outside the sweep behave as with Env::Default().
  EXPECT_OK(env->ReadFile(secret, &text));
  ASSERT_OK(env->Stat(root, &info));
  EXPECT_TRUE(info.is_dir);
}

TEST_P(SweepEnvTest, TheRootMayBeReachedThroughASymlink) {
  const std::string link = tmp.path() + "/scratch";
  ASSERT_EQ(::symlink(root.c_str(), link.c_str()), 0);
  SweepEnvOptions opt;
  opt.use_openat2 = GetParam();
  auto via = NewSweepEnv(link + "/", opt);
  ASSERT_OK(via->WriteFileAtomic(link + "/trials/000000/r", "ok"));
  std::string text;
  ASSERT_OK(via->ReadFile(link + "/trials/000000/r", &text));
  EXPECT_EQ(text, "ok");
  EXPECT_EQ(ReadAll(root + "/trials/000000/r"), "ok");
}

TEST_P(SweepEnvTest, ASymlinkAtAnyLevelIsRefusedAndNamed) {
  const auto before = OutsideNames();
  // trials/000001 -> outside (a directory level), trials/000000/log -> secret
  // (the last level), and a link deeper down.
  ASSERT_EQ(::symlink(outside.c_str(), (root + "/trials/000001").c_str()), 0);
  ASSERT_EQ(::symlink(secret.c_str(), (root + "/trials/000000/log").c_str()), 0);
  ASSERT_OK(env->CreateDirs(root + "/trials/000000/attempt-0001"));
  ASSERT_EQ(::symlink(outside.c_str(), (root + "/trials/000000/attempt-0001/work").c_str()), 0);
  const std::string d = root + "/trials/000001";
  std::string text;
  std::vector<std::string> names;
  Status s = env->ListDir(d, &names);
  EXPECT_EQ(s.code(), Status::Code::kPermissionDenied) << s.ToString();
  EXPECT_NE(s.message().find("trials/000001 is a symlink (to " + outside +
                             "); claimsweep never follows links"),
            std::string::npos)
      << s.message();
  s = env->ReadFile(d + "/secret", &text);
  EXPECT_NE(s.message().find("trials/000001 is a symlink"), std::string::npos) << s.ToString();
  EXPECT_TRUE(text.empty());
  s = env->ReadFile(root + "/trials/000000/log", &text);
  EXPECT_NE(s.message().find("trials/000000/log is a symlink"), std::string::npos) << s.ToString();
  EXPECT_EQ(text.find("secret"), std::string::npos);
  EXPECT_FALSE(env->ReadFileTail(root + "/trials/000000/log", 100, &text).ok());
  EXPECT_FALSE(env->AppendFile(root + "/trials/000000/log", "planted\n").ok());
  s = env->ReadFile(root + "/trials/000000/attempt-0001/work/secret", &text);
  EXPECT_NE(s.message().find("trials/000000/attempt-0001/work is a symlink"), std::string::npos)
      << s.ToString();
  // No write, create, rename, touch or removal reaches outside.
  EXPECT_FALSE(env->WriteFileAtomic(d + "/secret", "x").ok());
  EXPECT_FALSE(env->CreateExclusive(d + "/stop", "x").ok());
  EXPECT_FALSE(env->CreateDir(d + "/attempt-0002").ok());
  EXPECT_FALSE(env->CreateDirs(d + "/a/b").ok());
  EXPECT_FALSE(env->Rename(d + "/secret", root + "/stolen").ok());
  EXPECT_FALSE(env->Rename(root + "/trials/000000", d + "/moved").ok());
  EXPECT_FALSE(env->LinkExclusive(d + "/secret", root + "/stolen").ok());
  EXPECT_FALSE(env->Touch(d + "/secret").ok());
  EXPECT_FALSE(env->RemoveFile(d + "/secret").ok());
  EXPECT_FALSE(env->Exists(d + "/secret"));
  // Stat reports a final link as one; RemoveTree removes the link only.
  FileInfo info;
  ASSERT_OK(env->Stat(d, &info));
  EXPECT_TRUE(info.is_symlink);
  EXPECT_OK(env->RemoveTree(root + "/trials/000000"));
  EXPECT_OK(env->RemoveTree(d));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(d)));
  EXPECT_EQ(OutsideNames(), before);
  EXPECT_EQ(ReadAll(secret), "the secret\n");
  EXPECT_FALSE(std::filesystem::exists(root + "/stolen"));
}

TEST_P(SweepEnvTest, DotDotCannotLeaveTheSweep) {
  std::string text;
  for (const std::string& p : {root + "/trials/../../outside/secret", root + "/../outside/secret",
                               root + "/trials/000000/../../../outside/secret"}) {
    Status s = env->ReadFile(p, &text);
    EXPECT_FALSE(s.ok()) << p;
    EXPECT_NE(s.message().find("leads out of the sweep directory"), std::string::npos)
        << s.ToString();
  }
  EXPECT_FALSE(env->WriteFileAtomic(root + "/trials/../../outside/planted", "x").ok());
  EXPECT_FALSE(env->RemoveTree(root + "/trials/../../outside").ok());
  EXPECT_FALSE(env->Rename(root + "/trials/../../outside/secret", root + "/stolen").ok());
  EXPECT_FALSE(std::filesystem::exists(outside + "/planted"));
  EXPECT_EQ(ReadAll(secret), "the secret\n");
}

TEST_P(SweepEnvTest, NonRegularFilesAreRefusedWithoutBlocking) {
  const std::string fifo = root + "/trials/000000/result.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  ASSERT_OK(env->CreateDirs(root + "/trials/000000/dir.json"));
  const auto t0 = std::chrono::steady_clock::now();
  std::string text;
  Status s = env->ReadFile(fifo, &text);
  EXPECT_NE(s.message().find("trials/000000/result.json is a FIFO, not a regular file"),
            std::string::npos)
      << s.ToString();
  EXPECT_FALSE(env->ReadFileAtMost(fifo, 100, &text).ok());
  EXPECT_FALSE(env->ReadFileTail(fifo, 100, &text).ok());
  std::string_view view;
  std::shared_ptr<const void> owner;
  EXPECT_FALSE(env->ReadFileShared(fifo, &view, &owner).ok());
  s = env->AppendFile(fifo, "x");
  EXPECT_NE(s.message().find("is a FIFO, not a regular file"), std::string::npos) << s.ToString();
  s = env->ReadFile(root + "/trials/000000/dir.json", &text);
  EXPECT_NE(s.message().find("dir.json is a directory, not a regular file"), std::string::npos)
      << s.ToString();
  // A file where a directory belongs.
  WriteRaw(root + "/trials/000002", "stray");
  std::vector<std::string> names;
  s = env->ListDir(root + "/trials/000002", &names);
  EXPECT_NE(s.message().find("trials/000002 is a regular file, not a directory"), std::string::npos)
      << s.ToString();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2);
}

// What `trial` hands its command (the directory it enters, the log it writes)
// is a descriptor of what was resolved inside the sweep, never a path that a
// link could be swapped into afterwards.
TEST_P(SweepEnvTest, DescriptorsForTheCommandAreResolvedWithoutLinks) {
  ASSERT_OK(env->CreateDirs(root + "/trials/000000/work"));
  int fd = -1;
  ASSERT_OK(env->OpenDirectory(root + "/trials/000000/work", &fd));
  struct stat a, b;
  ASSERT_EQ(::fstat(fd, &a), 0);
  ASSERT_EQ(::stat((root + "/trials/000000/work").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  ::close(fd);
  ASSERT_OK(env->OpenAppend(root + "/trials/000000/log", &fd));
  ASSERT_EQ(::write(fd, "x", 1), 1);
  ::close(fd);
  EXPECT_EQ(ReadAll(root + "/trials/000000/log"), "x");
  ASSERT_EQ(::symlink(outside.c_str(), (root + "/trials/000001").c_str()), 0);
  ASSERT_EQ(::symlink(outside.c_str(), (root + "/trials/000000/linked").c_str()), 0);
  Status s = env->OpenDirectory(root + "/trials/000000/linked", &fd);
  EXPECT_NE(s.message().find("trials/000000/linked is a symlink"), std::string::npos)
      << s.ToString();
  s = env->OpenAppend(root + "/trials/000001/log", &fd);
  EXPECT_NE(s.message().find("trials/000001 is a symlink"), std::string::npos) << s.ToString();
  EXPECT_FALSE(Env::Default()->Exists(outside + "/log"));
  const std::string fifo = root + "/trials/000000/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  s = env->OpenAppend(fifo, &fd);  // must not block waiting for a reader
  EXPECT_NE(s.message().find("is a FIFO, not a regular file"), std::string::npos) << s.ToString();
}

// Exists, CreateExclusive and OpenAppend resolve the whole path in one call
// where they can: they answer exactly as Stat and the per-level walk do.
TEST_P(SweepEnvTest, OneCallPathsAnswerAsTheWalkDoes) {
  const std::string t = root + "/trials/000000";
  ASSERT_EQ(::symlink(outside.c_str(), (t + "/linked").c_str()), 0);
  ASSERT_EQ(::symlink(secret.c_str(), (t + "/final").c_str()), 0);
  FileInfo info;
  EXPECT_TRUE(env->Exists(t));
  EXPECT_TRUE(env->Exists(t + "/final"));  // a final link exists, as for lstat
  EXPECT_TRUE(env->Stat(t + "/final", &info).ok() && info.is_symlink);
  EXPECT_FALSE(env->Exists(t + "/missing"));
  EXPECT_FALSE(env->Exists(t + "/linked/secret"));  // only through a link
  EXPECT_FALSE(env->Exists(t + "/.."));
  Status s = env->CreateExclusive(t + "/linked/stop", "x");
  EXPECT_NE(s.message().find("trials/000000/linked is a symlink"), std::string::npos)
      << s.ToString();
  s = env->CreateExclusive(t + "/final", "x");
  EXPECT_TRUE(s.IsAlreadyExists()) << s.ToString();
  EXPECT_NE(s.message().find(t + "/final"), std::string::npos) << s.ToString();
  s = env->CreateExclusive(t + "/none/stop", "x");
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  int fd = -1;
  s = env->OpenAppend(t + "/final", &fd);
  EXPECT_NE(s.message().find("trials/000000/final is a symlink"), std::string::npos)
      << s.ToString();
  ASSERT_OK(env->CreateExclusive(t + "/synced", "data", /*sync=*/true));
  EXPECT_EQ(ReadAll(t + "/synced"), "data");
  EXPECT_EQ(OutsideNames(), std::vector<std::string>{secret});
  EXPECT_EQ(ReadAll(secret), "the secret\n");
}

INSTANTIATE_TEST_SUITE_P(Resolve, SweepEnvTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Openat2" : "Walk";
                         });

}  // namespace
}  // namespace claimsweep::testing
