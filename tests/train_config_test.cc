// The train task's effective config: explicit values win over defaults
// (field presence), defaults follow the optimizer, and every point is checked
// at `sweep init` as the trainer will run it.
#include <gtest/gtest.h>

#include <set>

#include "core/points.h"
#include "core/spec.h"
#include "core/train_config.h"

namespace claimsweep {
namespace {

std::string SpecWith(const std::string& grid, const std::string& train,
                     const std::string& claim = "") {
  return "name: \"t\"\ngrid {\n" + grid +
         "}\ntrain { model: \"resnet_cifar\" depth: 8 dataset: \"d\" " + train + " }\n" + claim;
}

std::vector<TrainTask> EveryPoint(const std::string& text) {
  auto spec = ParseSpec(text, "t.textproto");
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  std::vector<TrainTask> out;
  if (!spec.ok()) return out;
  auto ps = PointSpace::Create(*spec);
  for (uint64_t i = 0; i < ps->size(); ++i) {
    auto t = TrainTaskForPoint(spec->train(), ps->At(i));
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    if (t.ok()) out.push_back(*t);
  }
  return out;
}

std::string ErrorOf(const std::string& text) {
  auto s = ParseSpec(text, "t.textproto");
  EXPECT_FALSE(s.ok()) << "accepted:\n" << text;
  return s.ok() ? "" : s.status().message();
}

TEST(TrainConfig, ZeroOverridesAreUsedAsWritten) {
  // The trust issue's ablation: weight_decay {0, 5e-4} x momentum {0, 0.9}
  // must give four different configs, not 5e-4/0.9 four times.
  auto pts = EveryPoint(SpecWith(R"(  param { name: "weight_decay" values: "0" values: "5e-4" }
  param { name: "momentum" values: "0" values: "0.9" }
)",
                                 "optimizer: \"sgd\""));
  ASSERT_EQ(pts.size(), 4u);
  std::set<std::pair<double, double>> seen;
  for (const auto& t : pts) seen.insert({t.weight_decay(), t.momentum()});
  EXPECT_EQ(seen, (std::set<std::pair<double, double>>{{0, 0}, {0, 0.9}, {5e-4, 0}, {5e-4, 0.9}}));
}

TEST(TrainConfig, ZerosInTheTrainBlockAreUsedAsWritten) {
  auto pts =
      EveryPoint(SpecWith("  param { name: \"lr\" values: \"0.1\" }\n",
                          "weight_decay: 0 momentum: 0 warmup_epochs: 0 label_smoothing: 0"));
  ASSERT_EQ(pts.size(), 1u);
  EXPECT_EQ(pts[0].weight_decay(), 0);
  EXPECT_EQ(pts[0].momentum(), 0);
  EXPECT_TRUE(pts[0].has_weight_decay());
}

TEST(TrainConfig, DefaultsFollowTheOptimizer) {
  auto pts = EveryPoint(SpecWith(
      "  param { name: \"optimizer\" values: \"sgd\" values: \"adam\" values: \"adamw\" }\n", ""));
  ASSERT_EQ(pts.size(), 3u);
  EXPECT_EQ(pts[0].lr(), 0.1);
  EXPECT_EQ(pts[0].momentum(), 0.9);
  EXPECT_EQ(pts[0].weight_decay(), 5e-4);
  EXPECT_EQ(pts[1].lr(), 1e-3);            // PyTorch's Adam
  EXPECT_EQ(pts[1].weight_decay(), 0.0);   // PyTorch's Adam
  EXPECT_FALSE(pts[1].has_momentum());     // does not apply: absent, not "0.9"
  EXPECT_EQ(pts[2].weight_decay(), 1e-2);  // PyTorch's AdamW
  for (const auto& t : pts) {
    EXPECT_EQ(t.epochs(), 10);
    EXPECT_EQ(t.batch_size(), 128);
    EXPECT_EQ(t.schedule(), "cosine");
    EXPECT_FALSE(t.has_gamma());  // step schedule only
  }
}

TEST(TrainConfig, EffectiveConfigJsonHasEveryAppliedField) {
  auto pts = EveryPoint(SpecWith("  param { name: \"weight_decay\" values: \"0\" }\n", ""));
  ASSERT_EQ(pts.size(), 1u);
  const std::string j = TrainConfigJson(pts[0]);
  EXPECT_NE(j.find("\"weight_decay\":0"), std::string::npos) << j;
  EXPECT_NE(j.find("\"momentum\":0.9"), std::string::npos) << j;
  EXPECT_NE(j.find("\"lr\":0.1"), std::string::npos) << j;
  EXPECT_NE(j.find("\"model\":\"resnet_cifar\""), std::string::npos) << j;
}

TEST(TrainConfig, EveryPointIsCheckedAtInitNamingTheParameterLine) {
  // lr 0 was silently replaced by 0.1; now it is refused where it is written.
  std::string e =
      ErrorOf(SpecWith("  param { name: \"depth\" values: \"8\" }\n  param { name: \"lr\" values: "
                       "\"0.1\" values: \"0\" }\n",
                       ""));
  EXPECT_NE(e.find("t.textproto:4:"), std::string::npos) << e;
  EXPECT_NE(e.find("train.lr 0 must be"), std::string::npos) << e;
  e = ErrorOf(SpecWith("  param { name: \"epochs\" values: \"0\" }\n", ""));
  EXPECT_NE(e.find("train.epochs 0"), std::string::npos) << e;
  e = ErrorOf(SpecWith("  param { name: \"batch_size\" values: \"0\" }\n", ""));
  EXPECT_NE(e.find("train.batch_size 0"), std::string::npos) << e;
  e = ErrorOf(SpecWith("  param { name: \"label_smoothing\" values: \"1\" }\n", ""));
  EXPECT_NE(e.find("label_smoothing"), std::string::npos) << e;
  e = ErrorOf(
      SpecWith("  param { name: \"schedule\" values: \"cosine\" values: \"linear\" }\n", ""));
  EXPECT_NE(e.find("train.schedule 'linear'"), std::string::npos) << e;
  e = ErrorOf(SpecWith("  param { name: \"optimizer\" values: \"sgd\" values: \"lamb\" }\n", ""));
  EXPECT_NE(e.find("train.optimizer 'lamb'"), std::string::npos) << e;
}

TEST(TrainConfig, NegativeKeepCheckpointsEveryIsRefusedWhereWritten) {
  std::string e =
      ErrorOf(SpecWith("  param { name: \"lr\" values: \"0.1\" }\n", "keep_checkpoints_every: -2"));
  EXPECT_NE(e.find("t.textproto:"), std::string::npos) << e;
  EXPECT_NE(e.find("train.keep_checkpoints_every -2 must be >= 0 (0 = off"), std::string::npos)
      << e;
  EXPECT_EQ(EveryPoint(SpecWith("  param { name: \"keep_checkpoints_every\" values: \"2\" }\n", ""))
                .at(0)
                .keep_checkpoints_every(),
            2);
}

TEST(TrainConfig, CombinationsAreCheckedNotOnlySingleValues) {
  // Each value is fine alone; Adam with momentum is a point the table would
  // label "momentum 0.9" although Adam ignores it.
  std::string e = ErrorOf(SpecWith(R"(  param { name: "optimizer" values: "sgd" values: "adam" }
  param { name: "momentum" values: "0.9" }
)",
                                   ""));
  EXPECT_NE(e.find("optimizer=adam, momentum=0.9"), std::string::npos) << e;
  EXPECT_NE(e.find("applies to sgd only"), std::string::npos) << e;
  EXPECT_NE(e.find("t.textproto:4:"), std::string::npos) << e;  // the momentum parameter
}

