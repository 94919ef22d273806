// Derived stages in a spec (issue 13): what `sweep validate` and `sweep init`
// accept, and every refusal naming file:line:col of the offending field.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/spec.h"
#include "example_specs.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::ErrorOf;

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

// A train sweep that keeps checkpoints; stages follow from line 4.
const std::string kTrain =
    "name: \"p\"\n"
    "grid { param { name: \"lr\" values: \"0.1\" values: \"0.03\" } }\n"
    "train { model: \"resnet_cifar\" depth: 8 dataset: \"data\" epochs: 6 "
    "keep_checkpoints_every: 2 }\n";
// A command sweep; stages follow from line 3.
const std::string kCommand =
    "grid { param { name: \"lr\" values: \"0.1\" } }\n"
    "command { argv: \"true\" }\n";

// The lines of `e` (an error message) that start at `where`.
size_t LinesAt(const std::string& e, const std::string& where) {
  size_t n = 0;
  for (size_t at = 0; at < e.size();) {
    if (e.compare(at, where.size() + 2, where + ": ") == 0) ++n;
    at = e.find('\n', at);
    at = at == std::string::npos ? e.size() : at + 1;
  }
  return n;
}

TEST(SpecStages, AcceptsTheIssueExampleAsWrittenAndFreezesFormat4) {
  auto s = ParseSpec(testing::kPipelineSpec, "pipeline.textproto");
  ASSERT_OK(s) << s.status().ToString();
  ASSERT_EQ(s->stage_size(), 2);
  EXPECT_TRUE(s->stage(0).each_checkpoint());
  EXPECT_EQ(s->stage(1).after_all(), "eval");
  EXPECT_EQ(s->train().keep_checkpoints_every(), 2);
  EXPECT_EQ(FrozenFormatVersion(*s), 4u);
  const std::string frozen = FreezeSpec(*s);
  EXPECT_HAS(frozen, "format_version: 4");
  auto back = ParseSpec(frozen, "frozen");
  ASSERT_OK(back) << back.status().ToString();
  EXPECT_EQ(FreezeSpec(*back), frozen);
  // Without stages, what was frozen before: readable by a claimsweep that knows 3.
  auto plain = ParseSpec(kTrain, "plain");
  ASSERT_OK(plain);
  EXPECT_HAS(FreezeSpec(*plain), "format_version: 3");
}

TEST(SpecStages, AFrozenSpecOlderThanStagesCannotHaveThem) {
  std::string frozen = FreezeSpec(*ParseSpec(testing::kPipelineSpec, "x"));
  frozen.replace(frozen.find("format_version: 4"), 17, "format_version: 3");
  const std::string e = ErrorOf(frozen);
  EXPECT_HAS(e, "format_version 3 has no stages (they need 4)");
}

TEST(SpecStages, RefusesBadReservedAndDuplicateNames) {
  std::string e = ErrorOf(kTrain + "stage { name: \"Eval\" each_trial: true eval {} }\n");
  EXPECT_HAS(e, "my.textproto:4:9: stage 'Eval': a stage's name must match [a-z][a-z0-9_]{0,31}");
  e = ErrorOf(kTrain + "stage { name: \"" + std::string(33, 'a') +
              "\" each_trial: true eval {} }\n");
  EXPECT_HAS(e,
             "my.textproto:4:9: stage '" + std::string(33, 'a') + "': a stage's name must match");
  e = ErrorOf(kTrain + "stage { each_trial: true eval {} }\n");
  EXPECT_HAS(e, "my.textproto:4:1: stage '': a stage's name must match");
  e = ErrorOf(kTrain + "stage { name: \"trials\" each_trial: true eval {} }\n");
  EXPECT_HAS(e, "my.textproto:4:9: stage 'trials': \"trials\" is reserved");
  e = ErrorOf(kTrain +
              "stage { name: \"ev\" each_trial: true eval {} }\n"
              "stage { name: \"ev\" each_checkpoint: true eval {} }\n");
  EXPECT_HAS(e,
             "my.textproto:5:9: stage 'ev': two stages are named 'ev' (the first at "
             "my.textproto:4:9); give each stage its own name");
  EXPECT_EQ(LinesAt(e, "my.textproto:4:9"), 0u) << e;  // the first is fine
  // Digits and underscores after the first letter, 32 characters: fine.
  EXPECT_OK(ParseSpec(
      kTrain + "stage { name: \"e_2" + std::string(29, 'x') + "\" each_trial: true eval {} }\n",
      "x"));
}

