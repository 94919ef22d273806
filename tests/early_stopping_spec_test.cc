// Early stopping in a spec (issue 14): what `sweep validate` and `sweep init`
// accept, every refusal at file:line:col of the offending field, the rungs'
// budgets, and what `sweep extend` refuses of such a sweep.
#include <gtest/gtest.h>

#include <climits>

#include "core/asha_spec.h"
#include "core/extend.h"
#include "core/spec.h"
#include "core/sweep_points.h"
#include "example_specs.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::ErrorOf;
using testing::InitedSweep;
using testing::MustParse;

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

// A command sweep of 4 points; early_stopping is line 4.
const std::string kCommand =
    "name: \"c\"\n"
    "grid { param { name: \"lr\" values: \"0.1\" values: \"0.03\" values: \"0.01\" values: "
    "\"0.003\" } }\n"
    "command { argv: \"true\" }\n";
// A train sweep; early_stopping is line 4.
const std::string kTrain =
    "name: \"t\"\n"
    "grid { param { name: \"lr\" values: \"0.1\" values: \"0.03\" } }\n"
    "train { model: \"resnet_cifar\" depth: 8 dataset: \"data\" }\n";

std::string AshaBlock(const std::string& fields) {
  return "early_stopping { asha { " + fields + " } }\n";
}
const std::string kGood =
    "metric: \"val_acc\" maximize: true min_epochs: 1 max_epochs: 9 "
    "reduction: 3";

