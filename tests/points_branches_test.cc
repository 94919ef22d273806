// Branches and zips in the point space (issue 12), and the format-3 random
// draws keyed by a point's grid values and sample.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "core/points.h"
#include "core/spec.h"
#include "example_specs.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::kBranchesSpec;
using testing::MustParse;

std::string Row(const Point& p) {
  std::string out;
  for (const auto& [k, v] : p.values) out += (out.empty() ? "" : " ") + k + "=" + v;
  return out;
}

SweepSpec Frozen(const std::string& text, uint32_t version = kSpecFormatVersion) {
  SweepSpec s = MustParse(text);
  s.set_format_version(version);
  return s;
}

TEST(PointsBranches, TheIssueSpecHas24PointsBranchSlowestZipFastest) {
  auto ps = PointSpace::Create(MustParse(kBranchesSpec));
  ASSERT_OK(ps);
  EXPECT_EQ(ps->size(), 24u);  // (2 + 2) x 3 x 2
  EXPECT_EQ(ps->names(),
            (std::vector<std::string>{"model", "lr", "depth", "seed", "loss", "epochs"}));
  EXPECT_EQ(Row(ps->At(0)), "model=squeezenet1_1 lr=0.04 seed=1 loss=ce epochs=100");
  EXPECT_EQ(Row(ps->At(1)), "model=squeezenet1_1 lr=0.04 seed=1 loss=focal epochs=150");
  EXPECT_EQ(Row(ps->At(2)), "model=squeezenet1_1 lr=0.04 seed=2 loss=ce epochs=100");
  EXPECT_EQ(Row(ps->At(6)), "model=squeezenet1_1 lr=0.01 seed=1 loss=ce epochs=100");
  EXPECT_EQ(Row(ps->At(11)), "model=squeezenet1_1 lr=0.01 seed=3 loss=focal epochs=150");
  EXPECT_EQ(Row(ps->At(12)), "model=resnet_cifar lr=0.1 depth=20 seed=1 loss=ce epochs=100");
  EXPECT_EQ(Row(ps->At(18)), "model=resnet_cifar lr=0.1 depth=56 seed=1 loss=ce epochs=100");
  EXPECT_EQ(Row(ps->At(23)), "model=resnet_cifar lr=0.1 depth=56 seed=3 loss=focal epochs=150");
  for (uint64_t i = 0; i < 12; ++i) EXPECT_EQ(ps->At(i).Find("depth"), nullptr) << i;
  for (uint64_t i = 12; i < 24; ++i) ASSERT_NE(ps->At(i).Find("depth"), nullptr) << i;
  EXPECT_EQ(ps->At(0).AsMap().count("depth"), 0u);
  // Every point is distinct.
  std::set<std::string> rows;
  for (uint64_t i = 0; i < 24; ++i) rows.insert(Row(ps->At(i)));
  EXPECT_EQ(rows.size(), 24u);
}

