// Where a command's files go and what the sweep's own files guarantee, with
// the real `trial` and `sweep` binaries: the command works in trials/<i>/work
// (spec format_version 2), so nothing it writes can change its trial's
// state; sweeps frozen with format_version 1 keep their old layout; an edited
// frozen spec is refused by everything that reads it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "core/json.h"
#include "core/layout.h"
#include "proc_sweep.h"
#include "process_util.h"
#include "records.pb.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

bool Exists(const std::string& p) { return Env::Default()->Exists(p); }

// A TrialResult that looks like claimsweep's own commit of trial 0.
std::string ValidLookingResult() {
  TrialResult r;
  r.set_format_version(1);
  r.set_index(0);
  r.set_attempt(1);
  r.set_outcome("done");
  return ToJson(r);
}

// Both kinds of planted result.json: the trial is retried, and is failed
// after max_attempts, never done.
TEST(WorkDir, ACommandThatWritesResultJsonAndExitsOneIsRetriedThenFailed) {
  for (const std::string& planted : {std::string("garbage\n"), ValidLookingResult()}) {
    SCOPED_TRACE("the command writes: " + planted);
    ProcSweep s(Spec(
        "1", "echo {attempt} >> {sweep_dir}/ran.log; cp {sweep_dir}/../planted result.json; exit 1",
        "max_attempts: 2 trials_per_job: 0"));
    WriteRaw(s.tmp.path() + "/planted", planted);
    RunResult r = s.RunTrial();
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("attempt 2"), std::string::npos) << r.output;
    EXPECT_EQ(ReadAll(s.dir + "/ran.log"), "1\n2\n");  // attempt 2 ran
    EXPECT_TRUE(Exists(s.layout.failed_path(0, 1)));
    EXPECT_TRUE(Exists(s.layout.failed_path(0, 2)));
    EXPECT_FALSE(Exists(s.layout.result_path(0)));
    EXPECT_EQ(ReadAll(s.layout.work_dir(0) + "/result.json"), planted);
    auto counts = StatusCounts(s.dir);
    EXPECT_EQ(counts["failed"], 1);
    EXPECT_EQ(counts["done"], 0);
  }
}

// The pid of `parent`'s (only) child process, or -1.
pid_t ChildOf(pid_t parent) {
  std::string cmd = "pgrep -P " + std::to_string(parent);
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  long pid = -1;
  if (std::fscanf(p, "%ld", &pid) != 1) pid = -1;
  ::pclose(p);
  return static_cast<pid_t>(pid);
}

// Attempt 1 writes result.json and hangs; a later attempt checks that the
// work directory (and so the command's own state) carried over.
const char* kPlantThenHang =
    "if [ {attempt} = 1 ]; then echo done > result.json; exec sleep 60; fi; test -f result.json";

TEST(WorkDir, ACommandKilledAfterWritingResultJsonLeavesItsTrialInterrupted) {
  ProcSweep s(Spec("1", kPlantThenHang, "max_attempts: 3 trials_per_job: 1"));
  Spawned t = s.StartTrial("t");
  ASSERT_TRUE(WaitFor([&] { return Exists(s.layout.work_dir(0) + "/result.json"); }, 10));
  const pid_t command = ChildOf(t.pid);
  ASSERT_GT(command, 0);
  ::kill(command, SIGKILL);  // the command alone (OOM killer, a crash)
  EXPECT_EQ(WaitExit(t.pid), 1) << ReadAll(t.output_path);
  EXPECT_FALSE(Exists(s.layout.result_path(0)));
  EXPECT_TRUE(Exists(s.layout.failed_path(0, 1)));
  EXPECT_EQ(StatusCounts(s.dir)["interrupted"], 1);

  RunResult again = s.RunTrial();
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("attempt 2 (was interrupted)"), std::string::npos) << again.output;
  EXPECT_EQ(s.Result(0).attempt(), 2u);
}

TEST(WorkDir, ATrialKilledAfterItsCommandWroteResultJsonGoesStale) {
  ProcSweep s(
      Spec("1", kPlantThenHang, "lease_seconds: 2 heartbeat_seconds: 0.4 trials_per_job: 1"));
  Spawned t = s.StartTrial("t");
  ASSERT_TRUE(WaitFor([&] { return Exists(s.layout.work_dir(0) + "/result.json"); }, 10));
  const pid_t command = ChildOf(t.pid);
  ::kill(t.pid, SIGKILL);  // `trial` alone: its heartbeat stops, the command lingers
  EXPECT_EQ(WaitExit(t.pid), 128 + SIGKILL);
  EXPECT_NE(StatusCounts(s.dir)["done"], 1);
  ASSERT_TRUE(WaitFor([&] { return StatusCounts(s.dir)["stale"] == 1; }, 10));
  if (command > 0) ::kill(command, SIGKILL);
  EXPECT_FALSE(Exists(s.layout.result_path(0)));

  RunResult again = s.RunTrial();
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("attempt 2 (was stale)"), std::string::npos) << again.output;
  EXPECT_EQ(s.Result(0).attempt(), 2u);
}

