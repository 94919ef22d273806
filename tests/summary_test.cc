// `sweep summary` and `sweep status --watch` on sweeps run by the real `trial`.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/layout.h"
#include "process_util.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;

// width x seed, 8 trials; each writes score = width + seed into metrics.csv.
struct ScoredSweep {
  TempDir tmp;
  std::string dir = tmp.path() + "/s";
  explicit ScoredSweep(const std::string& extra_cmd = "") {
    ::umask(022);
    std::ofstream(tmp.path() + "/spec.textproto")
        << "name: \"scored\"\ngrid {\n  param { name: \"width\" values: \"16\" values: \"32\" }\n"
           "  param { name: \"seed\" values: \"1\" values: \"2\" values: \"3\" values: \"4\" }\n}\n"
           "command { argv: \"sh\" argv: \"-c\" argv: \"echo epoch,score > {trial_dir}/metrics.csv; "
           "echo 1,$(( {width} + {seed} )) >> {trial_dir}/metrics.csv; "
        << extra_cmd << "\" }\nclaim { trials_per_job: 0 }\n";
    RunResult r = RunProcess({SWEEP_BIN, "init", tmp.path() + "/spec.textproto", dir});
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  RunResult Trial() { return RunProcess({TRIAL_BIN}, {"SWEEP_DIR=" + dir}); }
  RunResult Summary(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), {SWEEP_BIN, "summary", dir});
    return RunProcess(args, env);
  }
};

ListValue Json(const std::string& text) {
  ListValue v;
  auto s = google::protobuf::util::JsonStringToMessage(text, &v);
  EXPECT_TRUE(s.ok()) << text;
  return v;
}
double Num(const Struct& row, const std::string& key) { return row.fields().at(key).number_value(); }
std::string Str(const Struct& row, const std::string& key) { return row.fields().at(key).string_value(); }

int Lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