TEST(PointsBranches, ZipsPairTheirValuesAndCrossEachOther) {
  auto ps = PointSpace::Create(MustParse(R"(
    grid {
      param { name: "a" values: "x" values: "y" }
      zip { param { name: "loss" values: "ce" values: "focal" values: "mse" }
            param { name: "epochs" range { start: 100 stop: 250 step: 50 } } }
      zip { param { name: "opt" values: "sgd" values: "adam" } }
    }
    command { argv: "true" })"));
  ASSERT_OK(ps);
  EXPECT_EQ(ps->size(), 12u);  // 2 x 3 x 2, not 2 x 3 x 3 x 2
  EXPECT_EQ(Row(ps->At(0)), "a=x loss=ce epochs=100 opt=sgd");
  EXPECT_EQ(Row(ps->At(1)), "a=x loss=ce epochs=100 opt=adam");
  EXPECT_EQ(Row(ps->At(3)), "a=x loss=focal epochs=150 opt=adam");
  EXPECT_EQ(Row(ps->At(11)), "a=y loss=mse epochs=200 opt=adam");
}

TEST(PointsBranches, BranchRandomParamsAreDrawnAfterTheGlobalOnes) {
  const char* spec = R"(seed: 3
    grid {
      branch { param { name: "m" values: "a" } random { name: "wd" uniform { low: 0 high: 1 } } }
      branch { param { name: "m" values: "b" } }
    }
    random { samples: 4 param { name: "u" uniform { low: 0 high: 1 } } }
    command { argv: "true" })";
  auto ps = PointSpace::Create(Frozen(spec));
  ASSERT_OK(ps);
  EXPECT_EQ(ps->size(), 8u);
  EXPECT_EQ(ps->names(), (std::vector<std::string>{"m", "wd", "u"}));
  std::set<std::string> wds;
  for (uint64_t i = 0; i < 8; ++i) {
    const Point p = ps->At(i);
    EXPECT_EQ(p.Find("wd") != nullptr, i < 4) << Row(p);
    if (p.Find("wd")) wds.insert(*p.Find("wd"));
  }
  EXPECT_EQ(wds.size(), 4u);  // one draw per sample
  // The global draw comes first in the stream: a branch's own random
  // parameter does not change the global one's value.
  std::string no_wd = spec;
  const std::string wd = "random { name: \"wd\" uniform { low: 0 high: 1 } }";
  no_wd.replace(no_wd.find(wd), wd.size(), "");
  auto other = PointSpace::Create(Frozen(no_wd));
  ASSERT_OK(other) << no_wd;
  ASSERT_EQ(other->names(), (std::vector<std::string>{"m", "u"}));
  for (uint64_t i = 0; i < 4; ++i) EXPECT_EQ(*ps->At(i).Find("u"), *other->At(i).Find("u")) << i;
}

// (grid values, sample) -> the point's random values.
std::map<std::string, std::string> DrawsByIdentity(const PointSpace& ps,
                                                   const std::set<std::string>& random) {
  std::map<std::string, std::string> out;
  for (uint64_t i = 0; i < ps.size(); ++i) {
    std::string grid, drawn;
    for (const auto& [k, v] : ps.At(i).values)
      (random.count(k) ? drawn : grid) += k + "=" + v + " ";
    EXPECT_TRUE(out.emplace(grid + "#" + std::to_string(i % ps.samples()), drawn).second) << grid;
  }
  return out;
}

const char* kGrowable = R"(seed: 11
grid {
  branch { param { name: "model" values: "a" } param { name: "lr" values: "0.1" values: "0.01" }
           random { name: "wd" log_uniform { low: 1e-5 high: 1e-2 } } }
  branch { param { name: "model" values: "b" } }
  param { name: "seed" values: "1" values: "2" }
}
random { samples: 2 param { name: "u" uniform { low: 0 high: 1 } } }
command { argv: "true" })";

// What `sweep extend` relies on: adding grid values (anywhere in a list,
// which moves every index), a branch, or samples leaves every existing
// (grid values, sample)'s draws as they were.
TEST(PointsBranches, FormatThreeDrawsSurviveNewValuesBranchesAndSamples) {
  auto base = PointSpace::Create(Frozen(kGrowable));
  ASSERT_OK(base);
  const std::set<std::string> random = {"wd", "u"};
  const auto before = DrawsByIdentity(*base, random);
  ASSERT_EQ(before.size(), 12u);  // (2 + 1) x 2 x 2

  std::string grown = kGrowable;
  grown.replace(grown.find("values: \"0.1\""), 13, "values: \"0.5\" values: \"0.1\"");
  grown.replace(grown.find("param { name: \"seed\""), 0,
                "branch { param { name: \"model\" values: \"c\" } }\n  ");
  grown.replace(grown.find("values: \"2\" }"), 13, "values: \"2\" values: \"3\" }");
  grown.replace(grown.find("samples: 2"), 10, "samples: 5");
  auto bigger = PointSpace::Create(Frozen(grown));
  ASSERT_OK(bigger) << grown;
  ASSERT_EQ(bigger->size(), (3u + 1 + 1) * 3 * 5);
  const auto after = DrawsByIdentity(*bigger, random);
  for (const auto& [identity, drawn] : before) {
    auto it = after.find(identity);
    ASSERT_NE(it, after.end()) << identity;
    EXPECT_EQ(it->second, drawn) << identity;
  }
  // Under format 2 the same growth relabels the draws (keyed by the index).
  auto base2 = PointSpace::Create(Frozen(kGrowable, 2));
  auto bigger2 = PointSpace::Create(Frozen(grown, 2));
  const auto before2 = DrawsByIdentity(*base2, random), after2 = DrawsByIdentity(*bigger2, random);
  int same = 0;
  for (const auto& [identity, drawn] : before2) same += after2.at(identity) == drawn;
  EXPECT_LT(same, 12);
}