TEST(SpecStages, RefusesAStageWithoutInputOrTaskAndAnEmptyCommand) {
  std::string e = ErrorOf(kTrain + "stage { name: \"a\" eval {} }\n");
  EXPECT_HAS(e, "my.textproto:4:1: stage 'a': needs an input: each_trial: true");
  e = ErrorOf(kTrain + "stage { name: \"a\" each_trial: true }\n");
  EXPECT_HAS(e, "my.textproto:4:1: stage 'a': needs a task: command { argv: ... } or eval");
  e = ErrorOf(kTrain + "stage { name: \"a\" each_trial: true command {} }\n");
  EXPECT_HAS(e, "my.textproto:4:36: stage 'a': command needs at least one argv");
  e = ErrorOf(kTrain + "stage { name: \"a\" each_trial: false eval {} }\n");
  EXPECT_HAS(e, "my.textproto:4:19: stage 'a': write each_trial: true");
}

TEST(SpecStages, AfterAllTakesOnlyTheTrialsOrAStageWrittenBefore) {
  const std::string rule =
      "a stage may only take as input the sweep's trials (\"trials\") or a stage written before "
      "it";
  // Unknown.
  std::string e = ErrorOf(kTrain +
                          "stage { name: \"ev\" each_trial: true eval {} }\n"
                          "stage { name: \"c\" after_all: \"evl\" command { argv: \"true\" } }\n");
  EXPECT_HAS(e, "my.textproto:5:19: stage 'c': after_all: \"evl\" names no stage; " + rule +
                    " (here: \"trials\", \"ev\")");
  // Itself: a cycle.
  e = ErrorOf(kTrain + "stage { name: \"c\" after_all: \"c\" command { argv: \"true\" } }\n");
  EXPECT_HAS(
      e,
      "my.textproto:4:19: stage 'c': after_all: \"c\" names this stage itself, a cycle; " + rule);
  // A later stage, no cycle.
  e = ErrorOf(kTrain +
              "stage { name: \"c\" after_all: \"ev\" command { argv: \"true\" } }\n"
              "stage { name: \"ev\" each_trial: true eval {} }\n");
  EXPECT_HAS(e,
             "my.textproto:4:19: stage 'c': after_all: \"ev\" is written later (at "
             "my.textproto:5:9); " +
                 rule);
  EXPECT_EQ(e.find("cycle"), std::string::npos) << e;
  // A later stage that reaches back: a cycle, named as one.
  e = ErrorOf(kTrain +
              "stage { name: \"a\" after_all: \"b\" command { argv: \"true\" } }\n"
              "stage { name: \"b\" after_all: \"a\" command { argv: \"true\" } }\n");
  EXPECT_HAS(e,
             "my.textproto:4:19: stage 'a': after_all: \"b\" is written later (at "
             "my.textproto:5:9), and takes this stage's output: a cycle (a -> b -> a); " +
                 rule);
  // An empty name.
  e = ErrorOf(kTrain + "stage { name: \"c\" after_all: \"\" command { argv: \"true\" } }\n");
  EXPECT_HAS(e, "my.textproto:4:19: stage 'c': after_all needs a stage name; " + rule);
  // The sweep's trials, and an earlier per-item stage: fine.
  EXPECT_OK(
      ParseSpec(kTrain + "stage { name: \"ev\" each_trial: true eval {} }\n"
                         "stage { name: \"c\" after_all: \"ev\" command { argv: \"true\" } }\n"
                         "stage { name: \"d\" after_all: \"trials\" command { argv: \"true\" } }\n",
                "x"));
}

TEST(SpecStages, AfterAllOfAnAfterAllStageIsNotSupported) {
  const std::string e =
      ErrorOf(kTrain +
              "stage { name: \"c\" after_all: \"trials\" command { argv: \"true\" } }\n"
              "stage { name: \"d\" after_all: \"c\" command { argv: \"true\" } }\n");
  EXPECT_HAS(e,
             "my.textproto:5:19: stage 'd': after_all: \"c\" is itself an after_all stage; "
             "after_all of an after_all stage is not supported");
}

