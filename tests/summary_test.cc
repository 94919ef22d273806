// `sweep summary` and `sweep status --watch` on sweeps run by the real `trial`.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/json.h"
#include "core/layout.h"
#include "core/points.h"
#include "proc_sweep.h"
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
           "command { argv: \"sh\" argv: \"-c\" argv: \"echo epoch,score > "
           "{trial_dir}/metrics.csv; "
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
  EXPECT_TRUE(s.ok()) << text;  // protobuf's own status
  return v;
}
double Num(const Struct& row, const std::string& key) {
  return row.fields().at(key).number_value();
}
std::string Str(const Struct& row, const std::string& key) {
  return row.fields().at(key).string_value();
}

int Lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}
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
  EXPECT_EQ(header,
            "index,state,attempts,width,seed,epoch,score,wall_seconds,last_attempt_seconds");
  EXPECT_EQ(first.rfind("000007,done,1,32,4,1,36,", 0), 0u) << top.output;
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
    EXPECT_NEAR(Num(g, "score_mean"), w + 2.5, 1e-9);              // seeds 1..4
    EXPECT_NEAR(Num(g, "score_std"), std::sqrt(5.0 / 3.0), 1e-3);  // sample std of 1,2,3,4
    EXPECT_EQ(Num(g, "score_min"), w + 1);
    EXPECT_EQ(Num(g, "score_max"), w + 4);
    // 4 trials are too few for a 95% interval: null, not a number.
    EXPECT_EQ(g.fields().at("score_ci95_lo").kind_case(), google::protobuf::Value::kNullValue);
    EXPECT_EQ(g.fields().at("score_ci95_hi").kind_case(), google::protobuf::Value::kNullValue);
  }
  RunResult table = s.Summary({"--group-by", "width", "--metrics", "score"});
  EXPECT_NE(table.output.find("95% CI needs n >= 5"), std::string::npos) << table.output;
}

TEST(Summary, BrokenResultFilesAreNamedAndTheRestIsSummarized) {
  ScoredSweep s;
  ASSERT_EQ(s.Trial().exit_code, 0);
  SweepLayout layout(s.dir);
  std::ofstream(layout.result_path(3), std::ios::trunc) << "{\"exit_co";           // torn
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

// `sweep summary` with its stdout alone (notes and warnings go to stderr).
RunResult Stdout(const std::vector<std::string>& args) {
  std::string cmd;
  for (const auto& a : args) cmd += "'" + a + "' ";
  return RunProcess({"sh", "-c", cmd + "2>/dev/null"});
}

// The row of `csv` that starts with `prefix` (a trial's index), or "".
std::string CsvRow(const std::string& csv, const std::string& prefix) {
  std::istringstream in(csv);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) return line;
  }
  return "";
}

