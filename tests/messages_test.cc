// What `trial` and `sweep` say: control characters from sweep values never
// reach the terminal raw (csv and json stay exact), and the messages say
// what the user needs to know (every path a umask made unsafe, which leases
// still hold trials and until when).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <regex>

#include "proc_sweep.h"
#include "process_util.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

// Values with a newline, an escape sequence (clear screen) and DEL.
const char kHostileSpec[] =
    "name: \"t\"\n"
    "grid { param { name: \"tag\" values: \"a\\nb\" values: \"c\\x1b[2Jd\" values: \"e\\x7f\" } }\n"
    "command { argv: \"{tag}\" }\n"
    "claim { trials_per_job: 0 max_attempts: 1 }\n";

bool HasRawControl(const std::string& s) {
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\n') || c == 0x7f) return true;
  }
  return false;
}

// The sweep's name is the spec's too: it never reaches the terminal raw.
TEST(TerminalOutput, TheSweepNameIsEscapedInInitAndStatus) {
  TempDir tmp;
  WriteRaw(tmp.path() + "/spec.textproto",
           "name: \"n\\033[31mX\\nY\"\ngrid { param { name: \"x\" values: \"a\" } }\ncommand { "
           "argv: \"true\" }\n");
  RunResult init =
      RunProcess({SWEEP_BIN, "init", tmp.path() + "/spec.textproto", tmp.path() + "/s"});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  EXPECT_FALSE(HasRawControl(init.output)) << init.output;
  EXPECT_NE(init.output.find("n\\x1b[31mX\\nY"), std::string::npos) << init.output;
  RunResult st = RunProcess({SWEEP_BIN, "status", tmp.path() + "/s"});
  EXPECT_FALSE(HasRawControl(st.output)) << st.output;
}

