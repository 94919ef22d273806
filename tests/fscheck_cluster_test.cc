// `sweep fscheck` on the private cluster of tests/cluster/cluster.sh (ctest -L
// cluster; root): GlusterFS through two clients of one node, and an sshfs
// client whose node's clock is 120 s ahead.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "output.pb.h"
#include "process_util.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

// A cluster started for one test and stopped (everything unmounted) after it.
class Cluster {
 public:
  Cluster(const std::string& dir, const std::vector<std::string>& args) : dir_(dir) {
    std::vector<std::string> argv = {"sh", "-c", "exec \"$0\" start \"$@\" 2>\"$1.start.log\"",
                                     CLUSTER_SH, dir_};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = RunProcess(argv);
    started_ = r.exit_code == 0;
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);) {
      const std::string key = "export CLUSTER_SHARED=";
      if (line.rfind(key, 0) == 0) shared_ = line.substr(key.size());
    }
    if (!started_) start_log_ = r.output + ReadAll(dir_ + ".start.log");
  }
  ~Cluster() {
    (void)RunProcess({CLUSTER_SH, "stop", dir_});  // idempotent; its logs stay in dir_
  }
  bool started() const { return started_ && !shared_.empty(); }
  const std::string& start_log() const { return start_log_; }
  const std::string& shared() const { return shared_; }
  // A further client of the shared volume at `path` inside `node`'s namespace.
  bool Mount(const std::string& node, const std::string& path) {
    return RunProcess({CLUSTER_SH, "mount", dir_, node, path}).exit_code == 0;
  }
  // `sweep fscheck ARGS... --json` inside `node` (its clock, its mounts).
  RunResult FsCheck(const std::string& node, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"sh",      "-c",       "exec \"$@\" --json 2>/dev/null",
                                     "sh",      CLUSTER_SH, "exec",
                                     dir_,      node,       "--",
                                     SWEEP_BIN, "fscheck"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv);
  }

 private:
  std::string dir_, shared_, start_log_;
  bool started_ = false;
};

FsCheckJson Parse(const RunResult& r) {
  FsCheckJson j;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.output, &j).ok()) << r.output;
  return j;
}

std::string VerdictOf(const FsCheckJson& j, const std::string& check) {
  for (const auto& f : j.findings())
    if (f.check() == check) return f.verdict();
  return "";
}

bool CanRunCluster(std::string* why) {
  if (::geteuid() != 0)
    *why = "the cluster needs root";
  else if (::access("/dev/fuse", R_OK | W_OK) != 0)
    *why = "no /dev/fuse";
  return why->empty();
}

TEST(FsCheckCluster, GlusterFsIsSafeAndASecondClientSeesChangesWithinSeconds) {
  std::string why;
  if (!CanRunCluster(&why)) GTEST_SKIP() << why;
  TempDir t;
  Cluster c(t.path() + "/cluster", {"--fs", "gluster"});
  ASSERT_TRUE(c.started()) << c.start_log();
  ASSERT_EQ(::mkdir((c.shared() + "/fs").c_str(), 0700), 0);
  ASSERT_TRUE(c.Mount("n2", t.path() + "/second"));
  const RunResult r =
      c.FsCheck("n2", {c.shared() + "/fs", "--second-mount", t.path() + "/second/fs"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const FsCheckJson j = Parse(r);
  EXPECT_EQ(j.filesystem(), "fuse.glusterfs");
  EXPECT_TRUE(j.network());
  for (const char* check :
       {"exclusive_create", "rename_dir", "link", "time_resolution", "clock_skew", "propagation"})
    EXPECT_EQ(VerdictOf(j, check), "ok") << check << "\n" << r.output;
  EXPECT_LT(std::fabs(j.touch_skew_seconds()), 5);
  ASSERT_EQ(j.second_mount().steps_size(), 3) << r.output;
  for (const auto& s : j.second_mount().steps()) {
    EXPECT_TRUE(s.shown()) << s.change();
    EXPECT_LT(s.milliseconds(), 5000) << s.change();  // the client's 1 s attribute cache
  }
}

TEST(FsCheckCluster, AnSshfsClientOnASkewedNodeShowsTheSkewAndOneSecondTimes) {
  std::string why;
  if (!CanRunCluster(&why)) GTEST_SKIP() << why;
  TempDir t;
  Cluster c(t.path() + "/cluster", {"--fs", "sshfs", "--skew", "n2=120"});
  ASSERT_TRUE(c.started()) << c.start_log();
  ASSERT_EQ(::mkdir((c.shared() + "/fs").c_str(), 0700), 0);
  ASSERT_TRUE(c.Mount("n2", t.path() + "/second"));
  // sshfs caches attributes for 20 s: wait long enough to see the change.
  const RunResult r = c.FsCheck(
      "n2", {c.shared() + "/fs", "--second-mount", t.path() + "/second/fs", "--timeout", "60"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const FsCheckJson j = Parse(r);
  EXPECT_EQ(j.filesystem(), "fuse.sshfs");
  EXPECT_TRUE(j.network());
  EXPECT_EQ(j.resolution_seconds(), 1);
  // n2 runs 120 s ahead: the server stamps new directories (-120 s against
  // n2), n2's own sshfs client stamps files with n2's clock (about 0).
  EXPECT_NEAR(j.mkdir_skew_seconds(), -120, 3) << r.output;
  EXPECT_NEAR(j.touch_skew_seconds(), 0, 3) << r.output;
  EXPECT_EQ(VerdictOf(j, "clock_skew"), "warning") << r.output;
  EXPECT_EQ(VerdictOf(j, "time_resolution"), "ok") << r.output;  // 1 s < heartbeat 15 s
  for (const auto& s : j.second_mount().steps()) EXPECT_TRUE(s.shown()) << s.change();

  // The same volume from n1, whose clock is right: no skew.
  const FsCheckJson n1 = Parse(c.FsCheck("n1", {c.shared() + "/fs"}));
  EXPECT_NEAR(n1.mkdir_skew_seconds(), 0, 3);
  EXPECT_NEAR(n1.touch_skew_seconds(), 0, 3);
  EXPECT_EQ(VerdictOf(n1, "clock_skew"), "ok");
  // A heartbeat as short as the resolution is refused.
  const RunResult coarse =
      c.FsCheck("n1", {c.shared() + "/fs", "--heartbeat-seconds", "1", "--lease-seconds", "3"});
  EXPECT_EQ(coarse.exit_code, 1) << coarse.output;
  EXPECT_EQ(VerdictOf(Parse(coarse), "time_resolution"), "unsafe") << coarse.output;
}

}  // namespace
}  // namespace claimsweep::testing
