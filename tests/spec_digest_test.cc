// The frozen spec's digest (DIR/sweep.sha256) and the format versions
// ReadFrozenSpec accepts.
#include "core/spec_digest.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "core/spec.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::MustParse;
using testing::ReadAll;
using testing::TempDir;
using testing::WriteRaw;

const char* kSpec = R"(
  grid { param { name: "x" range { start: 0 stop: 3 step: 1 } } }
  command { argv: "true" })";

std::string WithVersion(std::string frozen, const std::string& version) {
  const size_t at = frozen.find("format_version: 3");
  EXPECT_NE(at, std::string::npos) << frozen;
  if (at != std::string::npos) frozen.replace(at, 17, "format_version: " + version);
  return frozen;
}

TEST(SpecDigest, TheDigestLineIsShaSumOfTheExactBytes) {
  EXPECT_EQ(
      SpecDigestLine("abc"),
      "sha256 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  sweep.textproto\n");
}

TEST(SpecDigest, ReadFrozenSpecChecksItForVersionTwo) {
  TempDir tmp;
  SweepLayout l(tmp.path() + "/s");
  testing::InitSweep(l.root(), MustParse(kSpec));
  auto ok = ReadFrozenSpec(Env::Default(), l.root());
  ASSERT_OK(ok) << ok.status().ToString();
  EXPECT_EQ(ok->format_version(), 3u);

  const std::string frozen = ReadAll(l.spec_path());
  WriteRaw(l.spec_path(), frozen + "\n");  // one byte more
  auto edited = ReadFrozenSpec(Env::Default(), l.root());
  ASSERT_FALSE(edited.ok());
  EXPECT_NE(edited.status().message().find(l.spec_path() + " was changed after `sweep init`"),
            std::string::npos)
      << edited.status().message();
  EXPECT_NE(edited.status().message().find("`sweep extend`"), std::string::npos);

  WriteRaw(l.spec_path(), frozen);
  for (const std::string& bad : {std::string(""), std::string("sha256 xyz  sweep.textproto\n"),
                                 SpecDigestLine(frozen).substr(7)}) {
    WriteRaw(l.spec_digest_path(), bad);
    auto r = ReadFrozenSpec(Env::Default(), l.root());
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find(l.spec_digest_path() + " is not a digest line"),
              std::string::npos)
        << r.status().message();
  }
  ASSERT_EQ(::unlink(l.spec_digest_path().c_str()), 0);
  auto missing = ReadFrozenSpec(Env::Default(), l.root());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(l.spec_digest_path() + " is missing"),
            std::string::npos)
      << missing.status().message();
}

// Version 1 (before digests and work directories) is read as before; a
// version newer than this build's is refused by name, digest or not.
TEST(SpecDigest, VersionOneNeedsNoDigestAndNewerVersionsAreRefused) {
  TempDir tmp;
  SweepLayout l(tmp.path() + "/s");
  testing::InitSweep(l.root(), MustParse(kSpec));
  const std::string frozen = ReadAll(l.spec_path());
  ASSERT_EQ(::unlink(l.spec_digest_path().c_str()), 0);
  WriteRaw(l.spec_path(), WithVersion(frozen, "1"));
  auto v1 = ReadFrozenSpec(Env::Default(), l.root());
  ASSERT_OK(v1) << v1.status().ToString();
  EXPECT_EQ(v1->format_version(), 1u);
  EXPECT_EQ(TaskDir(*v1, l, 4), l.trial_dir(4));

  ASSERT_OK(WriteFrozenSpec(Env::Default(), l, WithVersion(frozen, "5")));
  auto v5 = ReadFrozenSpec(Env::Default(), l.root());
  ASSERT_FALSE(v5.ok());
  EXPECT_NE(v5.status().message().find("format_version 5 is newer than this claimsweep (knows 4)"),
            std::string::npos)
      << v5.status().message();
}

}  // namespace
}  // namespace claimsweep