TEST(Summary, OneRowPerTrialWithItsParametersAndMetrics) {
  ScoredSweep s;
  ASSERT_EQ(s.Trial().exit_code, 0);
  RunResult r = s.Summary({"--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ListValue rows = Json(r.output);
  ASSERT_EQ(rows.values_size(), 8);
  for (const auto& v : rows.values()) {
    const Struct& row = v.struct_value();
    EXPECT_EQ(Str(row, "state"), "done");
    EXPECT_EQ(Num(row, "score"), std::stod(Str(row, "width")) + std::stod(Str(row, "seed")));
    EXPECT_EQ(Num(row, "attempts"), 1);
    const double seed = std::stod(Str(row, "seed"));
    EXPECT_EQ(Num(row, "index"), std::stod(Str(row, "width")) == 16 ? seed - 1 : seed + 3);
    EXPECT_GE(Num(row, "wall_seconds"), 0);
  }
}

TEST(Summary, SortsFiltersAndTakesTheTop) {
  ScoredSweep s;
  ASSERT_EQ(s.Trial().exit_code, 0);
  RunResult top = s.Summary({"--sort", "score", "--desc", "--top", "3", "--format", "csv"});
  ASSERT_EQ(top.exit_code, 0) << top.output;
  EXPECT_EQ(Lines(top.output), 4) << top.output;  // header + 3
  std::istringstream in(top.output);
  std::string header, first;
  std::getline(in, header);
  std::getline(in, first);
  EXPECT_EQ(header, "index,state,attempts,width,seed,epoch,score,wall_seconds");
  EXPECT_EQ(first.substr(0, first.rfind(',')), "000007,done,1,32,4,1,36") << top.output;
  RunResult where = s.Summary({"--where", "width=16", "--where", "state=done", "--format", "csv"});
  EXPECT_EQ(Lines(where.output), 5) << where.output;
  EXPECT_EQ(where.output.find(",32,"), std::string::npos) << where.output;
  RunResult bad = s.Summary({"--where", "depth=3"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("no parameter 'depth'"), std::string::npos) << bad.output;
  RunResult md = s.Summary({"--format", "markdown", "--top", "1"});
  EXPECT_EQ(md.output.rfind("| index | state |", 0), 0u) << md.output;
  EXPECT_NE(md.output.find("|---|"), std::string::npos);
}

TEST(Summary, TheTableFitsTheTerminalWidth) {
  ScoredSweep s;
  ASSERT_EQ(s.Trial().exit_code, 0);
  RunResult r = s.Summary({}, {"COLUMNS=40"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("(", 0) == 0) continue;  // the note about columns left out
    EXPECT_LE(line.size(), 40u) << line;
  }
  EXPECT_NE(r.output.find("more columns do not fit"), std::string::npos) << r.output;
}

TEST(Summary, GroupByAggregatesTheOtherParameters) {
  ScoredSweep s;
  ASSERT_EQ(s.Trial().exit_code, 0);
  RunResult r = s.Summary({"--group-by", "width", "--metrics", "score", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ListValue rows = Json(r.output);
  ASSERT_EQ(rows.values_size(), 2);
  for (const auto& v : rows.values()) {
    const Struct& g = v.struct_value();
    const double w = std::stod(Str(g, "width"));
    EXPECT_EQ(Num(g, "n"), 4);
    EXPECT_NEAR(Num(g, "score_mean"), w + 2.5, 1e-9);           // seeds 1..4
    EXPECT_NEAR(Num(g, "score_std"), std::sqrt(5.0 / 3.0), 1e-3);  // sample std of 1,2,3,4
    EXPECT_EQ(Num(g, "score_min"), w + 1);
    EXPECT_EQ(Num(g, "score_max"), w + 4);
    // A bootstrap interval of the mean: inside the data's range, around the mean.
    EXPECT_GE(Num(g, "score_ci95_lo"), w + 1);
    EXPECT_LT(Num(g, "score_ci95_lo"), w + 2.5);
    EXPECT_GT(Num(g, "score_ci95_hi"), w + 2.5);
    EXPECT_LE(Num(g, "score_ci95_hi"), w + 4);
  }
  // Deterministic: the same results print the same interval.
  EXPECT_EQ(s.Summary({"--group-by", "width", "--format", "json"}).output,
            s.Summary({"--group-by", "width", "--format", "json"}).output);
}

TEST(Summary, BrokenResultFilesAreNamedAndTheRestIsSummarized) {
  ScoredSweep s;
  ASSERT_EQ(s.Trial().exit_code, 0);
  SweepLayout layout(s.dir);
  std::ofstream(layout.result_path(3), std::ios::trunc) << "{\"exit_co";  // torn
  std::ofstream(layout.work_dir(5) + "/metrics.csv", std::ios::app) << "2,3,4\n";  // a bad row
  RunResult r = s.Summary({"--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("trial 000003"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(layout.result_path(3)), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("000003,done (broken)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("000007,done,1,32,4,1,36"), std::string::npos) << r.output;
}

TEST(Watch, PlainFramesUntilEveryTrialHasFinished) {
  ScoredSweep s("sleep 0.4");
  Spawned t = Spawn({TRIAL_BIN}, {"SWEEP_DIR=" + s.dir}, s.tmp.path(), s.tmp.path() + "/t.out");
  ASSERT_TRUE(WaitFor([&] { return StatusCounts(s.dir)["running"] == 1; }, 10));
  RunResult w = RunProcess({SWEEP_BIN, "status", s.dir, "--watch", "--interval", "0.3"});
  EXPECT_EQ(w.exit_code, 0) << w.output;
  EXPECT_EQ(WaitExit(t.pid), 0);
  // Not a terminal: no escape codes, one frame after another, the last one complete.
  EXPECT_EQ(w.output.find('\x1b'), std::string::npos);
  EXPECT_NE(w.output.find("running 1"), std::string::npos) << w.output;
  EXPECT_NE(w.output.find("attempt 1  width=16 seed=1"), std::string::npos) << w.output;
  EXPECT_GE(Lines(w.output), 6) << w.output;
  EXPECT_NE(w.output.find("8/8 finished (done 8"), std::string::npos) << w.output;
}

}  // namespace
}  // namespace claimsweep::testing