TEST(PointsBranches, FormatThreeDrawsVaryByPointAndSampleAndSeed) {
  auto ps = PointSpace::Create(Frozen(kGrowable));
  std::set<std::string> us;
  for (uint64_t i = 0; i < ps->size(); ++i) us.insert(*ps->At(i).Find("u"));
  EXPECT_EQ(us.size(), ps->size());
  std::string other = kGrowable;
  other.replace(other.find("seed: 11"), 8, "seed: 12");
  auto ps2 = PointSpace::Create(Frozen(other));
  for (uint64_t i = 0; i < ps->size(); ++i)
    EXPECT_NE(*ps->At(i).Find("u"), *ps2->At(i).Find("u")) << i;
}

// Format 3's draws are pinned like format 2's: a sweep frozen today draws the
// same values under every later claimsweep.
TEST(PointsBranches, FormatThreeDrawsArePinned) {
  auto ps = PointSpace::Create(Frozen(kGrowable));
  ASSERT_OK(ps);
  EXPECT_EQ(Row(ps->At(0)), "model=a lr=0.1 wd=0.0009330598449174438 seed=1 u=0.7339179747038762");
  EXPECT_EQ(Row(ps->At(1)), "model=a lr=0.1 wd=3.599315769984903e-05 seed=1 u=0.7345025060403297");
  EXPECT_EQ(Row(ps->At(9)), "model=b seed=1 u=0.578205900316913");
}

// The format-2 formula stays: a frozen version-2 sweep gets the values its
// trials ran with (the same pins as Points.RandomDrawsArePinned).
TEST(PointsBranches, FormatTwoDrawsAreUnchanged) {
  SweepSpec s = Frozen(
      "name: \"p\"\nseed: 42\nrandom {\n samples: 3\n param { name: \"u\" uniform { low: 0 high: 1 "
      "} }\n param { name: \"l\" log_uniform { low: 1e-5 high: 1e-1 } }\n param { name: \"i\" "
      "int_uniform { low: -5 high: 5 } }\n param { name: \"c\" choice { values: \"a\" values: "
      "\"b\" "
      "values: \"c\" } }\n}\ncommand { argv: \"true\" }\n",
      2);
  auto ps = PointSpace::Create(s);
  ASSERT_OK(ps);
  EXPECT_EQ(Row(ps->At(0)), "u=0.1461062820256126 l=0.0016253936988553897 i=-3 c=a");
  EXPECT_EQ(Row(ps->At(2)), "u=0.9797792043080118 l=0.04118879473520079 i=-5 c=b");
}

TEST(PointsBranches, TheTwoToThe32LimitCountsEveryBranch) {
  const std::string half =  // 2^16 x 2^15 = 2^31 points
      "branch { param { name: \"x\" range { start: 0 stop: 65536 step: 1 } }"
      " param { name: \"y\" range { start: 0 stop: 32768 step: 1 } } }\n";
  auto two =
      PointSpace::Create(MustParse("grid {\n" + half + half + "}\ncommand { argv: \"true\" }"));
  ASSERT_OK(two);
  EXPECT_EQ(two->size(), uint64_t{1} << 32);
  EXPECT_EQ(two->At((uint64_t{1} << 32) - 1).Find("x") != nullptr, true);
  auto three = ParseSpec("grid {\n" + half + half +
                             "branch { param { name: \"x\" values: \"0\" } }\n}\ncommand { argv: "
                             "\"true\" }",
                         "big.textproto");
  ASSERT_FALSE(three.ok());
  EXPECT_NE(three.status().message().find("more than 2^32 points"), std::string::npos)
      << three.status().message();
}

}  // namespace
}  // namespace claimsweep
