// trial's log, from the real binary: one format on stderr and in the attempt
// log (UTC to the millisecond, the level), CLAIMSWEEP_LOG_LEVEL, and lines
// that are on disk as soon as they are logged.
#include <gtest/gtest.h>
#include <signal.h>

#include <ctime>
#include <regex>
#include <sstream>
#include <vector>

#include "proc_sweep.h"
#include "process_util.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

// "[2026-12-01T12:00:00.123Z] [info] message"
const std::regex kLine(
    R"(\[(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.\d{3}Z\] \[(trace|debug|info|warn|error)\] \S.*)");

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// Seconds between the line's timestamp, read as UTC, and now.
double AgeSeconds(const std::string& line) {
  std::smatch m;
  if (!std::regex_match(line, m, kLine)) return 1e9;
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  return std::difftime(std::time(nullptr), ::timegm(&tm));
}

RunResult RunTrial(ProcSweep& s, std::vector<std::string> env = {}) {
  env.push_back("SWEEP_DIR=" + s.dir);
  return RunProcess({TRIAL_BIN}, env, s.tmp.path());
}

// Every line trial writes, on stderr and in the attempt log, is
// "[UTC time with ms and Z] [level] message", whatever the local time zone;
// the command's own output stays raw.
TEST(TrialLog, OneFormatOnStderrAndInTheAttemptLogInUtc) {
  ProcSweep s(Spec("2", "exit {x}", "trials_per_job: 0 max_attempts: 1"));
  // Far from UTC, with a 45-minute offset (a POSIX TZ: no tzdata needed).
  RunResult r = RunTrial(s, {"TZ=NPT-5:45"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  const std::vector<std::string> lines = Lines(r.output);
  ASSERT_GE(lines.size(), 4u) << r.output;  // two claims, done, failed, no more work
  for (const std::string& l : lines) {
    EXPECT_TRUE(std::regex_match(l, kLine)) << "not in the log format: " << l;
    EXPECT_LT(std::abs(AgeSeconds(l)), 120) << "not UTC: " << l;
  }
  EXPECT_NE(r.output.find("] [info] claimed trial 000000 attempt 1\n"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("] [error] trial 000001 attempt 1: failed (exited with status 1)"),
            std::string::npos)
      << r.output;

  // The attempt log: trial's header in the same format, the command's own
  // output (a missing program, reported by trial's guardian) too.
  ProcSweep t(
      Spec("1", "echo raw output; exec /nonexistent/prog", "trials_per_job: 0 max_attempts: 1"));
  RunResult u = RunTrial(t, {"TZ=NPT-5:45"});
  EXPECT_EQ(u.exit_code, 1) << u.output;
  const std::vector<std::string> log = Lines(ReadAll(t.layout.log_path(0, 1)));
  ASSERT_EQ(log.size(), 3u) << ReadAll(t.layout.log_path(0, 1));
  EXPECT_TRUE(std::regex_match(log[0], kLine)) << log[0];
  EXPECT_NE(log[0].find("] [info] # claimsweep: trial 000000 attempt 1 on "), std::string::npos)
      << log[0];
  EXPECT_LT(std::abs(AgeSeconds(log[0])), 120) << "not UTC: " << log[0];
  EXPECT_EQ(log[1], "raw output") << "the command's output is copied raw";
}

// The guardian's own line (the command could not be started) matches the
// format, in the attempt log and on stdout.
TEST(TrialLog, TheGuardiansLineMatchesTheFormat) {
  ProcSweep s(
      "name: \"t\"\ngrid { param { name: \"x\" values: \"a\" } }\ncommand { argv: "
      "\"/nonexistent/prog\" }\n"
      "claim { trials_per_job: 0 max_attempts: 1 }\n");
  RunResult r = RunTrial(s);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  const std::vector<std::string> log = Lines(ReadAll(s.layout.log_path(0, 1)));
  ASSERT_EQ(log.size(), 2u) << ReadAll(s.layout.log_path(0, 1));
  EXPECT_TRUE(std::regex_match(log[1], kLine)) << log[1];
  EXPECT_NE(log[1].find("] [error] cannot run '/nonexistent/prog': "), std::string::npos) << log[1];
  EXPECT_LT(std::abs(AgeSeconds(log[1])), 120) << "not UTC: " << log[1];
  EXPECT_NE(r.output.find(log[1] + "\n"), std::string::npos) << r.output;
}

TEST(TrialLog, DebugShowsClaimStatisticsWarnHidesInfo) {
  ProcSweep s(Spec("2", "true", "trials_per_job: 0"));
  RunResult debug = RunTrial(s, {"CLAIMSWEEP_LOG_LEVEL=debug"});
  EXPECT_EQ(debug.exit_code, 0) << debug.output;
  EXPECT_NE(debug.output.find("] [debug] claim: trial 000000; so far "), std::string::npos)
      << debug.output;
  EXPECT_NE(debug.output.find("] [info] claimed trial 000001 attempt 1\n"), std::string::npos)
      << debug.output;

  RunResult info = RunTrial(s);
  EXPECT_EQ(info.exit_code, 0) << info.output;
  EXPECT_EQ(info.output.find("[debug]"), std::string::npos) << "debug lines by default:\n"
                                                            << info.output;
  EXPECT_NE(info.output.find("] [info] nothing to claim in "), std::string::npos) << info.output;

  RunResult warn = RunTrial(s, {"CLAIMSWEEP_LOG_LEVEL=warn"});
  EXPECT_EQ(warn.exit_code, 0) << warn.output;
  EXPECT_EQ(warn.output, "") << "info lines at level warn";

  // A failure is an error: shown at warn and at error, not at off.
  ProcSweep f(Spec("1", "exit 3", "trials_per_job: 0 max_attempts: 1"));
  RunResult err = RunTrial(f, {"CLAIMSWEEP_LOG_LEVEL=error"});
  EXPECT_EQ(err.exit_code, 1) << err.output;
  ASSERT_EQ(Lines(err.output).size(), 1u) << err.output;
  EXPECT_NE(err.output.find("] [error] trial 000000 attempt 1: failed (exited with status 3)"),
            std::string::npos)
      << err.output;
  RunResult off = RunProcess({TRIAL_BIN, "unexpected-argument"}, {"CLAIMSWEEP_LOG_LEVEL=off"});
  EXPECT_EQ(off.exit_code, 2);
  EXPECT_EQ(off.output, "") << "lines at level off";
}

// An unknown level: one warning naming the variable, the value and the
// accepted names; then trial runs at info.
TEST(TrialLog, AnUnknownLevelWarnsOnceAndRunsAtInfo) {
  ProcSweep s(Spec("1", "true", "trials_per_job: 0"));
  RunResult r = RunTrial(s, {"CLAIMSWEEP_LOG_LEVEL=verbose"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const std::vector<std::string> lines = Lines(r.output);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(
      lines[0].find(
          "] [warn] CLAIMSWEEP_LOG_LEVEL=verbose is not a level (trace, debug, info, warn, error, "
          "off); logging at info"),
      std::string::npos)
      << r.output;
  EXPECT_EQ(Count(r.output, "CLAIMSWEEP_LOG_LEVEL"), 1u) << r.output;
  EXPECT_NE(r.output.find("] [info] claimed trial 000000 attempt 1\n"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("[debug]"), std::string::npos) << r.output;
}

// A line is in the attempt log as soon as it is logged, not at exit: the
// heartbeats (debug) of a running attempt are there while it runs, complete,
// and stay after kill -9; each is the line trial wrote to stderr.
TEST(TrialLog, AttemptLogLinesAreOnDiskAsLoggedAndSurviveKill9) {
  ProcSweep s(
      Spec("1", "exec sleep 60", "lease_seconds: 30 heartbeat_seconds: 0.1 trials_per_job: 1"));
  Spawned t = s.StartTrial("a", {"CLAIMSWEEP_LOG_LEVEL=debug"});
  const std::string log_path = s.layout.log_path(0, 1);
  const bool beats = WaitFor(
      [&] {
        return Count(ReadAll(log_path), "] [debug] heartbeat: trial 000000 attempt 1\n") >= 2;
      },
      20);
  ::kill(t.pid, SIGKILL);
  EXPECT_EQ(WaitExit(t.pid), 128 + SIGKILL);
  ASSERT_TRUE(beats) << "no heartbeat lines in the attempt log while it ran:\n"
                     << ReadAll(log_path);
  const std::string log = ReadAll(log_path);
  const std::string err = ReadAll(t.output_path);
  ASSERT_EQ(log.back(), '\n') << "a torn last line:\n" << log;
  size_t shared = 0;
  for (const std::string& l : Lines(log)) {
    EXPECT_TRUE(std::regex_match(l, kLine)) << l;
    if (l.find("] [debug] heartbeat: ") != std::string::npos) {
      EXPECT_NE(err.find(l + "\n"), std::string::npos)
          << "not on stderr as in the attempt log: " << l;
      ++shared;
    }
  }
  EXPECT_GE(shared, 2u);
}

}  // namespace
}  // namespace claimsweep::testing