TEST(TrainConfig, RandomRangesAreCheckedAtTheirEnds) {
  std::string e = ErrorOf(
      "name: \"t\"\nrandom {\n  samples: 4\n  param { name: \"lr\" uniform { low: -0.1 high: 0.1 } "
      "}\n}\n"
      "train { model: \"resnet_cifar\" depth: 8 dataset: \"d\" }\n");
  EXPECT_NE(e.find("t.textproto:4:"), std::string::npos) << e;
  EXPECT_NE(e.find("train.lr -0.1"), std::string::npos) << e;
}

TEST(ClaimSettings, RefusedWhenNotFiniteOrOutOfRange) {
  const std::string grid = "  param { name: \"lr\" values: \"0.1\" }\n";
  std::string e = ErrorOf(SpecWith(grid, "", "claim { max_attempts: 0 }\n"));
  EXPECT_NE(e.find("max_attempts 0"), std::string::npos) << e;
  EXPECT_NE(e.find("t.textproto:6:"), std::string::npos) << e;
  e = ErrorOf(SpecWith(grid, "", "claim { lease_seconds: inf }\n"));
  EXPECT_NE(e.find("lease_seconds inf"), std::string::npos) << e;
  e = ErrorOf(SpecWith(grid, "", "claim { lease_seconds: 0 }\n"));
  EXPECT_NE(e.find("lease_seconds 0"), std::string::npos) << e;
  e = ErrorOf(SpecWith(grid, "", "claim { lease_seconds: 10 heartbeat_seconds: 5 }\n"));
  EXPECT_NE(e.find("at most a third"), std::string::npos) << e;
  e = ErrorOf(SpecWith(grid, "", "claim { min_seconds_left: nan }\n"));
  EXPECT_NE(e.find("min_seconds_left"), std::string::npos) << e;
  // Unset: defaults, as documented.
  auto ok = ParseSpec(SpecWith(grid, ""), "t.textproto");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  SweepSpec s = *ok;
  ApplyDefaults(&s);
  EXPECT_EQ(s.claim().max_attempts(), 3u);
  EXPECT_EQ(s.claim().lease_seconds(), 300);
}

