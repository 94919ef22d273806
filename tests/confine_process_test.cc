// Nothing outside the sweep, ever: the real `trial` and `sweep` binaries on a
// sweep with planted symlinks (a secret file outside the sweep stands in for
// /etc/shadow), FIFOs and stray files. No command reads, writes, moves or
// follows anything outside the tree, none hangs, and the bad trial is shown
// as broken with the reason while everything else keeps working.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "core/spec.h"
#include "proc_sweep.h"
#include "process_util.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

// Every file below `dir` with its contents (directories as "name/").
std::map<std::string, std::string> Tree(const std::string& dir) {
  std::map<std::string, std::string> m;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string rel = e.path().string().substr(dir.size());
    m[rel + (e.is_directory() ? "/" : "")] = e.is_regular_file() ? ReadAll(e.path().string()) : "";
  }
  return m;
}

// `sweep ARGS...` that must finish within 20 s (a FIFO read would block forever).
RunResult SweepWithin(std::vector<std::string> args) {
  args.insert(args.begin(), {"timeout", "-k", "5", "20", SWEEP_BIN});
  return RunProcess(args);
}

void MakeFifo(const std::string& path) {
  std::filesystem::remove(path);
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  ASSERT_EQ(::mkfifo(path.c_str(), 0644), 0) << path;
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ConfineProcess, ASymlinkedTrialDirectoryIsReportedBrokenAndNothingOutsideIsTouched) {
  ProcSweep s(Spec("3", "echo ran {index}", "max_attempts: 3 trials_per_job: 0"));
  // Outside the sweep: what looks like an interrupted trial (a claimer would
  // take it over), plus a secret; trials/000001 links to it, and a released
  // lease entry leads claimers there.
  const std::string out = s.tmp.path() + "/outside";
  std::filesystem::create_directories(out + "/attempt-0001");
  WriteRaw(out + "/attempt-0001/owner.json", "{}");
  WriteRaw(out + "/attempt-0001.released.json", "{\"outcome\":\"interrupted\"}");
  WriteRaw(out + "/secret", "the secret\n");
  ASSERT_EQ(::symlink(out.c_str(), s.layout.trial_dir(1).c_str()), 0);
  WriteRaw(s.layout.lease_path(1, 1) + ".released", "");
  const auto before = Tree(out);

  RunResult t = s.RunTrial();
  EXPECT_EQ(t.exit_code, 0) << t.output;
  EXPECT_TRUE(std::filesystem::exists(s.layout.result_path(0))) << t.output;
  EXPECT_TRUE(std::filesystem::exists(s.layout.result_path(2))) << t.output;
  EXPECT_FALSE(Has(t.output, "claimed trial 000001")) << t.output;
  EXPECT_EQ(Tree(out), before) << "trial ran into the linked directory";

  RunResult st = SweepWithin({"status", s.dir});
  EXPECT_EQ(st.exit_code, 0) << st.output;
  EXPECT_TRUE(Has(st.output, "broken 1")) << st.output;
  EXPECT_TRUE(Has(st.output, "000001  trials/000001 is a symlink (to " + out +
                                 "); claimsweep never follows links inside a sweep"))
      << st.output;
  auto counts = StatusCounts(s.dir);
  EXPECT_EQ(counts["broken"], 1);
  EXPECT_EQ(counts["done"], 2);

  RunResult stop = s.Sweep({"stop", s.dir, "1"});
  EXPECT_EQ(stop.exit_code, 1) << stop.output;
  EXPECT_TRUE(Has(stop.output, "000001: broken: trials/000001 is a symlink")) << stop.output;
  EXPECT_EQ(Tree(out), before) << "stop wrote into the linked directory";

  RunResult reset = s.Sweep({"reset", s.dir, "1"});
  EXPECT_EQ(reset.exit_code, 1) << reset.output;
  EXPECT_TRUE(Has(reset.output, "not reset")) << reset.output;
  EXPECT_EQ(Tree(out), before) << "reset moved files from outside the sweep";
  EXPECT_FALSE(std::filesystem::exists(s.dir + "/archive/000001")) << reset.output;

  RunResult again = s.RunTrial();
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(Tree(out), before);
}

TEST(ConfineProcess, ASymlinkedLogIsNeverEmbeddedInTheReport) {
  ProcSweep s(Spec("2", "echo failing {index}; exit 3", "max_attempts: 1 trials_per_job: 0"));
  RunResult t = s.RunTrial();
  EXPECT_EQ(t.exit_code, 1) << t.output;
  const std::string secret = s.tmp.path() + "/shadow";
  WriteRaw(secret, "root:$6$SECRET-HASH-LINE:19000:0:99999:7:::\n");
  const std::string log = s.layout.log_path(0, 1);
  std::filesystem::remove(log);
  ASSERT_EQ(::symlink(secret.c_str(), log.c_str()), 0);

  const std::string html_path = s.tmp.path() + "/report.html";
  RunResult r = SweepWithin({"report", s.dir, "-o", html_path});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Has(r.output, "1 with problems")) << r.output;
  const std::string html = ReadAll(html_path);
  EXPECT_FALSE(Has(html, "SECRET-HASH-LINE")) << "the report embedded a file outside the sweep";
  EXPECT_TRUE(Has(html, "trials/000000/attempt-0001/log is a symlink"))
      << "the report does not name the problem";
  EXPECT_TRUE(Has(html, "failing 1")) << "the other failed trial's log tail is missing";

  RunResult st = SweepWithin({"status", s.dir});
  EXPECT_EQ(st.exit_code, 0) << st.output;
  EXPECT_TRUE(Has(st.output, "000000  trials/000000/attempt-0001/log is a symlink")) << st.output;
  EXPECT_FALSE(Has(st.output, "SECRET-HASH-LINE"));
}

