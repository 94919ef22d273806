#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/points.h"
#include "example_specs.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::kLrDepthSpec;
using testing::MustParse;

TEST(Points, ExampleHas114PointsInProductOrder) {
  auto ps = PointSpace::Create(MustParse(kLrDepthSpec));
  ASSERT_OK(ps);
  EXPECT_EQ(ps->size(), 114u);  // 2 x 19 x 3
  EXPECT_EQ(ps->grid_size(), 38u);
  EXPECT_EQ(ps->names(), (std::vector<std::string>{"lr", "depth", "wd", "opt"}));
  // i = grid_index * samples + sample; first grid parameter slowest.
  auto at = [&](uint64_t i) { return ps->At(i).AsMap(); };
  EXPECT_EQ(at(0)["lr"], "0.1");
  EXPECT_EQ(at(0)["depth"], "4");
  EXPECT_EQ(at(2)["depth"], "4");
  EXPECT_EQ(at(3)["depth"], "8");
  EXPECT_EQ(at(56)["depth"], "76");
  EXPECT_EQ(at(56)["lr"], "0.1");
  EXPECT_EQ(at(57)["lr"], "0.01");
  EXPECT_EQ(at(57)["depth"], "4");
  EXPECT_EQ(at(113)["depth"], "76");
}

TEST(Points, SameSpecSamePointsInEveryProcess) {
  auto a = PointSpace::Create(MustParse(kLrDepthSpec));
  auto b = PointSpace::Create(MustParse(kLrDepthSpec));
  for (uint64_t i = 0; i < a->size(); ++i) EXPECT_EQ(a->At(i).values, b->At(i).values) << i;
  // And the value does not depend on which points were computed before.
  EXPECT_EQ(a->At(100).values, b->At(100).values);
}

TEST(Points, RandomDrawsRespectDistributionsAndVaryBySample) {
  auto ps = PointSpace::Create(MustParse(kLrDepthSpec));
  std::set<std::string> wds, opts;
  for (uint64_t i = 0; i < ps->size(); ++i) {
    auto m = ps->At(i).AsMap();
    double wd = std::stod(m["wd"]);
    EXPECT_GE(wd, 1e-5);
    EXPECT_LT(wd, 1e-2);
    wds.insert(m["wd"]);
    opts.insert(m["opt"]);
  }
  EXPECT_GT(wds.size(), 100u);  // distinct draws, not one per grid point
  EXPECT_EQ(opts, (std::set<std::string>{"sgd", "adam"}));
}

TEST(Points, SeedChangesDrawsButNotGrid) {
  std::string other = kLrDepthSpec;
  other.replace(other.find("seed: 7"), 7, "seed: 8");
  auto a = PointSpace::Create(MustParse(kLrDepthSpec));
  auto b = PointSpace::Create(MustParse(other));
  int same_wd = 0;
  for (uint64_t i = 0; i < a->size(); ++i) {
    auto ma = a->At(i).AsMap(), mb = b->At(i).AsMap();
    EXPECT_EQ(ma["lr"], mb["lr"]);
    EXPECT_EQ(ma["depth"], mb["depth"]);
    same_wd += ma["wd"] == mb["wd"];
  }
  EXPECT_EQ(same_wd, 0);
}

TEST(Points, IntUniformIsInclusiveAndUniformFloat) {
  auto ps = PointSpace::Create(MustParse(R"(
    random { samples: 400 param { name: "k" int_uniform { low: -2 high: 2 } }
             param { name: "u" uniform { low: 0.5 high: 0.75 } } }
    command { argv: "true" })"));
  ASSERT_OK(ps);
  std::set<std::string> ks;
  for (uint64_t i = 0; i < ps->size(); ++i) {
    auto m = ps->At(i).AsMap();
    ks.insert(m["k"]);
    double u = std::stod(m["u"]);
    EXPECT_GE(u, 0.5);
    EXPECT_LT(u, 0.75);
  }
  EXPECT_EQ(ks, (std::set<std::string>{"-2", "-1", "0", "1", "2"}));
}

TEST(Points, FractionalRangeHasNoBinaryNoise) {
  GridParam p;
  p.mutable_range()->set_start(0.1);
  p.mutable_range()->set_stop(0.45);
  p.mutable_range()->set_step(0.1);
  std::vector<std::string> v;
  ASSERT_OK(ExpandGridParam(p, &v));
  EXPECT_EQ(v, (std::vector<std::string>{"0.1", "0.2", "0.3", "0.4"}));
}

}  // namespace
// Point i is a pure function of (spec, i) forever: a sweep frozen today must
// draw the same values under every later claimsweep. Pinned values.
TEST(Points, RandomDrawsArePinned) {
  auto s = ParseSpec(
      "name: \"p\"\nseed: 42\nrandom {\n samples: 3\n param { name: \"u\" uniform { low: 0 high: 1 "
      "} }\n"
      " param { name: \"l\" log_uniform { low: 1e-5 high: 1e-1 } }\n param { name: \"i\" "
      "int_uniform { low: -5 high: 5 } }\n"
      " param { name: \"c\" choice { values: \"a\" values: \"b\" values: \"c\" } }\n}\ncommand { "
      "argv: \"true\" }\n",
      "p");
  ASSERT_OK(s) << s.status().ToString();
  auto ps = PointSpace::Create(*s);
  auto row = [&](uint64_t i) {
    std::string out;
    for (const auto& [k, v] : ps->At(i).values) out += k + "=" + v + " ";
    return out;
  };
  EXPECT_EQ(row(0), "u=0.1461062820256126 l=0.0016253936988553897 i=-3 c=a ");
  EXPECT_EQ(row(1), "u=0.8184740575578261 l=0.08807970265652708 i=-4 c=a ");
  EXPECT_EQ(row(2), "u=0.9797792043080118 l=0.04118879473520079 i=-5 c=b ");
}

}  // namespace claimsweep