TEST(SpecStages, EachCheckpointNeedsATaskThatKeepsCheckpoints) {
  // A command task keeps none.
  std::string e = ErrorOf(kCommand +
                          "stage { name: \"a\" each_checkpoint: true "
                          "command { argv: \"true\" } }\n");
  EXPECT_HAS(e,
             "my.textproto:3:19: stage 'a': each_checkpoint needs a train task that keeps "
             "checkpoints; the sweep's command task keeps none");
  // A train task without keep_checkpoints_every (or with 0).
  std::string off = kTrain;
  off.replace(off.find("keep_checkpoints_every: 2"), 25, "keep_checkpoints_every: 0");
  for (const std::string& base : {off, std::string(kTrain).replace(kTrain.find(" keep"), 26, "")}) {
    e = ErrorOf(base + "stage { name: \"a\" each_checkpoint: true eval {} }\n");
    EXPECT_HAS(e,
               "my.textproto:4:19: stage 'a': each_checkpoint needs kept checkpoints, and "
               "train.keep_checkpoints_every is 0 (off); set train { keep_checkpoints_every: N "
               "} with N > 0");
  }
  // As a parameter: every value must keep some.
  std::string param = off;
  param.replace(param.find("grid { "), 7,
                "grid { param { name: \"keep_checkpoints_every\" values: \"2\" values: \"0\" } ");
  e = ErrorOf(param + "stage { name: \"a\" each_checkpoint: true eval {} }\n");
  EXPECT_HAS(e,
             "my.textproto:4:19: stage 'a': each_checkpoint needs kept checkpoints, and points "
             "with keep_checkpoints_every=0 (the parameter at my.textproto:2:8) keep none");
  param.replace(param.find("values: \"0\""), 11, "values: \"3\"");
  EXPECT_OK(ParseSpec(param + "stage { name: \"a\" each_checkpoint: true eval {} }\n", "x"));
  // each_trial needs no checkpoints: a command sweep may have one.
  EXPECT_OK(ParseSpec(
      kCommand + "stage { name: \"a\" each_trial: true command { argv: \"true\" } }\n", "x"));
}

TEST(SpecStages, KeepCheckpointsEveryMustNotBeNegativeInTrainOrAsAParameter) {
  std::string neg = kTrain;
  neg.replace(neg.find("keep_checkpoints_every: 2"), 25, "keep_checkpoints_every: -1");
  EXPECT_HAS(ErrorOf(neg), "train.keep_checkpoints_every -1 must be >= 0");
  std::string param = kTrain;
  param.replace(param.find("grid { "), 7,
                "grid { param { name: \"keep_checkpoints_every\" values: \"-2\" } ");
  const std::string e = ErrorOf(param);
  EXPECT_HAS(e, "my.textproto:2:8: ");
  EXPECT_HAS(e, "train.keep_checkpoints_every -2 must be >= 0");
  param.replace(param.find("\"-2\""), 4, "\"x\"");
  EXPECT_HAS(ErrorOf(param), "is not a valid int32 for train.keep_checkpoints_every");
}

TEST(SpecStages, EvalNeedsATrainSweepAKnownSplitAndOneCheckpoint) {
  std::string e = ErrorOf(kCommand + "stage { name: \"a\" each_trial: true eval {} }\n");
  EXPECT_HAS(e,
             "my.textproto:3:36: stage 'a': eval evaluates a train checkpoint on the sweep's "
             "dataset; it needs a sweep whose task is train");
  e = ErrorOf(kTrain + "stage { name: \"a\" each_trial: true eval { split: \"val\" } }\n");
  EXPECT_HAS(e,
             "my.textproto:4:43: stage 'a': eval.split 'val' must be \"test\" (the default) or "
             "\"train\"");
  e = ErrorOf(kTrain + "stage { name: \"a\" after_all: \"trials\" eval {} }\n");
  EXPECT_HAS(e,
             "my.textproto:4:39: stage 'a': eval evaluates one trial's checkpoint; give it "
             "each_checkpoint: true or each_trial: true, not after_all");
  for (const char* split : {"", "test", "train"}) {
    EXPECT_OK(ParseSpec(
        kTrain + "stage { name: \"a\" each_trial: true eval { split: \"" + split + "\" } }\n",
        "x"));
  }
}

