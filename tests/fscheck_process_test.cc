// `sweep fscheck` through the real binary: on this machine's ext4 (/tmp) and
// tmpfs (/dev/shm), bad arguments, and second mounts that do and do not show
// DIR's files (a bind mount in a private mount namespace when root).
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "output.pb.h"
#include "process_util.h"
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

struct Timed {
  RunResult r;
  double seconds;
};

Timed Sweep(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {SWEEP_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto t0 = std::chrono::steady_clock::now();
  RunResult r = RunProcess(argv);
  return {r, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
}

// `sweep fscheck ARGS... --json`'s stdout (stderr dropped) as the message.
FsCheckJson FsCheckJsonOf(const std::vector<std::string>& args, int expect_exit) {
  std::string cmd = std::string("'") + SWEEP_BIN + "' fscheck";
  for (const auto& a : args) cmd += " '" + a + "'";
  RunResult r = RunProcess({"sh", "-c", cmd + " --json 2>/dev/null"});
  EXPECT_EQ(r.exit_code, expect_exit) << r.output;
  FsCheckJson j;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.output, &j).ok()) << r.output;
  return j;
}

std::string VerdictOf(const FsCheckJson& j, const std::string& check) {
  std::string v;
  for (const auto& f : j.findings())
    if (f.check() == check && (v.empty() || f.verdict() == "unsafe")) v = f.verdict();
  return v;
}

bool IsRoot() { return ::geteuid() == 0; }

TEST(FsCheckProcess, HelpListsIt) {
  Timed t = Sweep({"--help"});
  EXPECT_EQ(t.r.exit_code, 0);
  EXPECT_NE(t.r.output.find("fscheck"), std::string::npos) << t.r.output;
}

TEST(FsCheckProcess, Ext4AndTmpfsAreSafeWithEveryFindingAndExactNumbers) {
  for (const auto& [base, type] : {std::pair{"/tmp", "ext4"}, std::pair{"/dev/shm", "tmpfs"}}) {
    DirUnder d(base);
    ASSERT_FALSE(d.path().empty()) << base;
    Timed t = Sweep({"fscheck", d.path()});
    EXPECT_EQ(t.r.exit_code, 0) << t.r.output;
    for (const char* line :
         {"ok       exclusive_create: a second O_CREAT|O_EXCL create of the same name fails with "
          "EEXIST",
          "ok       rename_dir: renaming a directory onto a non-empty one fails with ENOTEMPTY",
          "ok       link: link(2) works and fails with EEXIST on an existing target",
          "clock_skew: a new directory's time is",
          "time_resolution: file times have a resolution of 1 ns",
          "symlinks: symlinks can be created", "fifos: FIFOs can be created", "permissions: ",
          "space: ", "by the observer's own clock", "safe: claimsweep's primitives work in"}) {
      EXPECT_NE(t.r.output.find(line), std::string::npos) << line << "\n" << t.r.output;
    }
    EXPECT_NE(t.r.output.find(std::string("info     filesystem: ") + type), std::string::npos)
        << t.r.output;

    const FsCheckJson j = FsCheckJsonOf({d.path()}, 0);
    EXPECT_TRUE(j.safe());
    EXPECT_EQ(j.filesystem(), type);
    EXPECT_EQ(j.resolution_seconds(), 1e-9);
    EXPECT_FALSE(j.has_second_mount());
    struct statvfs sv;
    ASSERT_EQ(::statvfs(d.path().c_str(), &sv), 0);
    EXPECT_EQ(j.total_bytes(), static_cast<double>(sv.f_blocks) * sv.f_frsize);
    EXPECT_EQ(j.total_inodes(), static_cast<double>(sv.f_files));
    EXPECT_EQ(j.dir_mode(), "0700");  // mkdtemp's
    for (const char* c : {"exclusive_create", "rename_dir", "link", "clock_skew", "time_resolution",
                          "permissions", "new_files", "space"})
      EXPECT_EQ(VerdictOf(j, c), "ok") << c;
    EXPECT_TRUE(std::filesystem::is_empty(d.path())) << "fscheck left files behind";
  }
}

TEST(FsCheckProcess, BadArgumentsExit2NamingTheProblem) {
  DirUnder d("/tmp");
  const std::string file = d.path() + "/file", fifo = d.path() + "/fifo", link = d.path() + "/link",
                    sub = d.path() + "/sub";
  WriteRaw(file, "x");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  ASSERT_EQ(::symlink(sub.c_str(), link.c_str()), 0);
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"fscheck", d.path() + "/missing"}, "/missing: no such directory"},
      {{"fscheck", file}, file + " is a regular file, not a directory"},
      {{"fscheck", link}, link + " is a symlink (to " + sub + ")"},
      {{"fscheck", sub, "--second-mount", fifo}, fifo + " is a FIFO, not a directory"},
      {{"fscheck", sub, "--timeout", "0"}, "--timeout 0: must be a positive number"},
      {{"fscheck"}, "DIR is required"},
  };
  for (const auto& c : cases) {
    Timed t = Sweep(c.args);
    EXPECT_EQ(t.r.exit_code, 2) << c.args.back() << ": " << t.r.output;
    EXPECT_NE(t.r.output.find(c.message), std::string::npos) << t.r.output;
    EXPECT_LT(t.seconds, 5) << "no hang";
  }
  EXPECT_TRUE(std::filesystem::is_empty(sub));
}