TEST(Summary, MachineReadableFormatsCarryNumbersThatReadBackExactly) {
  ProcSweep s(Spec("2",
                   "echo epoch,small,big,tenth > metrics.csv; echo 1,0.123456789,123456789.123,0.1 "
                   ">> metrics.csv",
                   "trials_per_job: 0"));
  ASSERT_EQ(s.RunTrial().exit_code, 0);
  RunResult csv = s.Sweep({"summary", s.dir, "--format", "csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.output;
  EXPECT_NE(CsvRow(csv.output, "000001,done,1,1,123456789.123,1,0.123456789,0.1,"), "")
      << csv.output;
  RunResult json = Stdout({SWEEP_BIN, "summary", s.dir, "--format", "json"});
  ListValue rows = Json(json.output);
  ASSERT_EQ(rows.values_size(), 2) << json.output;
  const Struct& row = rows.values(0).struct_value();
  EXPECT_EQ(Num(row, "small"), 0.123456789);
  EXPECT_EQ(Num(row, "big"), 123456789.123);
  EXPECT_EQ(Num(row, "tenth"), 0.1);
  EXPECT_EQ(Num(row, "wall_seconds"), s.Result(0).total_seconds());
  RunResult md = s.Sweep({"summary", s.dir, "--format", "markdown"});
  EXPECT_NE(md.output.find("| 123456789.123 | 1 | 0.123456789 | 0.1 |"), std::string::npos)
      << md.output;
  // Only the terminal table rounds.
  RunResult table = s.Sweep({"summary", s.dir});
  EXPECT_NE(table.output.find("1.235e+08"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("0.1235"), std::string::npos) << table.output;
  EXPECT_EQ(table.output.find("0.123456789"), std::string::npos) << table.output;

  // Group statistics too; one trial per group has no std and no interval: null in JSON.
  RunResult gcsv =
      s.Sweep({"summary", s.dir, "--group-by", "x", "--metrics", "small,big", "--format", "csv"});
  EXPECT_NE(
      gcsv.output.find("\n0,1,0.123456789,,0.123456789,0.123456789,,,123456789.123,,123456789.123,"
                       "123456789.123,,\n"),
      std::string::npos)
      << gcsv.output;
  RunResult gjson = Stdout({SWEEP_BIN, "summary", s.dir, "--group-by", "x", "--format", "json"});
  ListValue groups = Json(gjson.output);
  ASSERT_EQ(groups.values_size(), 2) << gjson.output;
  const Struct& g = groups.values(0).struct_value();
  EXPECT_EQ(Num(g, "small_max"), 0.123456789);
  EXPECT_EQ(g.fields().at("small_std").kind_case(), google::protobuf::Value::kNullValue)
      << gjson.output;
}

TEST(Summary, WallTimeIsTheSumOverAttemptsWithTheLastAttemptApart) {
  // Attempt 1 is released (exit 75) after 0.3 s; attempt 2 is killed with
  // SIGKILL (no record); attempt 3 finishes.
  ProcSweep s(Spec("1",
                   "case {attempt} in 1) sleep 0.3; exit 75;; 2) exec sleep 60;; esac; "
                   "echo epoch,score > metrics.csv; echo 1,5 >> metrics.csv",
                   "max_attempts: 5 lease_seconds: 1.5 heartbeat_seconds: 0.3 trials_per_job: 1"));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(s.RunTrial().exit_code, 75);
  Spawned victim = s.StartTrial("victim");
  ASSERT_TRUE(WaitFor([&] { return StatusCounts(s.dir)["running"] == 1; }, 10));
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  ::system(("pkill -KILL -P " + std::to_string(victim.pid) + " 2>/dev/null").c_str());
  ::kill(victim.pid, SIGKILL);
  WaitExit(victim.pid);
  ASSERT_TRUE(WaitFor([&] { return StatusCounts(s.dir)["stale"] == 1; }, 10));
  RunResult last = s.RunTrial();
  ASSERT_EQ(last.exit_code, 0) << last.output;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const TrialResult r = s.Result(0);
  EXPECT_EQ(r.attempt(), 3u);
  // 0.3 s released, >= 1.2 s killed (counted to its last heartbeat, 0.3 s
  // apart, from a start time in whole seconds; a margin for a loaded
  // machine's late heartbeats), then the last attempt.
  EXPECT_GE(r.total_seconds(), r.duration_seconds() + 0.3 + 0.6) << ToJson(r);
  EXPECT_LE(r.total_seconds(), elapsed + 1) << ToJson(r);
  RunResult csv = s.Sweep({"summary", s.dir, "--format", "csv"});
  EXPECT_NE(csv.output.find(",wall_seconds,last_attempt_seconds\n"), std::string::npos)
      << csv.output;
  EXPECT_NE(CsvRow(csv.output, "000000,done,3,0,1,5," + FormatDouble(r.total_seconds()) + "," +
                                   FormatDouble(r.duration_seconds())),
            "")
      << csv.output;
}

TEST(Summary, GroupsSortNumericallyWithoutStatisticsOfXColumnsAndCiFromFiveTrials) {
  ProcSweep s(
      "name: \"g\"\ngrid {\n  param { name: \"width\" values: \"10\" values: \"2\" values: \"1\" "
      "}\n"
      "  param { name: \"seed\" values: \"1\" values: \"2\" values: \"3\" values: \"4\" values: "
      "\"5\" }\n}\n"
      "command { argv: \"sh\" argv: \"-c\" argv: \"echo epoch,score > metrics.csv; "
      "echo 3,$(( {width} + {seed} )) >> metrics.csv\" }\nclaim { trials_per_job: 0 }\n");
  ASSERT_EQ(s.RunTrial().exit_code, 0);
  RunResult csv = Stdout({SWEEP_BIN, "summary", s.dir, "--group-by", "width", "--format", "csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.output;
  std::istringstream in(csv.output);
  std::string header, line;
  std::getline(in, header);
  EXPECT_EQ(header.find("epoch"), std::string::npos) << "an x column got statistics: " << header;
  EXPECT_EQ(header.rfind("width,n,score_mean,", 0), 0u) << header;
  std::vector<std::string> order;
  while (std::getline(in, line)) {
    order.push_back(line.substr(0, line.find(',')));
    std::vector<std::string> cells;
    std::stringstream cs(line);
    for (std::string c; std::getline(cs, c, ',');) cells.push_back(c);
    ASSERT_EQ(cells.size(), 8u) << line;
    const double w = std::stod(cells[0]);
    EXPECT_EQ(cells[1], "5");
    EXPECT_EQ(std::stod(cells[2]), w + 3);
    // n = 5: an interval, inside the data's range.
    ASSERT_FALSE(cells[6].empty()) << line;
    EXPECT_GE(std::stod(cells[6]), w + 1);
    EXPECT_LE(std::stod(cells[7]), w + 5);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"1", "2", "10"}));
  RunResult table = s.Sweep({"summary", s.dir, "--group-by", "width"});
  EXPECT_EQ(table.output.find("95% CI needs"), std::string::npos) << table.output;
  RunResult x_only = s.Sweep({"summary", s.dir, "--group-by", "width", "--metrics", "epoch"});
  EXPECT_EQ(x_only.exit_code, 2) << x_only.output;
}

TEST(Summary, RefusesTopBelowOneAndUnknownMetrics) {
  ScoredSweep s;
  ASSERT_EQ(s.Trial().exit_code, 0);
  for (const char* k : {"0", "-2"}) {
    RunResult r = s.Summary({"--top", k});
    EXPECT_EQ(r.exit_code, 2) << k << ": " << r.output;
    EXPECT_NE(r.output.find("--top"), std::string::npos) << r.output;
  }
  // -1 is the option's "unset" value inside: written, it is refused too.
  RunResult minus_one = s.Summary({"--top=-1"});
  EXPECT_EQ(minus_one.exit_code, 2) << minus_one.output;
  RunResult r = s.Summary({"--metrics", "score,acc"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("no metric 'acc'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("epoch score"), std::string::npos)
      << "names the valid metrics: " << r.output;
}

TEST(Summary, SortingByAMetricRanksDoneTrialsOnly) {
  // x = 7 scores best but fails after writing its metrics.
  ProcSweep s(Spec("8", "echo epoch,score > metrics.csv; echo 1,{x} >> metrics.csv; [ {x} != 7 ]",
                   "max_attempts: 1 trials_per_job: 0"));
  s.RunTrial();
  ASSERT_EQ(StatusCounts(s.dir)["failed"], 1);
  RunResult r = s.Sweep({"summary", s.dir, "--sort", "score", "--desc", "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> order;
  std::istringstream in(r.output);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) order.push_back(line.substr(0, line.find(',')));
  EXPECT_EQ(order, (std::vector<std::string>{"000006", "000005", "000004", "000003", "000002",
                                             "000001", "000000", "000007"}))
      << r.output;
  EXPECT_NE(CsvRow(r.output, "000007,failed,1,7,1,7,"), "")
      << "still shown, with its metrics: " << r.output;
}

TEST(Summary, ParametersComeFromTheTrialsOwnRecordAndAMismatchIsFlagged) {
  ScoredSweep s;
  ASSERT_EQ(s.Trial().exit_code, 0);
  SweepLayout layout(s.dir);
  TrialResult r;
  ASSERT_OK(ParseJson(ReadAll(layout.result_path(2)), "result.json", &r));
  (*r.mutable_params())["width"] = "64";  // what the trial really ran with
  WriteRaw(layout.result_path(2), ToJson(r));
  RunResult csv = s.Summary({"--format", "csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.output;
  EXPECT_NE(CsvRow(csv.output, "000002,done (broken),1,64,3,"), "") << csv.output;
  EXPECT_NE(csv.output.find("trial 000002: " + layout.result_path(2) +
                            ": parameters differ from the frozen spec's point: width 64 (spec 16)"),
            std::string::npos)
      << csv.output;
  EXPECT_NE(CsvRow(csv.output, "000001,done,1,16,2,"), "") << csv.output;
  RunResult report = RunProcess({SWEEP_BIN, "report", s.dir, "-o", s.tmp.path() + "/r.html"});
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_NE(ReadAll(s.tmp.path() + "/r.html").find("width 64 (spec 16)"), std::string::npos);
}

// A sweep of 10^9 points (two grid ranges of 10^5 and 10^4 values) with 3
// done trials: summary, report and status cost what the claimed trials cost
// (bench/huge_sweep_bench.sh measures time and memory).
TEST(Summary, AHugeSweepListsItsClaimedTrialsAndCountsThePendingPoints) {
  ProcSweep s(
      "name: \"huge\"\ngrid {\n  param { name: \"a\" range { start: 0 stop: 100000 step: 1 } }\n"
      "  param { name: \"b\" range { start: 0 stop: 10000 step: 1 } }\n}\n"
      "command { argv: \"sh\" argv: \"-c\" argv: \"echo epoch,score > metrics.csv; "
      "echo 1,$(( {b} * 10 + 7 )) >> metrics.csv\" }\nclaim { trials_per_job: 3 }\n");
  ASSERT_EQ(s.RunTrial().exit_code, 0);
  auto counts = StatusCounts(s.dir);
  EXPECT_EQ(counts["done"], 3);
  EXPECT_EQ(counts["pending"], 1000000000 - 3);

  RunResult csv = Stdout({SWEEP_BIN, "summary", s.dir, "--format", "csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.output;
  EXPECT_EQ(Lines(csv.output), 4) << csv.output;
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(CsvRow(csv.output, TrialName(i) + ",done,1,0," + std::to_string(i) + ",1," +
                                     std::to_string(i * 10 + 7) + ","),
              "")
        << csv.output;
  }
  RunResult table = s.Sweep({"summary", s.dir});
  EXPECT_NE(table.output.find("999999997 of 1000000000 points are pending and not listed"),
            std::string::npos)
      << table.output;
  RunResult report = s.Sweep({"report", s.dir, "-o", s.tmp.path() + "/r.html"});
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_NE(report.output.find("3 claimed trials of 1000000000 points"), std::string::npos)
      << report.output;
  const std::string html = ReadAll(s.tmp.path() + "/r.html");
  EXPECT_EQ(Count(html, "<tr class=\"trial"), 3u);
  EXPECT_NE(html.find("999999997 pending points are not listed"), std::string::npos);
}

TEST(Summary, InitRefusesSweepsOfMoreThan2To32Points) {
  TempDir tmp;
  std::ofstream(tmp.path() + "/spec.textproto")
      << "name: \"too_big\"\ngrid {\n  param { name: \"a\" range { start: 0 stop: 100000 step: 1 } "
         "}\n"
         "  param { name: \"b\" range { start: 0 stop: 100000 step: 1 } }\n}\n"
         "command { argv: \"true\" }\n";
  RunResult r = RunProcess({SWEEP_BIN, "init", tmp.path() + "/spec.textproto", tmp.path() + "/s"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("more than 2^32 points"), std::string::npos) << r.output;
  EXPECT_FALSE(Env::Default()->Exists(tmp.path() + "/s/sweep.textproto"));
}

}  // namespace
}  // namespace claimsweep::testing