TEST(SpecStages, EachStageOffersItsOwnPlaceholders) {
  auto stage = [](const std::string& input, const std::string& argv) {
    return kTrain + "stage { name: \"s\" " + input + " command { argv: \"" + argv + "\" } }\n";
  };
  const std::string every = "{trial_dir} {sweep_dir} {spec_dir} {attempt} {stage}";
  EXPECT_OK(ParseSpec(stage("each_trial: true", every + " {lr} {index} {upstream_dir}"), "x"));
  EXPECT_OK(ParseSpec(
      stage("each_checkpoint: true", every + " {lr} {index} {upstream_dir} {checkpoint} {epoch}"),
      "x"));
  EXPECT_OK(ParseSpec(stage("after_all: \"trials\"", every + " {inputs}"), "x"));
  // Line 4: `stage { name: "s" each_trial: true command { ` is 45 characters;
  // argv follows (after_all: "trials" is 3 longer).
  std::string e = ErrorOf(stage("each_trial: true", "{checkpoint}"));
  EXPECT_HAS(e,
             "my.textproto:4:46: stage 's': command.argv[0]: placeholder {checkpoint} names no "
             "parameter and is not offered to an each_trial stage; it offers lr, trial_dir");
  e = ErrorOf(stage("each_trial: true", "{inputs}"));
  EXPECT_HAS(e, "placeholder {inputs} names no parameter and is not offered to an each_trial");
  e = ErrorOf(stage("after_all: \"trials\"", "{lr}"));
  EXPECT_HAS(e,
             "my.textproto:4:49: stage 's': command.argv[0]: placeholder {lr} is not offered to "
             "an after_all stage (its one item runs for no single point: no parameters, no "
             "{index})");
  e = ErrorOf(stage("after_all: \"trials\"", "x{index}"));
  EXPECT_HAS(e,
             "my.textproto:4:49: stage 's': command.argv[0]: placeholder {index} is not offered");
  e = ErrorOf(stage("after_all: \"trials\"", "{epoch}"));
  EXPECT_HAS(e, "placeholder {epoch} names no parameter and is not offered to an after_all stage");
  // A malformed placeholder, as in the sweep's command: at its argv.
  e = ErrorOf(stage("each_trial: true", "{lr"));
  EXPECT_HAS(e, "my.textproto:4:46: stage 's': command.argv[0]: unclosed '{'");
}

TEST(SpecStages, StageEnvValuesAreCheckedLikeArgv) {
  const std::string e = ErrorOf(kTrain +
                                "stage { name: \"s\" after_all: \"trials\" command {\n"
                                "  argv: \"true\"\n"
                                "  env { key: \"LR\" value: \"{lr}\" }\n"
                                "} }\n");
  EXPECT_HAS(e,
             "my.textproto:4:39: stage 's': command.env[LR]: placeholder {lr} is not offered "
             "to an after_all stage");
}

TEST(SpecStages, AParameterSomeBranchLacksIsRefusedInAStageAsInTheSweepCommand) {
  const std::string text =
      "grid {\n"
      "  branch { param { name: \"a\" values: \"1\" } }\n"
      "  branch { param { name: \"b\" values: \"2\" } }\n"
      "}\n"
      "command { argv: \"true\" }\n"
      "stage { name: \"s\" each_trial: true command { argv: \"{a}\" } }\n";
  const std::string e = ErrorOf(text);
  EXPECT_HAS(e,
             "my.textproto:6:53: stage 's': command.argv[0]: placeholder {a}: branch 2 "
             "(b=2) has no parameter 'a'");
}

TEST(SpecStages, AParameterNamedLikeAStagePlaceholderIsRefusedInThatStage) {
  const std::string text =
      "grid { param { name: \"epoch\" values: \"1\" } }\n"
      "command { argv: \"true\" }\n"
      "stage { name: \"s\" each_trial: true command { argv: \"{epoch}\" } }\n";
  // each_trial offers no {epoch}: the parameter it is.
  EXPECT_OK(ParseSpec(text, "x"));
  const std::string e = ErrorOf(
      "grid { param { name: \"upstream_dir\" values: \"1\" } }\n"
      "command { argv: \"true\" }\n"
      "stage { name: \"s\" each_trial: true command { argv: \"true\" } }\n");
  EXPECT_HAS(e,
             "my.textproto:3:36: stage 's': the sweep has a parameter named 'upstream_dir', "
             "which each_trial stages offer as the built-in {upstream_dir}; rename the "
             "parameter");
}

TEST(SpecStages, StageResourcesAreCheckedAsTheSweepsAre) {
  const std::string e = ErrorOf(kTrain +
                                "stage { name: \"a\" each_trial: true eval {}\n"
                                "  resources { partition: \"gpu x\" time: \"x1\" } }\n");
  EXPECT_HAS(e, "my.textproto:5:3: stage 'a': resources.partition 'gpu x': use letters");
  EXPECT_HAS(e, "my.textproto:5:3: stage 'a': resources.time 'x1': minutes, HH:MM:SS");
  EXPECT_OK(ParseSpec(kTrain + "stage { name: \"a\" each_trial: true eval {} resources { gpus: 0 "
                               "cpus: 4 time: \"10:00\" } }\n",
                      "x"));
}

}  // namespace
}  // namespace claimsweep
