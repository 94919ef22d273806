#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/metrics_csv.h"
#include "core/security.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::MustParse;
using testing::TempDir;

struct SweepDir {
  TempDir tmp;
  SweepLayout layout{tmp.path() + "/s"};
  SweepDir() {
    ::umask(022);
    testing::InitSweep(layout.root(), MustParse("command { argv: \"true\" }"));
  }
};

TEST(Security, OwnPrivateSweepPasses) {
  SweepDir d;
  EXPECT_OK(CheckSweepSafety(Env::Default(), d.layout, false, ::geteuid()));
}

TEST(Security, GroupWritableSpecIsRefusedWithItsPathAndFix) {
  SweepDir d;
  ASSERT_EQ(::chmod(d.layout.spec_path().c_str(), 0664), 0);
  Status s = CheckSweepSafety(Env::Default(), d.layout, false, ::geteuid());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(d.layout.spec_path()), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("chmod go-w"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("allow_shared"), std::string::npos) << s.message();
  EXPECT_OK(CheckSweepSafety(Env::Default(), d.layout, true, ::geteuid()));
}

TEST(Security, WorldWritableDirectoryAndForeignOwnerAreRefused) {
  SweepDir d;
  ASSERT_EQ(::chmod(d.layout.trials_dir().c_str(), 0777), 0);
  Status s = CheckSweepSafety(Env::Default(), d.layout, false, ::geteuid());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("writable by others"), std::string::npos) << s.message();
  ASSERT_EQ(::chmod(d.layout.trials_dir().c_str(), 0755), 0);
  s = CheckSweepSafety(Env::Default(), d.layout, false, ::geteuid() + 1);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not by you"), std::string::npos) << s.message();
}

// A umask of 002 makes every path group-writable at once: all are named, and
// one chmod fixes them all (not one path per run of `trial`).
TEST(Security, EveryOffendingPathIsNamedAtOnceWithOneFix) {
  SweepDir d;
  const std::vector<std::string> paths = {d.layout.root(), d.layout.spec_path(),
                                          d.layout.trials_dir(), d.layout.tmp_dir()};
  for (const std::string& p : paths)
    ASSERT_EQ(::chmod(p.c_str(), p == d.layout.spec_path() ? 0664 : 0775), 0);
  Status s = CheckSweepSafety(Env::Default(), d.layout, false, ::geteuid());
  ASSERT_FALSE(s.ok());
  const size_t fix = s.message().find("chmod go-w ");
  ASSERT_NE(fix, std::string::npos) << s.message();
  for (const std::string& p : paths) {
    EXPECT_NE(s.message().find(p + " is writable by group"), std::string::npos)
        << p << ": " << s.message();
    EXPECT_NE(s.message().find("'" + p + "'", fix), std::string::npos) << p << ": " << s.message();
  }
  EXPECT_EQ(s.message().find(d.layout.leases_dir()), std::string::npos)
      << s.message();  // that one is fine
}

TEST(Security, SymlinkedStateFolderIsRefusedEvenWhenShared) {
  SweepDir d;
  TempDir elsewhere;
  ASSERT_OK(Env::Default()->RemoveTree(d.layout.leases_dir()));
  ASSERT_EQ(::symlink(elsewhere.path().c_str(), d.layout.leases_dir().c_str()), 0);
  Status s = CheckSweepSafety(Env::Default(), d.layout, true, ::geteuid());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("symlink"), std::string::npos) << s.message();
}

TEST(Security, WritesDoNotFollowASymlinkOutOfTheTree) {
  TempDir d;
  TempDir outside;
  const std::string target = outside.path() + "/victim";
  ASSERT_EQ(::symlink(target.c_str(), (d.path() + "/log").c_str()), 0);
  EXPECT_FALSE(Env::Default()->AppendFile(d.path() + "/log", "x").ok());
  EXPECT_FALSE(Env::Default()->CreateExclusive(d.path() + "/log", "x").ok());
  EXPECT_FALSE(Env::Default()->Exists(target));
}

TEST(MetricsCsv, LastRowWithNumbersAsNumbers) {
  TempDir d;
  const std::string p = d.path() + "/metrics.csv";
  ASSERT_OK(Env::Default()->CreateExclusive(p, "epoch,loss,tag\n1,0.9,a\n2,0.5,\"b,c\"\n\n"));
  google::protobuf::Struct row;
  ASSERT_OK(ReadLastMetricsRow(Env::Default(), p, &row));
  EXPECT_EQ(row.fields().at("epoch").number_value(), 2);
  EXPECT_EQ(row.fields().at("loss").number_value(), 0.5);
  EXPECT_EQ(row.fields().at("tag").string_value(), "b,c");
  ASSERT_OK(Env::Default()->AppendFile(p, "3,0.4\n"));
  Status s = ReadLastMetricsRow(Env::Default(), p, &row);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("metrics.csv:4"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace claimsweep
