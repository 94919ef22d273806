#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/metrics_csv.h"
#include "core/security.h"
#include "core/spec.h"
#include "core/sweep_points.h"
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

// A sweep whose versions/ holds version 2's entry (made by `make`).
struct VersionedSweep : SweepDir {
  std::string version = layout.version_path(2);
  VersionedSweep() { EXPECT_OK(Env::Default()->CreateDirs(layout.versions_dir())); }
  // What every reader of the sweep's points says: SweepPoints::Load.
  Status Load() {
    std::string text;
    auto spec = ReadFrozenSpec(Env::Default(), layout.root(), &text);
    if (!spec.ok()) return spec.status();
    return SweepPoints::Load(Env::Default(), layout, *spec, text).status();
  }
};

TEST(Security, AVersionEntryThatIsADirectorySymlinkOrTooBigIsRefusedByName) {
  {
    VersionedSweep d;
    ASSERT_OK(Env::Default()->CreateDirs(d.version));
    Status s = d.Load();
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
    EXPECT_NE(s.message().find("versions/0002.textproto is not a spec version file"),
              std::string::npos)
        << s.message();
    s = CheckSweepSafety(Env::Default(), d.layout, true, ::geteuid());
    EXPECT_NE(s.message().find(d.version + " is not a regular file"), std::string::npos)
        << s.message();
  }
  {
    VersionedSweep d;
    TempDir elsewhere;
    const std::string target = elsewhere.path() + "/0002.textproto";
    testing::WriteRaw(target, "version: 2\n");
    ASSERT_EQ(::symlink(target.c_str(), d.version.c_str()), 0);
    Status s = d.Load();
    EXPECT_NE(s.message().find("versions/0002.textproto is not a spec version file"),
              std::string::npos)
        << s.ToString();
    s = CheckSweepSafety(Env::Default(), d.layout, true, ::geteuid());
    EXPECT_NE(s.message().find(d.version + " is a symlink"), std::string::npos) << s.message();
  }
  {
    VersionedSweep d;
    testing::WriteRaw(d.version, "version: 2\n");
    ASSERT_EQ(::truncate(d.version.c_str(), (off_t{256} << 20) + 1), 0);  // sparse
    Status s = d.Load();
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
    EXPECT_NE(s.message().find("versions/0002.textproto is not a spec version file (a directory, "
                               "a symlink or too big)"),
              std::string::npos)
        << s.message();
  }
}

TEST(Security, AGroupWritableOrForeignVersionsFolderOrFileIsRefusedUnlessShared) {
  VersionedSweep d;
  testing::WriteRaw(d.version, "version: 2\n");
  ASSERT_EQ(::chmod(d.version.c_str(), 0644), 0);
  EXPECT_OK(CheckSweepSafety(Env::Default(), d.layout, false, ::geteuid()));
  for (const std::string& p : {d.layout.versions_dir(), d.version}) {
    const mode_t ok = p == d.version ? 0644 : 0755;
    ASSERT_EQ(::chmod(p.c_str(), ok | S_IWGRP), 0);
    Status s = CheckSweepSafety(Env::Default(), d.layout, false, ::geteuid());
    EXPECT_EQ(s.code(), Status::Code::kPermissionDenied) << s.ToString();
    EXPECT_NE(s.message().find(p + " is writable by group"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("chmod go-w '" + p + "'"), std::string::npos) << s.message();
    EXPECT_OK(CheckSweepSafety(Env::Default(), d.layout, true, ::geteuid()));
    ASSERT_EQ(::chmod(p.c_str(), ok), 0);
  }
  // Owned by someone else (seen as another uid): both named.
  Status s = CheckSweepSafety(Env::Default(), d.layout, false, ::geteuid() + 1);
  EXPECT_NE(s.message().find(d.layout.versions_dir() + " is owned by uid"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find(d.version + " is owned by uid"), std::string::npos) << s.message();
  EXPECT_OK(CheckSweepSafety(Env::Default(), d.layout, true, ::geteuid() + 1));
}

// A sweep with two stages, made as `sweep init` makes it.
struct StagedSweep {
  TempDir tmp;
  SweepLayout layout{tmp.path() + "/s"};
  std::vector<std::string> stages = {"post", "collect"};
  StagedSweep() {
    ::umask(022);
    testing::InitSweep(
        layout.root(),
        MustParse("command { argv: \"true\" }\n"
                  "stage { name: \"post\" each_trial: true command { argv: \"true\" } }\n"
                  "stage { name: \"collect\" after_all: \"post\" command { argv: "
                  "\"true\" } }\n"));
  }
  std::vector<std::string> Folders() const {
    std::vector<std::string> out = {layout.stages_dir()};
    for (const std::string& name : stages) {
      const SweepLayout q = SweepLayout::ForStage(layout.root(), name);
      out.insert(out.end(), {q.stage_dir(), q.trials_dir(), q.leases_dir()});
    }
    return out;
  }
};

TEST(Security, StageQueuesAreCheckedLikeTheSweepsStateFolders) {
  StagedSweep d;
  ASSERT_EQ(StageNames(MustParse(
                "command { argv: \"true\" }\n"
                "stage { name: \"post\" each_trial: true command { argv: \"true\" } }\n")),
            std::vector<std::string>{"post"});
  EXPECT_OK(CheckSweepSafety(Env::Default(), d.layout, false, ::geteuid(), d.stages));
  for (const std::string& p : d.Folders()) {
    ASSERT_TRUE(Env::Default()->Exists(p)) << p;
    ASSERT_EQ(::chmod(p.c_str(), 0777), 0);
    Status s = CheckSweepSafety(Env::Default(), d.layout, false, ::geteuid(), d.stages);
    EXPECT_EQ(s.code(), Status::Code::kPermissionDenied) << p;
    EXPECT_NE(s.message().find(p + " is writable by others"), std::string::npos) << s.message();
    EXPECT_OK(CheckSweepSafety(Env::Default(), d.layout, true, ::geteuid(), d.stages));
    ASSERT_EQ(::chmod(p.c_str(), 0775), 0);
    s = CheckSweepSafety(Env::Default(), d.layout, false, ::geteuid(), d.stages);
    EXPECT_NE(s.message().find(p + " is writable by group"), std::string::npos) << s.message();
    ASSERT_EQ(::chmod(p.c_str(), 0755), 0);
  }
  Status s = CheckSweepSafety(Env::Default(), d.layout, false, ::geteuid() + 1, d.stages);
  for (const std::string& p : d.Folders())
    EXPECT_NE(s.message().find(p + " is owned by uid"), std::string::npos) << s.message();
}

TEST(Security, ASymlinkedStageQueueIsRefusedEvenWhenShared) {
  const std::vector<std::string> rel = {"stages", "stages/post", "stages/post/items",
                                        "stages/collect/leases"};
  for (const std::string& r : rel) {
    StagedSweep d;
    TempDir elsewhere;
    const std::string p = d.layout.root() + "/" + r;
    ASSERT_OK(Env::Default()->RemoveTree(p));
    ASSERT_EQ(::symlink(elsewhere.path().c_str(), p.c_str()), 0);
    Status s = CheckSweepSafety(Env::Default(), d.layout, true, ::geteuid(), d.stages);
    EXPECT_EQ(s.code(), Status::Code::kPermissionDenied) << r;
    EXPECT_NE(s.message().find(p + " is a symlink"), std::string::npos) << s.message();
  }
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