// "my.textproto:L:C" of the first `needle` in `text` (as ErrorOf names it).
std::string Where(const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  size_t line = 1, col = 1;
  for (size_t k = 0; k < at; ++k) {
    if (text[k] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "my.textproto:" + std::to_string(line) + ":" + std::to_string(col);
}

// The error for `text`, which must name `needle`'s place and say `what` there.
void ExpectRefusedAt(const std::string& text, const std::string& needle, const std::string& what) {
  const std::string e = ErrorOf(text);
  EXPECT_HAS(e, Where(text, needle) + ": early_stopping: " + what);
}

TEST(SpecEarlyStopping, AcceptsTheIssueExampleAsWrittenAndFreezesFormat4) {
  auto s = ParseSpec(testing::kAshaSpec, "asha.textproto");
  ASSERT_OK(s) << s.status().ToString();
  ASSERT_TRUE(s->early_stopping().has_asha());
  const Asha& a = s->early_stopping().asha();
  EXPECT_EQ(a.metric(), "val_acc");
  EXPECT_TRUE(a.maximize());
  EXPECT_EQ(a.min_epochs(), 1);
  EXPECT_EQ(a.max_epochs(), 9);
  EXPECT_EQ(a.reduction(), 3);
  EXPECT_TRUE(a.synchronous());
  EXPECT_EQ(FrozenFormatVersion(*s), 4u);
  const std::string frozen = FreezeSpec(*s);
  EXPECT_HAS(frozen, "format_version: 4");
  auto back = ParseSpec(frozen, "frozen");
  ASSERT_OK(back) << back.status().ToString();
  // The budget is max_epochs: the frozen train task trains (at most) 9 epochs.
  EXPECT_EQ(back->train().epochs(), 9);
  EXPECT_EQ(FreezeSpec(*back), frozen);
  EXPECT_EQ(DescribeEarlyStopping(s->early_stopping()),
            "SHA on val_acc (maximize), rungs 1, 3, 9 epochs, reduction 3");
}

TEST(SpecEarlyStopping, ACommandTaskMayRankByAnyColumnAndDescribesASHA) {
  auto s = ParseSpec(kCommand + AshaBlock("metric: \"my loss/2\" min_epochs: 2 max_epochs: 20 "
                                          "reduction: 3"),
                     "x");
  ASSERT_OK(s) << s.status().ToString();
  EXPECT_EQ(DescribeEarlyStopping(s->early_stopping()),
            "ASHA on my loss/2 (minimize), rungs 2, 6, 18, 20 epochs, reduction 3");
  EXPECT_EQ(FrozenFormatVersion(*s), 4u);
  // train.epochs equal to max_epochs is the same budget: accepted.
  std::string t = kTrain + AshaBlock(kGood);
  t.replace(t.find("depth: 8"), 8, "depth: 8 epochs: 9");
  EXPECT_OK(ParseSpec(t, "x"));
}

TEST(SpecEarlyStopping, AFrozenSpecOlderThanFormat4CannotHaveIt) {
  std::string frozen = FreezeSpec(*ParseSpec(testing::kAshaSpec, "x"));
  frozen.replace(frozen.find("format_version: 4"), 17, "format_version: 3");
  EXPECT_HAS(ErrorOf(frozen), "format_version 3 has no early_stopping (it needs 4)");
}

TEST(SpecEarlyStopping, RefusesBadBudgetsAtTheirField) {
  std::string t = kCommand + AshaBlock("metric: \"m\" min_epochs: 0 max_epochs: 9 reduction: 3");
  ExpectRefusedAt(t, "min_epochs", "asha.min_epochs 0 must be >= 1");
  // Left out (0): refused at the asha block.
  t = kCommand + AshaBlock("metric: \"m\" max_epochs: 9 reduction: 3");
  ExpectRefusedAt(t, "asha", "asha.min_epochs 0 must be >= 1");
  t = kCommand + AshaBlock("metric: \"m\" min_epochs: 10 max_epochs: 9 reduction: 3");
  ExpectRefusedAt(t, "min_epochs",
                  "asha.min_epochs 10 is more than max_epochs 9; the bottom rung's budget must "
                  "be at most the top's");
  t = kCommand + AshaBlock("metric: \"m\" min_epochs: 1 max_epochs: 9 reduction: 1");
  ExpectRefusedAt(t, "reduction", "asha.reduction 1 must be >= 2");
  t = kCommand + AshaBlock("metric: \"m\" min_epochs: 1 max_epochs: 9");
  ExpectRefusedAt(t, "asha", "asha.reduction 0 must be >= 2");
  // min_epochs == max_epochs: one rung, accepted.
  EXPECT_OK(ParseSpec(
      kCommand + AshaBlock("metric: \"m\" min_epochs: 5 max_epochs: 5 reduction: 2"), "x"));
}

TEST(SpecEarlyStopping, RefusesAnEmptyOrUnknownMetric) {
  std::string t = kCommand + AshaBlock("min_epochs: 1 max_epochs: 9 reduction: 3");
  ExpectRefusedAt(t, "asha", "asha needs a metric");
  t = kCommand + AshaBlock("metric: \"\" min_epochs: 1 max_epochs: 9 reduction: 3");
  ExpectRefusedAt(t, "metric", "asha needs a metric");
  // A train task ranks only by a column its trainer writes to metrics.csv.
  t = kTrain + AshaBlock("metric: \"val_accuracy\" min_epochs: 1 max_epochs: 9 reduction: 3");
  ExpectRefusedAt(t, "metric",
                  "asha.metric 'val_accuracy' is not a metric the train task writes to "
                  "metrics.csv; use one of: train_loss, train_acc, val_loss, val_acc, lr, "
                  "epoch_seconds, images_per_s");
  t = kTrain + AshaBlock("metric: \"epoch\" min_epochs: 1 max_epochs: 9 reduction: 3");
  ExpectRefusedAt(t, "metric", "asha.metric 'epoch' is not a metric the train task writes");
  for (const char* m : {"val_loss", "train_acc"}) {
    EXPECT_OK(ParseSpec(kTrain + AshaBlock("metric: \"" + std::string(m) +
                                           "\" min_epochs: 1 max_epochs: 9 "
                                           "reduction: 3"),
                        "x"))
        << m;
  }
  // A command's metrics.csv is its own, but no header holds a comma.
  t = kCommand + AshaBlock("metric: \"a,b\" min_epochs: 1 max_epochs: 9 reduction: 3");
  ExpectRefusedAt(t, "metric", "asha.metric 'a,b' cannot be a metrics.csv column");
}

TEST(SpecEarlyStopping, RefusesWhatWouldOverrideTheBudget) {
  // train.epochs other than max_epochs.
  std::string t = kTrain + AshaBlock(kGood);
  t.replace(t.find("depth: 8"), 8, "depth: 8 epochs: 10");
  ExpectRefusedAt(t, "epochs: 10",
                  "train.epochs 10 differs from asha.max_epochs 9 (at " + Where(t, "max_epochs") +
                      "); with early stopping the training budget is max_epochs: leave epochs "
                      "out");
  // A sweep parameter named epochs, in the grid or a branch.
  t = "name: \"t\"\n"
      "grid { param { name: \"lr\" values: \"0.1\" }\n"
      "  param { name: \"epochs\" values: \"3\" values: \"9\" } }\n"
      "train { model: \"resnet_cifar\" depth: 8 dataset: \"data\" }\n" +
      AshaBlock(kGood);
  ExpectRefusedAt(t, "param { name: \"epochs\"",
                  "a sweep parameter named 'epochs' would override the early-stopping budget "
                  "(asha.max_epochs at " +
                      Where(t, "max_epochs") + ";");
  t = "name: \"t\"\n"
      "grid { branch { param { name: \"lr\" values: \"0.1\" } }\n"
      "  branch { param { name: \"epochs\" values: \"3\" } } }\n"
      "train { model: \"resnet_cifar\" depth: 8 dataset: \"data\" epochs: 9 }\n" +
      AshaBlock(kGood);
  ExpectRefusedAt(t, "param { name: \"epochs\"", "a sweep parameter named 'epochs'");
  // More epochs than a train task may run.
  t = kTrain + AshaBlock("metric: \"val_acc\" min_epochs: 1 max_epochs: 2000000 reduction: 3");
  ExpectRefusedAt(t, "max_epochs", "asha.max_epochs 2000000 must be at most 1000000");
  // A command task has no epochs to override: {epochs} is just a value there.
  EXPECT_OK(
      ParseSpec("grid { param { name: \"epochs\" values: \"3\" } }\ncommand { argv: \"echo\" argv: "
                "\"{epochs}\" }\n" +
                    AshaBlock(kGood),
                "x"));
}

// {budget} is a placeholder of early-stopping sweeps only (the rung's epochs).
TEST(SpecEarlyStopping, BudgetIsAPlaceholderOnlyWithEarlyStopping) {
  std::string with = kCommand + AshaBlock(kGood);
  with.replace(with.find("argv: \"true\""), 13,
               "argv: \"train.sh\" argv: \"--epochs={budget}\" env { key: \"E\" value: "
               "\"{budget}\" }");
  EXPECT_OK(ParseSpec(with, "x"));
  std::string without = kCommand;
  without.replace(without.find("argv: \"true\""), 13,
                  "argv: \"train.sh\" argv: \"--epochs={budget}\"");
  const std::string e = ErrorOf(without);
  EXPECT_HAS(e, "placeholder {budget} names no parameter");
  EXPECT_HAS(e, "known: lr, trial_dir, sweep_dir, spec_dir, index, attempt");
}

TEST(SpecEarlyStopping, RefusesNoRuleAndStages) {
  std::string t = kCommand + "early_stopping { }\n";
  ExpectRefusedAt(t, "early_stopping", "needs a rule: asha {");
  t = kCommand + AshaBlock(kGood) +
      "stage { name: \"post\" each_trial: true command { argv: \"true\" } }\n";
  ExpectRefusedAt(
      t, "early_stopping",
      "not supported together with stages yet (the first stage is at " + Where(t, "stage {") + ")");
}

TEST(AshaRungs, BudgetsGrowByTheReductionAndEndAtMaxEpochs) {
  auto rungs = [](int lo, int hi, int r) {
    Asha a;
    a.set_min_epochs(lo);
    a.set_max_epochs(hi);
    a.set_reduction(r);
    return AshaRungBudgets(a);
  };
  using V = std::vector<int>;
  EXPECT_EQ(rungs(1, 9, 3), (V{1, 3, 9}));
  EXPECT_EQ(rungs(2, 20, 3), (V{2, 6, 18, 20}));
  EXPECT_EQ(rungs(1, 10, 3), (V{1, 3, 9, 10}));
  EXPECT_EQ(rungs(1, 8, 2), (V{1, 2, 4, 8}));
  EXPECT_EQ(rungs(5, 5, 4), (V{5}));
  EXPECT_EQ(rungs(4, 5, 4), (V{4, 5}));
  // The largest budgets do not overflow: 2^0 .. 2^30, then 2^31 - 1.
  V big = rungs(1, INT_MAX, 2);
  ASSERT_EQ(big.size(), 32u);
  EXPECT_EQ(big[30], 1 << 30);
  EXPECT_EQ(big[31], INT_MAX);
  EXPECT_EQ(rungs(1, INT_MAX, INT_MAX), (V{1, INT_MAX}));
  EXPECT_EQ(rungs((1 << 30) + 1, INT_MAX, INT_MAX), (V{(1 << 30) + 1, INT_MAX}));
  // 3 * 2^30 is past INT_MAX: the next rung is max_epochs.
  EXPECT_EQ(rungs(3, INT_MAX - 1, 1 << 30), (V{3, INT_MAX - 1}));
  // What validation refuses has no rungs.
  EXPECT_TRUE(rungs(0, 9, 3).empty());
  EXPECT_TRUE(rungs(1, 9, 1).empty());
  EXPECT_TRUE(rungs(10, 9, 3).empty());
}

SweepSpec Next(const InitedSweep& sweep, const std::string& text) {
  return testing::NextVersionSpec(sweep, text);
}

Status Plan(const InitedSweep& sweep, const std::string& text, ExtendPlan* plan) {
  auto cur = ReadSweepPoints(Env::Default(), sweep.layout.root());
  if (!cur.ok()) return cur.status();
  return PlanExtension(*cur, Next(sweep, text), plan);
}

const std::string kMorePoints = "values: \"0.003\" values: \"0.001\"";

std::string WithMorePoints(std::string t) {
  return t.replace(t.find("values: \"0.003\""), 15, kMorePoints);
}

TEST(ExtendEarlyStopping, AChangeOfEarlyStoppingIsRefused) {
  const std::string asha = AshaBlock("metric: \"m\" min_epochs: 1 max_epochs: 9 reduction: 3");
  InitedSweep sweep(kCommand + asha);
  ExtendPlan plan;
  for (const std::string& other :
       {AshaBlock("metric: \"m\" min_epochs: 1 max_epochs: 27 reduction: 3"),
        AshaBlock("metric: \"m2\" min_epochs: 1 max_epochs: 9 reduction: 3"), std::string()}) {
    Status s = Plan(sweep, kCommand + other, &plan);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << other << s.ToString();
    EXPECT_HAS(s.message(), "the early_stopping changed");
  }
  // A sweep without it cannot gain it.
  InitedSweep plain(kCommand);
  EXPECT_HAS(Plan(plain, kCommand + asha, &plan).message(), "the early_stopping changed");
  // A train sweep: named as early_stopping, not as the train task (whose
  // epochs follows max_epochs).
  InitedSweep train(kTrain + AshaBlock(kGood));
  Status s = Plan(train,
                  kTrain + AshaBlock("metric: \"val_acc\" maximize: true min_epochs: 1 "
                                     "max_epochs: 27 reduction: 3"),
                  &plan);
  EXPECT_HAS(s.message(), "the early_stopping changed");
  // ASHA's sweep may grow.
  ASSERT_OK(Plan(sweep, WithMorePoints(kCommand) + asha, &plan));
  EXPECT_EQ(plan.added, 1u);
}

TEST(ExtendEarlyStopping, ASynchronousSweepGetsNoNewPoints) {
  const std::string sha =
      AshaBlock("metric: \"m\" min_epochs: 1 max_epochs: 9 reduction: 3 synchronous: true");
  InitedSweep sweep(kCommand + sha);
  ExtendPlan plan;
  Status s = Plan(sweep, WithMorePoints(kCommand) + sha, &plan);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_HAS(s.message(),
             "the sweep uses synchronous early stopping (SHA), whose promotions depend on the "
             "number of points, so no point can be added");
  // Claim settings may still change: no point is added.
  std::string claim = kCommand + sha + "claim { max_attempts: 5 }\n";
  ASSERT_OK(Plan(sweep, claim, &plan));
  EXPECT_EQ(plan.added, 0u);
  EXPECT_FALSE(plan.unchanged);
}

}  // namespace
}  // namespace claimsweep
