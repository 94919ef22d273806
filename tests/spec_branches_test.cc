// Validation of grid branches and zips (issue 12): every refusal names
// file:line:col, the parameter, and the branch or zip.
#include <gtest/gtest.h>

#include "core/points.h"
#include "core/spec.h"
#include "example_specs.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::ErrorOf;

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

TEST(SpecBranches, AcceptsTheIssueExampleAsWritten) {
  auto s = ParseSpec(testing::kBranchesSpec, "branches.textproto");
  ASSERT_OK(s) << s.status().ToString();
  EXPECT_EQ(s->grid().branch_size(), 2);
  EXPECT_EQ(PointSpace::Create(*s)->size(), 24u);
}

TEST(SpecBranches, AParameterIsDefinedOnceInEveryPointsScope) {
  const std::string e = ErrorOf(R"(grid {
  branch {
    param { name: "m" values: "a" }
    param { name: "lr" values: "0.1" }
    param { name: "lr" values: "0.2" }
  }
  branch { param { name: "m" values: "b" } param { name: "seed" values: "4" } }
  param { name: "seed" values: "1" }
  zip { param { name: "seed" values: "2" } }
}
random { samples: 1 param { name: "m2" uniform { low: 0 high: 1 } }
                    param { name: "seed" uniform { low: 0 high: 1 } } }
command { argv: "true" })");
  EXPECT_HAS(e, "my.textproto:5:5: parameter 'lr' is defined twice in branch 1 (m=a)");
  EXPECT_HAS(e,
             "my.textproto:7:44: parameter 'seed' of branch 2 (m=b) is also defined outside "
             "the branches");
  EXPECT_HAS(e, "my.textproto:9:9: parameter 'seed' is defined twice");    // zip vs shared
  EXPECT_HAS(e, "my.textproto:12:21: parameter 'seed' is defined twice");  // random vs grid
  // Two branches may each have their own `m`.
  EXPECT_EQ(e.find("'m'"), std::string::npos) << e;
}

TEST(SpecBranches, EmptyBranchesAndZipsAreRefused) {
  const std::string e = ErrorOf(R"(grid {
  branch { param { name: "m" values: "a" } }
  branch { }
  zip { }
  branch { param { name: "m" values: "b" } zip { } }
}
command { argv: "true" })");
  EXPECT_HAS(e, "my.textproto:3:3: branch 2 is empty");
  EXPECT_HAS(e, "my.textproto:4:3: zip 1 has no param");
  EXPECT_HAS(e, "my.textproto:5:44: zip 1 of branch 3 (m=b) has no param");
}

TEST(SpecBranches, UnequalZipLengthsNameTheZipEachParamAndItsLength) {
  const std::string e = ErrorOf(R"(grid {
  param { name: "a" values: "1" }
  zip {
    param { name: "loss" values: "ce" values: "focal" }
    param { name: "epochs" range { start: 100 stop: 250 step: 50 } }
  }
}
command { argv: "true" })");
  EXPECT_HAS(e,
             "my.textproto:3:3: zip 1: its params have unequal lengths (loss has 2, epochs "
             "has 3 values)");
  auto ok = ParseSpec(R"(grid { zip { param { name: "loss" values: "ce" values: "focal" }
    param { name: "epochs" range { start: 100 stop: 200 step: 50 } } } }
    command { argv: "true" })",
                      "my.textproto");
  EXPECT_OK(ok.status());
}

const char* kLacking = R"(grid {
  branch { param { name: "model" values: "squeezenet1_1" } }
  branch { param { name: "model" values: "resnet_cifar" } param { name: "depth" values: "20" } }
  param { name: "seed" values: "1" }
}
command {
  argv: "sh" argv: "-c"
  argv: "echo {model} {seed} {index} {trial_dir} {depth} > out.txt"
  env { key: "OTHER" value: "{seed}" }
  env { key: "DEPTH" value: "d={depth}" }
}
)";

TEST(SpecBranches, APlaceholderSomeBranchLacksIsRefusedAtThePlaceholder) {
  const std::string e = ErrorOf(kLacking);
  EXPECT_HAS(e,
             "my.textproto:8:50: command.argv[2]: placeholder {depth}: branch 1 "
             "(model=squeezenet1_1) has no parameter 'depth'; give that branch a 'depth' param, "
             "make it shared (outside the branches), or leave {depth} out");
  EXPECT_HAS(e,
             "my.textproto:10:32: command.env[DEPTH]: placeholder {depth}: branch 1 "
             "(model=squeezenet1_1) has no parameter 'depth'");
  // Nothing else: {model} and {seed} every point has, {index} and
  // {trial_dir} are built in, and branch 2 has a depth.
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 2) << e;
  EXPECT_EQ(e.find("branch 2"), std::string::npos) << e;
}