TEST(RandomDistributions, NonFiniteBoundsAreRefused) {
  std::string e = ErrorOf(
      "name: \"t\"\nrandom {\n  samples: 2\n  param { name: \"x\" uniform { low: 0 high: inf } "
      "}\n}\n"
      "command { argv: \"true\" }\n");
  EXPECT_NE(e.find("t.textproto:4:"), std::string::npos) << e;
  EXPECT_NE(e.find("finite"), std::string::npos) << e;
  e = ErrorOf(
      "name: \"t\"\nrandom {\n  samples: 2\n  param { name: \"x\" uniform { low: -1.7e308 high: "
      "1.7e308 } }\n}\n"
      "command { argv: \"true\" }\n");
  EXPECT_NE(e.find("finite"), std::string::npos) << e;
  e = ErrorOf(
      "name: \"t\"\ngrid { param { name: \"x\" range { start: 0 stop: inf step: 1 } } }\ncommand { "
      "argv: \"true\" }\n");
  EXPECT_NE(e.find("finite"), std::string::npos) << e;
}

TEST(RandomDistributions, IntUniformOverTheWholeInt64RangeStaysInRange) {
  auto spec = ParseSpec(
      "name: \"t\"\nrandom {\n  samples: 200\n  param { name: \"x\" int_uniform { low: "
      "-9223372036854775808 "
      "high: 9223372036854775807 } }\n  param { name: \"y\" int_uniform { low: 9223372036854775806 "
      "high: "
      "9223372036854775807 } }\n}\ncommand { argv: \"true\" }\n",
      "t.textproto");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  auto ps = PointSpace::Create(*spec);
  bool neg = false, pos = false;
  int odd = 0;
  for (uint64_t i = 0; i < ps->size(); ++i) {
    Point p = ps->At(i);
    long long x = std::stoll(p.values[0].second);  // throws if out of range
    neg |= x < 0;
    pos |= x > 0;
    odd += (x % 2) != 0;
    const std::string& y = p.values[1].second;
    EXPECT_TRUE(y == "9223372036854775806" || y == "9223372036854775807") << y;
  }
  EXPECT_TRUE(neg && pos);
  // Every value can be drawn, not only multiples of a power of two (a draw
  // through a 53-bit double could only give those).
  EXPECT_GT(odd, 60) << "of 200 draws";
}

}  // namespace
}  // namespace claimsweep
