// The branches example of issue 12 run by the real `trial` and read by the
// real `sweep`: a parameter a branch lacks is absent everywhere it is shown
// (the command's environment, points, summary, status, report, records),
// never the string "null", and --where/--group-by work across branches.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <sstream>

#include "core/points.h"
#include "example_specs.h"
#include "proc_sweep.h"
#include "process_util.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

// The issue's spec, its command also saying what it got as $SWEEP_PARAM_depth
// (and whether that is set at all), and writing one metric.
std::string CommandSpec() {
  std::string spec = kBranchesSpec;
  const std::string issue_cmd = "echo {model} {lr} {seed} {loss} {epochs} > out.txt";
  spec.replace(spec.find(issue_cmd), issue_cmd.size(),
               issue_cmd +
                   "; echo depth=$SWEEP_PARAM_depth set=$(env | grep -c ^SWEEP_PARAM_depth=) "
                   ">> out.txt; printf 'epoch,acc\\\\n1,0.{seed}\\\\n' > metrics.csv");
  return spec + "claim { trials_per_job: 0 }\n";
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

struct BranchesSweep : ProcSweep {
  BranchesSweep() : ProcSweep(CommandSpec()) {
    RunResult r = RunTrial();
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  std::string Out(const std::vector<std::string>& args) {
    RunResult r = Sweep(args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output.find("null"), std::string::npos) << r.output;
    return r.output;
  }
};

TEST(BranchesProcess, EveryPointsCommandGetsItsValuesAndNoAbsentOnes) {
  BranchesSweep s;
  auto ps = PointSpace::Create(MustParse(kBranchesSpec));
  ASSERT_OK(ps);
  ASSERT_EQ(ps->size(), 24u);
  EXPECT_EQ(ReadAll(s.layout.work_dir(0) + "/out.txt"),
            "squeezenet1_1 0.04 1 ce 100\ndepth= set=0\n");
  EXPECT_EQ(ReadAll(s.layout.work_dir(13) + "/out.txt"),
            "resnet_cifar 0.1 1 focal 150\ndepth=20 set=1\n");
  for (uint64_t i = 0; i < 24; ++i) {
    const auto m = ps->At(i).AsMap();
    const bool has_depth = m.count("depth") > 0;
    EXPECT_EQ(has_depth, i >= 12) << i;
    EXPECT_EQ(ReadAll(s.layout.work_dir(i) + "/out.txt"),
              m.at("model") + " " + m.at("lr") + " " + m.at("seed") + " " + m.at("loss") + " " +
                  m.at("epochs") + "\ndepth=" + (has_depth ? m.at("depth") : "") +
                  " set=" + (has_depth ? "1" : "0") + "\n")
        << i;
    // The record carries the parameters the point has, no more.
    const TrialResult r = s.Result(i);
    EXPECT_EQ(r.params().count("depth"), has_depth ? 1u : 0u) << i;
    EXPECT_EQ(r.params().size(), has_depth ? 6u : 5u) << i;
  }
}

TEST(BranchesProcess, PointsStatusAndReportShowAnAbsentValueAsAnEmptyCell) {
  BranchesSweep s;
  const std::vector<std::string> csv = Lines(s.Out({"points", s.dir, "--format", "csv"}));
  ASSERT_EQ(csv.size(), 25u);
  EXPECT_EQ(csv[0], "index,model,lr,depth,seed,loss,epochs");
  EXPECT_EQ(csv[1], "0,squeezenet1_1,0.04,,1,ce,100");
  EXPECT_EQ(csv[13], "12,resnet_cifar,0.1,20,1,ce,100");

  const std::string json = s.Out({"points", s.dir, "--format", "json"});
  google::protobuf::ListValue points;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &points).ok()) << json;
  ASSERT_EQ(points.values_size(), 24);
  EXPECT_EQ(points.values(0).struct_value().fields().count("depth"), 0u) << json;
  EXPECT_EQ(points.values(12).struct_value().fields().at("depth").string_value(), "20");

  const std::vector<std::string> table = Lines(s.Out({"points", s.dir}));
  ASSERT_EQ(table.size(), 26u);  // header, rule, 24 points
  EXPECT_EQ(table[0], "index  model          lr    depth  seed  loss   epochs");
  EXPECT_EQ(table[2], "0      squeezenet1_1  0.04         1     ce     100");

  s.Out({"status", s.dir, "--limit", "0"});
  const std::string html_path = s.tmp.path() + "/r.html";
  s.Out({"report", s.dir, "-o", html_path});
  const std::string html = ReadAll(html_path);
  EXPECT_EQ(html.find("null"), std::string::npos);
  // Trial 0's row: model, lr, an empty depth cell, seed.
  EXPECT_NE(html.find("<td data-v=\"squeezenet1_1\">squeezenet1_1</td><td data-v=\"0.04\">0.04</td>"
                      "<td data-v=\"\"></td><td data-v=\"1\">1</td>"),
            std::string::npos);
}

