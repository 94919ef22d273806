#include <gtest/gtest.h>

#include "core/spec.h"
#include "example_specs.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::ErrorOf;

TEST(Spec, AcceptsTheIssueExampleAsWritten) {
  auto s = ParseSpec(testing::kLrDepthSpec, "lr-depth.textproto");
  ASSERT_OK(s) << s.status().ToString();
  EXPECT_EQ(s->name(), "lr-depth");
  EXPECT_EQ(s->claim().trials_per_job(), 1u);
}

TEST(Spec, SyntaxErrorNamesFileLineAndColumn) {
  std::string e = ErrorOf("name: \"x\"\ngrid {\n  param { nmae: \"lr\" }\n}\n");
  EXPECT_NE(e.find("my.textproto:3:"), std::string::npos) << e;
  EXPECT_NE(e.find("nmae"), std::string::npos) << e;
}

TEST(Spec, UnknownPlaceholderNamesTheArgvLine) {
  std::string e = ErrorOf(
      "name: \"x\"\n"
      "grid { param { name: \"lr\" values: \"0.1\" } }\n"
      "command {\n"
      "  argv: \"train\"\n"
      "  argv: \"--lr={lrr}\"\n"
      "}\n");
  EXPECT_NE(e.find("my.textproto:5:"), std::string::npos) << e;
  EXPECT_NE(e.find("{lrr}"), std::string::npos) << e;
  EXPECT_NE(e.find("lr"), std::string::npos) << e;
}

TEST(Spec, RefusesDuplicateReservedAndMalformedParameters) {
  EXPECT_NE(
      ErrorOf("grid { param { name: \"a\" values: \"1\" } param { name: \"a\" values: \"2\" } }\n"
              "command { argv: \"true\" }")
          .find("defined twice"),
      std::string::npos);
  EXPECT_NE(ErrorOf("grid { param { name: \"index\" values: \"1\" } }\ncommand { argv: \"true\" }")
                .find("reserved"),
            std::string::npos);
  EXPECT_NE(ErrorOf("grid { param { name: \"a-b\" values: \"1\" } }\ncommand { argv: \"true\" }")
                .find("identifier"),
            std::string::npos);
  EXPECT_NE(ErrorOf("grid { param { name: \"a\" range { start: 5 stop: 1 step: 1 } } }\ncommand { "
                    "argv: \"true\" }")
                .find("stop must be > start"),
            std::string::npos);
  EXPECT_NE(ErrorOf("random { samples: 2 param { name: \"w\" log_uniform { low: 0 high: 1 } } }\n"
                    "command { argv: \"true\" }")
                .find("0 < low < high"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(
          "random { param { name: \"w\" uniform { low: 0 high: 1 } } }\ncommand { argv: \"true\" }")
          .find("samples"),
      std::string::npos);
}

TEST(Spec, RefusesMissingTaskAndTooSlowHeartbeat) {
  EXPECT_NE(ErrorOf("name: \"x\"\n").find("needs a task"), std::string::npos);
  std::string e =
      ErrorOf("command { argv: \"true\" }\nclaim { lease_seconds: 10 heartbeat_seconds: 5 }\n");
  EXPECT_NE(e.find("my.textproto:2:"), std::string::npos) << e;
  EXPECT_NE(e.find("third of lease_seconds"), std::string::npos) << e;
}

TEST(Spec, FrozenTextRoundTripsAndCarriesVersion) {
  auto s = ParseSpec(testing::kLrDepthSpec, "x");
  ASSERT_OK(s);
  std::string frozen = FreezeSpec(*s);
  EXPECT_NE(frozen.find("format_version: 3"), std::string::npos);
  auto back = ParseSpec(frozen, "frozen");
  ASSERT_OK(back) << back.status().ToString();
  EXPECT_EQ(FreezeSpec(*back), frozen);
}

TEST(Spec, NewerFormatVersionIsRefusedClearly) {
  std::string e = ErrorOf("format_version: 9\ncommand { argv: \"true\" }\n");
  EXPECT_NE(e.find("newer than this claimsweep"), std::string::npos) << e;
}

// The train task example from the training issue, as written.
constexpr const char* kTrainSpec = R"(name: "resnet-depth"
seed: 3
grid {
  param { name: "depth" values: "20" values: "32" }
  param { name: "lr" values: "0.1" values: "0.05" }
}
train {
  model: "resnet_cifar"    # squeezenet1_0 | squeezenet1_1 | resnet_cifar | resnet18 | resnet34 | resnet50
  dataset: "data/synth"    # relative to the spec file; frozen as an absolute path at init
  epochs: 10
  batch_size: 128
  optimizer: "sgd"         # sgd (momentum, nesterov) | adam | adamw
  lr: 0.1
  momentum: 0.9
  weight_decay: 5e-4
  schedule: "cosine"       # constant | step | cosine, with optional linear warmup
}
claim { lease_seconds: 600 heartbeat_seconds: 30 max_attempts: 3 trials_per_job: 1 }
)";

TEST(Spec, AcceptsTheTrainExampleAsWritten) {
  auto s = ParseSpec(kTrainSpec, "resnet.textproto");
  ASSERT_OK(s) << s.status().ToString();
  EXPECT_EQ(s->train().model(), "resnet_cifar");
}

TEST(Spec, TrainParameterMustNameAFieldListingTheValidOnes) {
  std::string text = kTrainSpec;
  text.replace(text.find("name: \"lr\""), 10, "name: \"lrate\"");
  std::string e = ErrorOf(text);
  EXPECT_NE(e.find("my.textproto:5:"), std::string::npos) << e;
  EXPECT_NE(e.find("'lrate' is not a field of the train task"), std::string::npos) << e;
  EXPECT_NE(e.find("weight_decay"), std::string::npos) << e;  // the list of valid fields
}

TEST(Spec, TrainParameterValuesAreTypeChecked) {
  std::string text = kTrainSpec;
  text.replace(text.find("values: \"0.05\""), 14, "values: \"fast\"");
  std::string e = ErrorOf(text);
  EXPECT_NE(e.find("'fast'"), std::string::npos) << e;
  EXPECT_NE(e.find("double"), std::string::npos) << e;
  std::string depth = kTrainSpec;
  depth.replace(depth.find("values: \"32\""), 12, "values: \"33\"");
  e = ErrorOf(depth);
  EXPECT_NE(e.find("6n+2"), std::string::npos) << e;
}

}  // namespace
}  // namespace claimsweep