TEST(ConfineProcess, FifosNeverHangAnyCommandAndMakeTheirTrialsBroken) {
  // 0 done, 1 failed, 2 interrupted (exit 75).
  ProcSweep s(Spec(
      "3", "if [ {index} = 1 ]; then exit 1; fi; if [ {index} = 2 ]; then exit 75; fi; echo ok",
      "max_attempts: 1 trials_per_job: 0"));
  EXPECT_EQ(s.RunTrial().exit_code, 75);
  auto spec = ReadFrozenSpec(Env::Default(), s.dir);
  ASSERT_OK(spec) << spec.status().ToString();
  ASSERT_TRUE(std::filesystem::exists(s.layout.released_path(2, 1)));
  MakeFifo(s.layout.result_path(0));
  MakeFifo(s.layout.log_path(1, 1));
  MakeFifo(MetricsCsvPath(*spec, s.layout, 2));

  RunResult st = SweepWithin({"status", s.dir});
  EXPECT_EQ(st.exit_code, 0) << st.output;
  EXPECT_TRUE(Has(st.output, "000000  trials/000000/result.json is a FIFO, not a regular file"))
      << st.output;
  EXPECT_TRUE(
      Has(st.output, "000001  trials/000001/attempt-0001/log is a FIFO, not a regular file"))
      << st.output;
  EXPECT_TRUE(Has(st.output, "metrics.csv is a FIFO, not a regular file")) << st.output;
  RunResult json = SweepWithin({"status", s.dir, "--format", "json"});
  EXPECT_EQ(json.exit_code, 0) << json.output;
  EXPECT_TRUE(Has(json.output, "\"broken\":3")) << json.output;

  // The summary reads no logs: it names the trials whose records or metrics it refused.
  RunResult sum = SweepWithin({"summary", s.dir});
  EXPECT_EQ(sum.exit_code, 0) << sum.output;
  for (const char* trial : {"trial 000000: ", "trial 000002: "}) {
    EXPECT_TRUE(Has(sum.output, trial)) << trial << " not named:\n" << sum.output;
  }
  EXPECT_TRUE(Has(sum.output, "is a FIFO, not a regular file")) << sum.output;

  RunResult rep = SweepWithin({"report", s.dir, "-o", s.tmp.path() + "/r.html"});
  EXPECT_EQ(rep.exit_code, 0) << rep.output;
  EXPECT_TRUE(Has(rep.output, "3 with problems")) << rep.output;

  // A claimer takes nothing it cannot read and never blocks either.
  RunResult t =
      RunProcess({"timeout", "-k", "5", "20", TRIAL_BIN}, {"SWEEP_DIR=" + s.dir}, s.tmp.path());
  EXPECT_EQ(t.exit_code, 75) << t.output;  // the command exits 75 again; 124/137: it hung
}

TEST(ConfineProcess, AStrayFileInTrialsIsABrokenTrialNotAFailedStatus) {
  ProcSweep s(Spec("3", "echo ok", "trials_per_job: 0"));
  WriteRaw(s.layout.trial_dir(1), "stray");
  WriteRaw(s.layout.trials_dir() + "/README", "notes");
  RunResult t = s.RunTrial();
  EXPECT_EQ(t.exit_code, 0) << t.output;
  EXPECT_TRUE(std::filesystem::exists(s.layout.result_path(2))) << t.output;

  RunResult st = SweepWithin({"status", s.dir});
  EXPECT_EQ(st.exit_code, 0) << st.output;
  EXPECT_TRUE(Has(st.output, "000001  trials/000001 is a regular file, not a directory"))
      << st.output;
  auto counts = StatusCounts(s.dir);
  EXPECT_EQ(counts["broken"], 1);
  EXPECT_EQ(counts["done"], 2);
  EXPECT_EQ(ReadAll(s.layout.trial_dir(1)), "stray");
  // A broken trial does not move until someone fixes it: watch finishes.
  RunResult w = SweepWithin({"status", s.dir, "--watch", "--interval", "0.2"});
  EXPECT_EQ(w.exit_code, 0) << w.output;
  EXPECT_TRUE(Has(w.output, "broken 1 (sweep status says why)")) << w.output;
}

}  // namespace
}  // namespace claimsweep::testing
