#include <gtest/gtest.h>

#include "core/layout.h"
#include "core/template.h"

namespace claimsweep {
namespace {

TEST(Layout, NamesParseBackToTheirNumbers) {
  for (uint64_t i : {0ull, 7ull, 123456ull, 99999999ull}) {
    uint64_t back = 1;
    ASSERT_TRUE(ParseTrialName(TrialName(i), &back)) << TrialName(i);
    EXPECT_EQ(back, i);
    uint32_t a = 0;
    ASSERT_TRUE(ParseLeaseName(LeaseName(i, 3), &back, &a));
    EXPECT_EQ(back, i);
    EXPECT_EQ(a, 3u);
  }
  bool released = true;
  uint64_t i = 0;
  uint32_t a = 0;
  ASSERT_TRUE(ParseLeaseName("000042.0003", &i, &a, &released));
  EXPECT_FALSE(released);
  ASSERT_TRUE(ParseLeaseName("000042.0003.released", &i, &a, &released));
  EXPECT_TRUE(released);
  EXPECT_EQ(i, 42u);
  EXPECT_EQ(a, 3u);
  uint32_t k = 0;
  AttemptEntry kind;
  ASSERT_TRUE(ParseAttemptEntry(AttemptName(12), &k, &kind));
  EXPECT_EQ(k, 12u);
  EXPECT_EQ(kind, AttemptEntry::kDir);
  ASSERT_TRUE(ParseAttemptEntry(AttemptName(2) + ".failed.json", &k, &kind));
  EXPECT_EQ(kind, AttemptEntry::kFailed);
}

TEST(Layout, RejectsForeignNames) {
  uint64_t i = 0;
  uint32_t a = 0;
  AttemptEntry kind;
  EXPECT_FALSE(ParseTrialName("12", &i));         // too short to be ours
  EXPECT_FALSE(ParseTrialName("00001x", &i));
  EXPECT_FALSE(ParseLeaseName("000001.", &i, &a));
  EXPECT_FALSE(ParseLeaseName("000001.0000", &i, &a));  // attempts start at 1
  EXPECT_FALSE(ParseAttemptEntry("attempt-0001.released.json.tmp.x", &a, &kind));
  EXPECT_FALSE(ParseAttemptEntry("attempt-", &a, &kind));
}

TEST(Template, SubstitutesEscapesAndRefusesUnknown) {
  std::string out;
  ASSERT_TRUE(Substitute("--lr={lr} {{x}} {index}", {{"lr", "0.1"}, {"index", "4"}}, &out).ok());
  EXPECT_EQ(out, "--lr=0.1 {x} 4");
  Status s = Substitute("{nope}", {{"lr", "1"}}, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("{nope}"), std::string::npos);
  std::vector<std::string> names;
  EXPECT_FALSE(CollectPlaceholders("awk '{ print }'", &names).ok());
  EXPECT_FALSE(CollectPlaceholders("a}b", &names).ok());
}

}  // namespace
}  // namespace claimsweep