const char* kTrain = R"(grid {
  branch { param { name: "model" values: "squeezenet1_1" } param { name: "lr" values: "0.04" } }
  branch { param { name: "model" values: "resnet_cifar" } param { name: "depth" values: "20" } }
}
train { dataset: "data" epochs: 2 }
)";

TEST(SpecBranches, ATrainOverrideSomeBranchLacksIsRefusedUnlessTheBaseSetsIt) {
  // lr: branch 2 would silently train with the default. depth: branch 1's
  // squeezenet takes none, so it cannot matter there.
  const std::string e = ErrorOf(kTrain);
  EXPECT_HAS(e,
             "my.textproto:3:3: train: branch 2 (model=resnet_cifar) has no parameter 'lr' "
             "(another branch sets it)");
  EXPECT_HAS(e, "set train { lr: ... } for the branches without one");
  EXPECT_EQ(e.find("depth"), std::string::npos) << e;

  std::string with_base = kTrain;
  with_base.replace(with_base.find("epochs: 2"), 9, "epochs: 2 lr: 0.1");
  EXPECT_OK(ParseSpec(with_base, "my.textproto").status());

  // A branch whose model may be resnet_cifar does need its depth.
  std::string may_be_cifar = with_base;
  may_be_cifar.replace(may_be_cifar.find("values: \"squeezenet1_1\""), 23,
                       "values: \"squeezenet1_1\" values: \"resnet_cifar\"");
  const std::string e2 = ErrorOf(may_be_cifar);
  EXPECT_HAS(e2,
             "my.textproto:2:3: train: branch 1 (model=squeezenet1_1|resnet_cifar) has no "
             "parameter 'depth'");

  // The model may come from the base train block instead of the branch.
  const char* base_model = R"(grid {
  branch { param { name: "lr" values: "0.04" } }
  branch { param { name: "lr" values: "0.1" } param { name: "depth" values: "32" } }
}
train { dataset: "data" model: "MODEL" }
)";
  std::string squeeze = base_model, cifar = base_model;
  squeeze.replace(squeeze.find("MODEL"), 5, "squeezenet1_1");
  cifar.replace(cifar.find("MODEL"), 5, "resnet_cifar");
  const std::string e3 = ErrorOf(squeeze);  // branch 2 sets a depth squeezenet ignores
  EXPECT_EQ(e3.find("has no parameter 'depth'"), std::string::npos) << e3;
  EXPECT_HAS(ErrorOf(cifar),
             "my.textproto:2:3: train: branch 1 (lr=0.04) has no parameter 'depth'");
}

// Each branch's points are checked as the trainer will build them, a zip's
// values together; a shared parameter's type error is reported once.
TEST(SpecBranches, EveryBranchsTrainConfigsAreChecked) {
  const std::string e = ErrorOf(R"(grid {
  branch { param { name: "model" values: "resnet_cifar" } param { name: "depth" values: "20" } }
  branch { param { name: "model" values: "squeezenet1_1" } param { name: "depth" values: "20" } }
}
train { dataset: "data" }
)");
  EXPECT_HAS(e,
             "my.textproto:3:60: points with model=squeezenet1_1, depth=20: train.depth "
             "applies to resnet_cifar only");
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 1) << e;

  const std::string typed = ErrorOf(R"(grid {
  branch { param { name: "model" values: "squeezenet1_1" } }
  branch { param { name: "model" values: "resnet_cifar" } }
  param { name: "lr" values: "abc" }
}
train { dataset: "data" }
)");
  EXPECT_EQ(typed,
            "my.textproto:4:3: value 'abc' of parameter 'lr' is not a valid double for "
            "train.lr\n");

  // A zip inside a branch: its tuples are checked, naming the bad one.
  const std::string zipped = ErrorOf(R"(grid {
  branch { zip { param { name: "model" values: "resnet_cifar" values: "resnet_cifar" }
                 param { name: "depth" values: "20" values: "21" } } }
  branch { param { name: "model" values: "squeezenet1_1" } }
}
train { dataset: "data" }
)");
  EXPECT_HAS(zipped, "my.textproto:3:18: points with model=resnet_cifar, depth=21: train.depth 21");
  EXPECT_EQ(std::count(zipped.begin(), zipped.end(), '\n'), 1) << zipped;
}

}  // namespace
}  // namespace claimsweep