TEST(BranchesProcess, SummaryWhereAndGroupByWorkAcrossBranches) {
  BranchesSweep s;
  const std::vector<std::string> all = Lines(s.Out({"summary", s.dir, "--format", "csv"}));
  ASSERT_EQ(all.size(), 25u);
  EXPECT_EQ(all[0].rfind("index,state,attempts,model,lr,depth,seed,loss,epochs,acc,", 0), 0u)
      << all[0];
  EXPECT_EQ(all[1].rfind("000000,done,1,squeezenet1_1,0.04,,1,ce,100,0.1,", 0), 0u) << all[1];
  EXPECT_EQ(all[14].rfind("000013,done,1,resnet_cifar,0.1,20,1,focal,150,0.1,", 0), 0u) << all[14];

  const auto resnet =
      Lines(s.Out({"summary", s.dir, "--format", "csv", "--where", "model=resnet_cifar"}));
  ASSERT_EQ(resnet.size(), 13u);
  for (size_t k = 1; k < resnet.size(); ++k)
    EXPECT_NE(resnet[k].find(",resnet_cifar,"), std::string::npos) << resnet[k];
  EXPECT_EQ(Lines(s.Out({"summary", s.dir, "--format", "csv", "--where", "depth=56"})).size(), 7u);
  // A point without depth matches no value of it, not even the empty one.
  EXPECT_EQ(Lines(s.Out({"summary", s.dir, "--format", "csv", "--where", "depth="})).size(), 1u);

  const auto groups = Lines(s.Out({"summary", s.dir, "--format", "csv", "--group-by", "depth"}));
  ASSERT_EQ(groups.size(), 4u);
  EXPECT_EQ(groups[0].rfind("depth,n,acc_mean,", 0), 0u) << groups[0];
  EXPECT_EQ(groups[1].rfind("20,6,0.2,", 0), 0u) << groups[1];
  EXPECT_EQ(groups[2].rfind("56,6,0.2,", 0), 0u) << groups[2];
  EXPECT_EQ(groups[3].rfind(",12,0.2,", 0), 0u) << groups[3];  // the squeezenet points, last

  // json: an absent parameter has no key, in rows and in groups.
  google::protobuf::ListValue rows, by_depth;
  const std::string json = s.Out({"summary", s.dir, "--format", "json"});
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &rows).ok()) << json;
  EXPECT_EQ(rows.values(0).struct_value().fields().count("depth"), 0u) << json;
  EXPECT_EQ(rows.values(13).struct_value().fields().at("depth").string_value(), "20") << json;
  const std::string gjson = s.Out({"summary", s.dir, "--format", "json", "--group-by", "depth"});
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(gjson, &by_depth).ok()) << gjson;
  ASSERT_EQ(by_depth.values_size(), 3) << gjson;
  EXPECT_EQ(by_depth.values(2).struct_value().fields().count("depth"), 0u) << gjson;
  EXPECT_EQ(by_depth.values(2).struct_value().fields().at("n").number_value(), 12) << gjson;

  const auto table = Lines(s.Out({"summary", s.dir, "--group-by", "model,depth"}));
  ASSERT_GE(table.size(), 5u);
  EXPECT_EQ(table[0].rfind("model          depth  n   acc_mean", 0), 0u) << table[0];
  EXPECT_EQ(table[4].rfind("squeezenet1_1         12  0.2", 0), 0u) << table[4];
}

TEST(BranchesProcess, ValidateAcceptsTheIssueSpecAndRefusesAPlaceholderABranchLacks) {
  TempDir tmp;
  const std::string good = tmp.path() + "/branches.textproto";
  WriteRaw(good, kBranchesSpec);
  RunResult ok = RunProcess({SWEEP_BIN, "validate", good});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find(good + ": ok, 24 points"), std::string::npos) << ok.output;

  std::string spec = kBranchesSpec;
  spec.replace(spec.find("echo {model}"), 12, "echo {depth} {model}");
  const std::string bad = tmp.path() + "/bad.textproto";
  WriteRaw(bad, spec);
  for (const char* cmd : {"validate", "init"}) {
    std::vector<std::string> args = {SWEEP_BIN, cmd, bad};
    if (std::string(cmd) == "init") args.push_back(tmp.path() + "/s");
    RunResult r = RunProcess(args);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(bad + ":19:45: command.argv[2]: placeholder {depth}: branch 1 "
                                  "(model=squeezenet1_1) has no parameter 'depth'"),
              std::string::npos)
        << r.output;
  }
  EXPECT_FALSE(Env::Default()->Exists(tmp.path() + "/s"));
}

// A record that says the trial ran with a parameter its point lacks is
// flagged, like any value that differs from the frozen spec's point.
TEST(BranchesProcess, ARecordWithAParameterItsBranchLacksIsFlagged) {
  BranchesSweep s;
  TrialResult r = s.Result(0);
  (*r.mutable_params())["depth"] = "110";
  WriteRaw(s.layout.result_path(0), ToJson(r));
  RunResult csv = s.Sweep({"summary", s.dir, "--format", "csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.output;
  EXPECT_NE(csv.output.find("000000,done (broken),1,squeezenet1_1,0.04,110,1,"), std::string::npos)
      << csv.output;
  EXPECT_NE(csv.output.find(": parameters differ from the frozen spec's point: depth 110 (spec "
                            "has none)"),
            std::string::npos)
      << csv.output;
}

}  // namespace
}  // namespace claimsweep::testing