TEST(TerminalOutput, TablesShowControlCharactersEscapedAndCsvJsonKeepThemExact) {
  ProcSweep s(kHostileSpec);
  RunResult table = s.Sweep({"points", s.dir});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("a\\nb"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("c\\x1b[2Jd"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("e\\x7f"), std::string::npos) << table.output;
  EXPECT_FALSE(HasRawControl(table.output)) << table.output;
  EXPECT_EQ(std::count(table.output.begin(), table.output.end(), '\n'), 5)
      << table.output;  // header, rule, 3 rows

  RunResult csv = s.Sweep({"points", s.dir, "--format", "csv"});
  EXPECT_EQ(csv.output, "index,tag\n0,\"a\nb\"\n1,c\x1b[2Jd\n2,e\x7f\n");
  RunResult json = s.Sweep({"points", s.dir, "--format", "json"});
  EXPECT_NE(json.output.find("\"tag\":\"a\\nb\""), std::string::npos) << json.output;
  EXPECT_NE(json.output.find("\"tag\":\"c\\u001b[2Jd\""), std::string::npos) << json.output;

  // trial's own messages: the value is the program it cannot run.
  RunResult t = s.RunTrial();
  EXPECT_EQ(t.exit_code, 1) << t.output;
  EXPECT_NE(t.output.find("cannot run 'a\\nb'"), std::string::npos) << t.output;
  EXPECT_NE(t.output.find("cannot run 'c\\x1b[2Jd'"), std::string::npos) << t.output;
  EXPECT_FALSE(HasRawControl(t.output)) << t.output;
  EXPECT_NE(ReadAll(s.layout.log_path(0, 1)).find("cannot run 'a\\nb'"), std::string::npos);

  RunResult status = s.Sweep({"status", s.dir});
  EXPECT_NE(status.output.find("a\\nb"), std::string::npos) << status.output;
  EXPECT_FALSE(HasRawControl(status.output)) << status.output;
  RunResult summary = s.Sweep({"summary", s.dir});
  EXPECT_FALSE(HasRawControl(summary.output)) << summary.output;
  RunResult summary_md = s.Sweep({"summary", s.dir, "--format", "markdown"});
  EXPECT_FALSE(HasRawControl(summary_md.output)) << summary_md.output;
  EXPECT_NE(summary_md.output.find("a\\nb"), std::string::npos) << summary_md.output;
  RunResult summary_csv = s.Sweep({"summary", s.dir, "--format", "csv"});
  EXPECT_NE(summary_csv.output.find("\"a\nb\""), std::string::npos) << summary_csv.output;
}

TEST(UmaskWarning, InitUnderAGroupWritableUmaskNamesEveryAffectedPathAtOnce) {
  TempDir tmp;
  std::ofstream(tmp.path() + "/spec.textproto") << Spec("1", "true", "");
  const mode_t old = ::umask(002);
  RunResult r = RunProcess({SWEEP_BIN, "init", tmp.path() + "/spec.textproto", tmp.path() + "/s"});
  ::umask(old);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  SweepLayout l(tmp.path() + "/s");
  for (const std::string& p :
       {l.root(), l.spec_path(), l.trials_dir(), l.leases_dir(), l.tmp_dir()}) {
    EXPECT_NE(r.output.find("'" + p + "'"), std::string::npos) << p << " missing in: " << r.output;
  }
  EXPECT_NE(r.output.find("umask"), std::string::npos) << r.output;
  // One command fixes them all; afterwards `trial` runs.
  const size_t fix = r.output.find("chmod go-w");
  ASSERT_NE(fix, std::string::npos) << r.output;
  for (const std::string& p :
       {l.root(), l.spec_path(), l.trials_dir(), l.leases_dir(), l.tmp_dir()}) {
    ASSERT_EQ(::chmod(p.c_str(), p == l.spec_path() ? 0644 : 0755), 0);
  }
  EXPECT_EQ(RunProcess({TRIAL_BIN}, {"SWEEP_DIR=" + l.root()}).exit_code, 0);
}

TEST(NoMoreWork, SaysWhichTrialsItWatchesAndWhichOwnersItSawAlive) {
  ProcSweep s(Spec("3", "if [ {attempt} = 1 ] && [ {index} -lt 2 ]; then exec sleep 60; fi",
                   "lease_seconds: 3 heartbeat_seconds: 0.3 trials_per_job: 1"));
  Spawned a = s.StartTrial("a");
  ASSERT_TRUE(WaitFor([&] { return s.AttemptExists(0, 1); }, 10));
  Spawned b = s.StartTrial("b");
  ASSERT_TRUE(WaitFor([&] { return s.AttemptExists(1, 1); }, 10));
  // A's owner dies (its command with it); B's lives on.
  KillNineWithChildren(a.pid);
  WaitExit(a.pid);
  EXPECT_EQ(s.RunTrial().exit_code, 0);  // point 2
  // Nothing new: the next trial says what it watches and for how long at
  // most, then takes the dead one over.
  RunResult r = s.RunTrial();
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("every point is claimed; watching the open trials whose heartbeat has "
                          "not been seen to change; 2 open trials are held"),
            std::string::npos)
      << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("000000 in [0-3] s"))) << r.output;
  EXPECT_NE(r.output.find("trial 000000 attempt 2 (was stale)"), std::string::npos) << r.output;
  // Then only B's trial is open, and its owner is seen alive: no waiting.
  RunResult alive = s.RunTrial();
  EXPECT_EQ(alive.exit_code, 0) << alive.output;
  EXPECT_NE(alive.output.find("nothing to claim"), std::string::npos) << alive.output;
  EXPECT_NE(alive.output.find("1 open trial is held by its owner"), std::string::npos)
      << alive.output;
  KillNineWithChildren(b.pid);
  WaitExit(b.pid);

  // Nothing held: the plain message.
  ProcSweep done(Spec("1", "true", ""));
  EXPECT_EQ(done.RunTrial().exit_code, 0);
  RunResult plain = done.RunTrial();
  EXPECT_NE(plain.output.find("nothing to claim"), std::string::npos) << plain.output;
  EXPECT_EQ(plain.output.find("held by"), std::string::npos) << plain.output;
}

}  // namespace
}  // namespace claimsweep::testing
