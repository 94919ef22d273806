// The JSON `sweep` prints (status, points, summary; output.proto through
// protobuf's printer), read back as JSON: the keys, exact numbers, null for
// what JSON lacks, and the same bytes from two runs.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "proc_sweep.h"
#include "process_util.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

// `sweep ARGS...`'s stdout alone.
std::string SweepStdout(const std::vector<std::string>& args) {
  std::string cmd = std::string("'") + SWEEP_BIN + "' ";
  for (const auto& a : args) cmd += "'" + a + "' ";
  RunResult r = RunProcess({"sh", "-c", cmd + "2>/dev/null"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.output;
}

template <typename M>
M Parse(const std::string& text) {
  M m;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &m).ok()) << text;
  return m;
}

std::set<std::string> Keys(const Struct& s) {
  std::set<std::string> k;
  for (const auto& [name, v] : s.fields()) k.insert(name);
  return k;
}

// Where each of `keys` is in `line`: increasing when they come in that order.
bool InOrder(const std::string& line, const std::vector<std::string>& keys) {
  size_t at = 0;
  for (const auto& k : keys) {
    const size_t p = line.find("\"" + k + "\":", at);
    if (p == std::string::npos) return false;
    at = p;
  }
  return true;
}

TEST(JsonOutput, SummaryCarriesExactNumbersNullsAndTheCsvColumnsInOrder) {
  ProcSweep s(
      Spec("2",
           "echo epoch,sum,tiny,big,giga,bad,huge > metrics.csv; "
           "echo 1,0.30000000000000004,1e-300,9007199254740992,1000000000,nan,inf >> metrics.csv",
           "trials_per_job: 0"));
  ASSERT_EQ(s.RunTrial().exit_code, 0);
  const std::string json = SweepStdout({"summary", s.dir, "--format", "json"});
  EXPECT_EQ(SweepStdout({"summary", s.dir, "--format", "json"}), json);  // the same bytes
  const ListValue rows = Parse<ListValue>(json);
  ASSERT_EQ(rows.values_size(), 2) << json;
  const Struct& row = rows.values(1).struct_value();
  EXPECT_EQ(row.fields().at("index").number_value(), 1);
  EXPECT_EQ(row.fields().at("x").string_value(), "1");  // parameters are text
  EXPECT_EQ(row.fields().at("sum").number_value(), 0.1 + 0.2);
  EXPECT_EQ(row.fields().at("tiny").number_value(), 1e-300);
  EXPECT_EQ(row.fields().at("big").number_value(), 9007199254740992.0);
  EXPECT_EQ(row.fields().at("giga").number_value(), 1e9);
  EXPECT_EQ(row.fields().at("bad").kind_case(), Value::kNullValue) << json;   // NaN
  EXPECT_EQ(row.fields().at("huge").kind_case(), Value::kNullValue) << json;  // infinity
  EXPECT_NE(json.find("\"giga\":1000000000,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"sum\":0.30000000000000004,"), std::string::npos) << json;
  // The keys are the csv's columns, in its order, one row a line.
  const std::string csv = SweepStdout({"summary", s.dir, "--format", "csv"});
  std::vector<std::string> header;
  for (size_t a = 0, b; a < csv.find('\n'); a = b + 1) {
    b = std::min(csv.find(',', a), csv.find('\n'));
    header.push_back(csv.substr(a, b - a));
  }
  EXPECT_EQ(Keys(row), std::set<std::string>(header.begin(), header.end()));
  EXPECT_EQ(json.rfind("[\n  {\"index\":0,\"state\":\"done\",", 0), 0u) << json;
  const std::string line2 = json.substr(json.find("\n  {\"index\":1,"));
  EXPECT_TRUE(InOrder(line2.substr(0, line2.find('\n', 1)), header)) << json;
}

TEST(JsonOutput, StatusHasEveryCountAndEveryBrokenTrial) {
  ProcSweep s(Spec("3", "true", "trials_per_job: 0"));
  ASSERT_EQ(s.RunTrial().exit_code, 0);
  // A directory where result.json belongs: trial 1 is broken.
  ASSERT_EQ(::rename(s.layout.result_path(1).c_str(), (s.tmp.path() + "/moved").c_str()), 0);
  ASSERT_EQ(::mkdir(s.layout.result_path(1).c_str(), 0755), 0);
  const std::string json = SweepStdout({"status", s.dir, "--format", "json"});
  EXPECT_EQ(SweepStdout({"status", s.dir, "--format", "json"}), json);
  const Struct st = Parse<Struct>(json);
  EXPECT_EQ(Keys(st), (std::set<std::string>{"total", "pending", "running", "interrupted", "stale",
                                             "done", "failed", "stopped", "broken", "blocked",
                                             "logs", "broken_trials", "stages"}))
      << json;
  EXPECT_EQ(st.fields().at("total").number_value(), 3);
  EXPECT_EQ(st.fields().at("done").number_value(), 2);
  EXPECT_EQ(st.fields().at("broken").number_value(), 1);
  ASSERT_EQ(st.fields().at("broken_trials").list_value().values_size(), 1) << json;
  const Struct& b = st.fields().at("broken_trials").list_value().values(0).struct_value();
  EXPECT_EQ(Keys(b), (std::set<std::string>{"index", "problem"}));
  EXPECT_EQ(b.fields().at("index").number_value(), 1);
  EXPECT_NE(b.fields().at("problem").string_value().find("result.json"), std::string::npos) << json;
  EXPECT_EQ(st.fields().at("logs").list_value().values_size(), 0);
  EXPECT_EQ(json.back(), '\n');
  EXPECT_EQ(std::count(json.begin(), json.end(), '\n'), 1) << json;  // one line
}

TEST(JsonOutput, PointsAreOneObjectALineInSpecOrder) {
  ProcSweep s(
      "name: \"p\"\nseed: 3\ngrid {\n  param { name: \"lr\" values: \"0.1\" values: \"0.01\" }\n"
      "  param { name: \"depth\" range { start: 4 stop: 16 step: 4 } }\n}\n"
      "random {\n  samples: 2\n  param { name: \"wd\" log_uniform { low: 1e-5 high: 1e-2 } }\n}\n"
      "command { argv: \"true\" }\n");
  const std::string json = SweepStdout({"points", s.dir, "--format", "json"});
  EXPECT_EQ(SweepStdout({"points", s.dir, "--format", "json"}), json);
  const ListValue points = Parse<ListValue>(json);
  ASSERT_EQ(points.values_size(), 12) << json;
  EXPECT_EQ(std::count(json.begin(), json.end(), '\n'), 14) << json;  // [, 12 points, ]
  for (int i = 0; i < points.values_size(); ++i) {
    const Struct& p = points.values(i).struct_value();
    EXPECT_EQ(Keys(p), (std::set<std::string>{"index", "lr", "depth", "wd"}));
    EXPECT_EQ(p.fields().at("index").number_value(), i);
    EXPECT_EQ(p.fields().at("wd").kind_case(),
              Value::kStringValue);  // values are text, as in the spec
  }
  EXPECT_NE(json.find("\n  {\"index\":5,\"lr\":\"0.1\",\"depth\":\"12\",\"wd\":\""),
            std::string::npos)
      << json;
}

}  // namespace
}  // namespace claimsweep::testing
