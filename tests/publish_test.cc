// The publishing primitives (core/publish.h) on filesystems that report a
// lost race in their own way.
#include <gtest/gtest.h>

#include "core/publish.h"
#include "fault_env.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::TempDir;

// sshfs: renaming a staged trial directory onto one another claimer has just
// published fails with EPERM (SFTP's SSH_FX_FAILURE), not ENOTEMPTY. That is
// a lost race, not a permission problem: the claimer must go on to the next
// point instead of failing (seen in the cluster test's sshfs race: "cannot
// claim: permission denied: rename tmp/... -> trials/001834").
TEST(Publish, ARenameOntoAPublishedDirectoryRefusedWithEpermIsALostRace) {
  TempDir tmp;
  FaultEnv sshfs(Env::Default());
  sshfs.RenameOntoADirectoryIsPermissionDenied(true);
  const std::string target = tmp.path() + "/trials/000007";
  const std::string ours = tmp.path() + "/tmp/ours";
  ASSERT_OK(Env::Default()->CreateDirs(target + "/attempt-0001"));  // the winner's
  ASSERT_OK(Env::Default()->CreateDirs(ours + "/attempt-0001"));
  Status s = PublishDir(&sshfs, ours, target);
  EXPECT_TRUE(s.IsAlreadyExists()) << s.ToString();
  EXPECT_TRUE(Env::Default()->Exists(ours));  // left for the caller to remove
  EXPECT_TRUE(Env::Default()->Exists(target + "/attempt-0001"));
}

}  // namespace
}  // namespace claimsweep