TEST(FsCheckProcess, ANotWritableDirExits2) {
  DirUnder d("/tmp");
  Timed t;
  if (IsRoot()) {  // root writes through any mode: a read-only bind mount in a private namespace
    t = {RunProcess({"unshare", "-m", "sh", "-c",
                     "mount --bind -o ro \"$1\" \"$1\" && exec \"$2\" fscheck \"$1\"", "sh",
                     d.path(), SWEEP_BIN}),
         0};
  } else {
    ASSERT_EQ(::chmod(d.path().c_str(), 0555), 0);
    t = Sweep({"fscheck", d.path()});
    ASSERT_EQ(::chmod(d.path().c_str(), 0700), 0);
  }
  EXPECT_EQ(t.r.exit_code, 2) << t.r.output;
  EXPECT_NE(t.r.output.find(d.path() + " is not writable by you"), std::string::npos) << t.r.output;
}

TEST(FsCheckProcess, ASecondMountThatIsAnotherDirectoryOfTheSameFilesystemIsUnsafeAtOnce) {
  DirUnder d("/tmp"), other("/tmp");
  Timed t = Sweep({"fscheck", d.path(), "--second-mount", other.path()});
  EXPECT_EQ(t.r.exit_code, 1) << t.r.output;
  EXPECT_NE(t.r.output.find("unsafe   second_mount: a file created in " + d.path() +
                            " did not show in " + other.path()),
            std::string::npos)
      << t.r.output;
  EXPECT_NE(t.r.output.find("sweep: " + d.path() + " is unsafe for a sweep: second_mount"),
            std::string::npos)
      << t.r.output;
  EXPECT_LT(t.seconds, 10) << "same device: no need to wait for the timeout";
  EXPECT_TRUE(std::filesystem::is_empty(d.path()));
  EXPECT_TRUE(std::filesystem::is_empty(other.path()));
}

TEST(FsCheckProcess, ASecondMountThatNeverShowsTheFileIsUnsafeAfterABoundedWait) {
  if (::access("/dev/shm", W_OK) != 0) GTEST_SKIP() << "no writable /dev/shm";
  DirUnder d("/tmp"), other("/dev/shm");
  Timed t = Sweep({"fscheck", d.path(), "--second-mount", other.path(), "--timeout", "1"});
  EXPECT_EQ(t.r.exit_code, 1) << t.r.output;
  EXPECT_NE(t.r.output.find("did not show through " + other.path() + " within 1 s"),
            std::string::npos)
      << t.r.output;
  EXPECT_LT(t.seconds, 15);
  const FsCheckJson j =
      FsCheckJsonOf({d.path(), "--second-mount", other.path(), "--timeout", "1"}, 1);
  EXPECT_FALSE(j.safe());
  ASSERT_EQ(j.second_mount().steps_size(), 1);
  EXPECT_EQ(j.second_mount().steps(0).change(), "create");
  EXPECT_FALSE(j.second_mount().steps(0).shown());
  EXPECT_GE(j.second_mount().steps(0).milliseconds(), 1000);
  EXPECT_EQ(VerdictOf(j, "second_mount"), "unsafe");
}

TEST(FsCheckProcess, InterruptedItRemovesItsDirectoryAndExits75) {
  if (::access("/dev/shm", W_OK) != 0) GTEST_SKIP() << "no writable /dev/shm";
  DirUnder d("/tmp"), other("/dev/shm"), out("/tmp");
  for (int sig : {SIGINT, SIGTERM}) {
    // Waits up to 60 s for a file that never shows: interrupted meanwhile.
    Spawned p =
        Spawn({SWEEP_BIN, "fscheck", d.path(), "--second-mount", other.path(), "--timeout", "60"},
              {}, ".", out.path() + "/out");
    ASSERT_TRUE(WaitFor([&] { return !std::filesystem::is_empty(d.path()); }, 10));
    ::usleep(300 * 1000);  // into the wait
    const auto t0 = std::chrono::steady_clock::now();
    ::kill(p.pid, sig);
    EXPECT_EQ(WaitExit(p.pid), 75) << ReadAll(p.output_path);
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5);
    EXPECT_TRUE(std::filesystem::is_empty(d.path())) << "its directory was left behind";
    EXPECT_NE(ReadAll(p.output_path).find("interrupted"), std::string::npos)
        << ReadAll(p.output_path);
  }
}

TEST(FsCheckProcess, ABindMountShowsEveryChangeAtOnce) {
  if (!IsRoot()) GTEST_SKIP() << "a bind mount needs root (unshare -m)";
  DirUnder d("/tmp"), mnt("/dev/shm");
  // The mount lives and dies with the private namespace: nothing to clean up.
  RunResult r = RunProcess({"unshare", "-m", "sh", "-c",
                            "mount --bind \"$1\" \"$2\" && exec \"$3\" fscheck \"$1\" "
                            "--second-mount \"$2\" --json",
                            "sh", d.path(), mnt.path(), SWEEP_BIN});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  FsCheckJson j;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.output, &j).ok()) << r.output;
  EXPECT_TRUE(j.safe());
  ASSERT_EQ(j.second_mount().steps_size(), 3) << r.output;
  for (const auto& s : j.second_mount().steps()) {
    EXPECT_TRUE(s.shown()) << s.change();
    EXPECT_LT(s.milliseconds(), 1000) << s.change();
  }
  EXPECT_EQ(VerdictOf(j, "propagation"), "ok");
  EXPECT_EQ(VerdictOf(j, "second_mount"), "info");  // the same client: it measured no other
  EXPECT_TRUE(std::filesystem::is_empty(d.path()));
  EXPECT_TRUE(std::filesystem::is_empty(mnt.path()));
}

}  // namespace
}  // namespace claimsweep::testing