TEST(WorkDir, TheCommandRunsInTheWorkDirWhichIsItsTrialDirPlaceholder) {
  ProcSweep s(Spec("1",
                   "echo {trial_dir} > seen; echo $SWEEP_TRIAL_DIR >> seen; pwd -P >> seen; "
                   "printf 'epoch,loss\\\\n1,0.5\\\\n' > metrics.csv",
                   "trials_per_job: 1"));
  RunResult r = s.RunTrial();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string work = s.layout.work_dir(0);
  char real[PATH_MAX];
  ASSERT_NE(::realpath(work.c_str(), real), nullptr);
  EXPECT_EQ(ReadAll(work + "/seen"), work + "\n" + work + "\n" + std::string(real) + "\n");
  EXPECT_EQ(s.List(s.layout.trial_dir(0)),
            (std::vector<std::string>{"attempt-0001", "result.json", "work"}));
  EXPECT_EQ(s.Result(0).metrics().fields().at("loss").number_value(), 0.5);
}

// A work/ that someone replaced with a symlink is not entered (the command
// would write wherever it points): the trial is broken, never claimed (no
// attempt is spent on it), and `sweep status` names the entry.
TEST(WorkDir, ASymlinkedWorkDirIsRefusedAndTheCommandDoesNotRun) {
  ProcSweep s(Spec("1", "echo ran > mine; [ {attempt} -gt 1 ] || exit 75", "trials_per_job: 1"));
  ASSERT_EQ(s.RunTrial().exit_code, 75);  // attempt 1 made work/ and was interrupted
  const std::string elsewhere = s.tmp.path() + "/elsewhere";
  ASSERT_EQ(::mkdir(elsewhere.c_str(), 0755), 0);
  ASSERT_EQ(::rename(s.layout.work_dir(0).c_str(), (s.tmp.path() + "/old-work").c_str()), 0);
  ASSERT_EQ(::symlink(elsewhere.c_str(), s.layout.work_dir(0).c_str()), 0);
  RunResult r = s.RunTrial();
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("nothing to claim"), std::string::npos) << r.output;
  EXPECT_TRUE(s.List(elsewhere).empty());
  EXPECT_FALSE(s.AttemptExists(0, 2));
  EXPECT_FALSE(Exists(s.layout.result_path(0)));
  RunResult st = s.Sweep({"status", s.dir});
  EXPECT_NE(st.output.find("trials/000000/work is a symlink"), std::string::npos) << st.output;
  EXPECT_NE(st.output.find("broken 1"), std::string::npos) << st.output;
}

// A sweep frozen by an earlier claimsweep: its spec says format_version 1
// and it has no digest. Its commands keep running in trials/<i>/ and what
// they wrote there is read back.
TEST(WorkDir, ASweepOfFormatVersionOneKeepsItsCommandsInTheTrialDirectory) {
  ProcSweep s(
      Spec("2",
           "echo {trial_dir} > seen; printf 'epoch,loss\\\\n1,0.{index}5\\\\n' > metrics.csv; "
           "[ {index} = 0 ] || exit 75",
           "trials_per_job: 0"));
  std::string frozen = ReadAll(s.layout.spec_path());
  const size_t at = frozen.find("format_version: 3");
  ASSERT_NE(at, std::string::npos) << frozen;
  frozen.replace(at, 17, "format_version: 1");
  WriteRaw(s.layout.spec_path(), frozen);
  ASSERT_EQ(::unlink(s.layout.spec_digest_path().c_str()), 0);

  RunResult r = s.RunTrial();
  EXPECT_EQ(r.exit_code, 75) << r.output;  // trial 0 done, trial 1 interrupted
  EXPECT_EQ(ReadAll(s.layout.trial_dir(0) + "/seen"), s.layout.trial_dir(0) + "\n");
  EXPECT_FALSE(Exists(s.layout.work_dir(0)));
  EXPECT_EQ(s.Result(0).metrics().fields().at("loss").number_value(), 0.05);
  // The interrupted trial's progress comes from its metrics.csv, where v1 keeps it.
  RunResult sum = s.Sweep({"summary", s.dir, "--format", "csv"});
  EXPECT_EQ(sum.exit_code, 0) << sum.output;
  EXPECT_NE(sum.output.find("0.15"), std::string::npos) << sum.output;
  EXPECT_NE(sum.output.find("0.05"), std::string::npos) << sum.output;
}

// The same for format_version 2: the loader reads metrics.csv from work/.
TEST(WorkDir, AnInterruptedTrialsMetricsAreReadFromItsWorkDir) {
  ProcSweep s(
      Spec("1", "printf 'epoch,loss\\\\n1,0.75\\\\n' > metrics.csv; exit 75", "trials_per_job: 1"));
  EXPECT_EQ(s.RunTrial().exit_code, 75);
  EXPECT_TRUE(Exists(s.layout.work_dir(0) + "/metrics.csv"));
  RunResult sum = s.Sweep({"summary", s.dir, "--format", "csv"});
  EXPECT_EQ(sum.exit_code, 0) << sum.output;
  EXPECT_NE(sum.output.find("0.75"), std::string::npos) << sum.output;
}

// `sweep reset` archives work/ with the rest: the next attempt 1 starts clean.
TEST(WorkDir, ResetArchivesTheWorkDir) {
  ProcSweep s(Spec("1", "test ! -f mine; echo x > mine", "trials_per_job: 1"));
  ASSERT_EQ(s.RunTrial().exit_code, 0);
  RunResult reset = s.Sweep({"reset", s.dir, "0"});
  ASSERT_EQ(reset.exit_code, 0) << reset.output;
  EXPECT_FALSE(Exists(s.layout.work_dir(0)));
  std::vector<std::string> archived = s.List(s.dir + "/archive");
  ASSERT_EQ(archived.size(), 1u);
  EXPECT_EQ(ReadAll(s.dir + "/archive/" + archived[0] + "/work/mine"), "x\n");
  RunResult r = s.RunTrial();
  EXPECT_EQ(r.exit_code, 0) << r.output;  // `test ! -f mine` held: a fresh work dir
  EXPECT_EQ(StatusCounts(s.dir)["done"], 1);
}

// Every reader refuses an edited frozen spec, naming both files and what to
// do instead; `trial` claims nothing.
TEST(SpecDigest, AnEditedFrozenSpecIsRefusedByTrialAndEveryReader) {
  ProcSweep s(Spec("2", "true", "trials_per_job: 0"));
  const std::string original = ReadAll(s.layout.spec_path());
  std::string changed_value = original;
  const size_t at = changed_value.find("max_attempts: 3");
  ASSERT_NE(at, std::string::npos) << original;
  changed_value.replace(at, 15, "max_attempts: 4");
  std::string older_version = original;
  older_version.replace(older_version.find("format_version: 3"), 17, "format_version: 1");
  const std::string report = s.tmp.path() + "/r.html";
  for (const std::string& edited : {changed_value, original + "# a comment\n", older_version}) {
    SCOPED_TRACE(edited);
    WriteRaw(s.layout.spec_path(), edited);
    const std::string want =
        s.layout.spec_path() + " was changed after `sweep init` (its SHA-256 no longer matches " +
        s.layout.spec_digest_path() +
        "): the sweep's points depend on it, so it must not be "
        "edited; restore it, or grow the sweep with `sweep extend`, which keeps every point, or "
        "start a new sweep";
    RunResult t = s.RunTrial();
    EXPECT_EQ(t.exit_code, 2) << t.output;
    EXPECT_NE(t.output.find(want), std::string::npos) << t.output;
    EXPECT_TRUE(s.List(s.layout.trials_dir()).empty());
    EXPECT_TRUE(s.List(s.layout.leases_dir()).empty());
    for (std::vector<std::string> args :
         std::vector<std::vector<std::string>>{{"status", s.dir},
                                               {"summary", s.dir},
                                               {"report", s.dir, "-o", report},
                                               {"stop", s.dir, "0"},
                                               {"points", s.dir}}) {
      RunResult r = s.Sweep(args);
      EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.output;
      EXPECT_NE(r.output.find(want), std::string::npos) << args[0] << ": " << r.output;
    }
    EXPECT_TRUE(s.List(s.layout.trials_dir()).empty());  // `stop` wrote nothing
  }
  WriteRaw(s.layout.spec_path(), original);
  RunResult ok = s.RunTrial();
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(StatusCounts(s.dir)["done"], 2);
}

TEST(SpecDigest, AVersionTwoSweepWithoutItsDigestIsRefused) {
  ProcSweep s(Spec("1", "true", ""));
  ASSERT_EQ(::unlink(s.layout.spec_digest_path().c_str()), 0);
  RunResult t = s.RunTrial();
  EXPECT_EQ(t.exit_code, 2) << t.output;
  EXPECT_NE(t.output.find(s.layout.spec_digest_path() + " is missing"), std::string::npos)
      << t.output;
  EXPECT_TRUE(s.List(s.layout.trials_dir()).empty());
  RunResult st = s.Sweep({"status", s.dir});
  EXPECT_EQ(st.exit_code, 2) << st.output;
}

// The digest file is what `sha256sum` computes, so it can be checked by hand.
TEST(SpecDigest, InitRecordsTheFrozenSpecsSha256) {
  ProcSweep s(Spec("1", "true", ""));
  RunResult sum = RunProcess({"sha256sum", s.layout.spec_path()});
  ASSERT_EQ(sum.exit_code, 0) << sum.output;
  const std::string hex = sum.output.substr(0, 64);
  EXPECT_EQ(ReadAll(s.layout.spec_digest_path()), "sha256 " + hex + "  sweep.textproto\n");
}

}  // namespace
}  // namespace claimsweep::testing
