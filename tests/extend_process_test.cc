// `sweep extend` through the real binaries: a refused change changes
// nothing, an accepted one appends points that `trial` runs, and workers
// already running pick them up while the extension races their claims.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "core/sweep_points.h"
#include "proc_sweep.h"

namespace claimsweep::testing {
namespace {

// A sweep of x = 0..points-1 that touches MARKERS/<x>.<attempt> and sleeps.
std::string Grid(int points, const std::string& markers, const std::string& sleep = "0") {
  return Spec(std::to_string(points), "sleep " + sleep + "; touch " + markers + "/{x}.{attempt}",
              "lease_seconds: 6 heartbeat_seconds: 1 trials_per_job: 0");
}

// Markers written: "<x>" -> how many times.
std::map<std::string, int> Markers(const std::string& dir) {
  std::map<std::string, int> m;
  std::vector<std::string> names;
  Env::Default()->ListDir(dir, &names).IgnoreError();
  for (const auto& n : names) m[n.substr(0, n.find('.'))]++;
  return m;
}

std::string WriteSpec(ProcSweep& s, const std::string& name, const std::string& text) {
  const std::string path = s.tmp.path() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ExtendProcess, ALongerRangeAppendsPointsThatTrialRunsAndARefusalChangesNothing) {
  TempDir marks;
  ProcSweep s(Grid(4, marks.path()));
  ASSERT_EQ(s.RunTrial().exit_code, 0);
  ASSERT_EQ(Markers(marks.path()).size(), 4u);

  // A changed point: exit 2, the point named, nothing written.
  std::string changed = Grid(4, marks.path());
  changed.replace(changed.find("start: 0"), 8, "start: 1");
  RunResult r = s.Sweep({"extend", s.dir, WriteSpec(s, "changed.textproto", changed)});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("point 0 (x=0) is not a point of the new spec"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("nothing was changed"), std::string::npos) << r.output;
  EXPECT_FALSE(Env::Default()->Exists(s.dir + "/versions/0002.textproto"));
  // A changed command: exit 2 as well.
  std::string other = Grid(4, marks.path(), "1");
  r = s.Sweep({"extend", s.dir, WriteSpec(s, "other.textproto", other)});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("the command changed"), std::string::npos) << r.output;

  const std::string longer = WriteSpec(s, "longer.textproto", Grid(7, marks.path()));
  r = s.Sweep({"extend", s.dir, longer});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("to version 2: 4 -> 7 points (3 new: 4 to 6)"), std::string::npos)
      << r.output;
  r = s.Sweep({"extend", s.dir, longer});  // again: nothing to do
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("already holds this spec as version 2"), std::string::npos) << r.output;

  r = s.RunTrial();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto m = Markers(marks.path());
  ASSERT_EQ(m.size(), 7u);
  for (const auto& [x, n] : m) EXPECT_EQ(n, 1) << "x=" << x;
  EXPECT_EQ(s.Result(6).params().at("x"), "6");
  EXPECT_EQ(s.Result(6).spec_version(), 2u);
  EXPECT_EQ(s.Result(0).spec_version(), 1u);
  EXPECT_EQ(StatusCounts(s.dir)["done"], 7);
  // Which version each trial ran under, in the summary.
  r = s.Sweep({"summary", s.dir, "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("index,state,attempts,spec_version,x,", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("\n000000,done,1,1,0,"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\n000006,done,1,2,6,"), std::string::npos) << r.output;
  r = s.Sweep({"status", s.dir});
  EXPECT_NE(r.output.find("7 points (spec version 2, extended from 4 points"), std::string::npos)
      << r.output;
  r = s.Sweep({"points", s.dir, "--format", "csv"});
  EXPECT_NE(r.output.find("6,6"), std::string::npos) << r.output;
}

// Four workers claim a 40-point sweep; `sweep extend` to 80 points runs
// while they claim. The workers already running take the new points (no
// restart), and every point of both versions runs exactly once.
TEST(ExtendProcess, RunningWorkersTakeTheNewPointsWhileTheExtensionRacesTheirClaims) {
  TempDir marks;
  ProcSweep s(Grid(40, marks.path(), "0.05"));
  std::vector<Spawned> workers;
  for (int w = 0; w < 4; ++w) workers.push_back(s.StartTrial("w" + std::to_string(w)));
  ASSERT_TRUE(WaitFor([&] { return Markers(marks.path()).size() >= 8; }, 60));
  RunResult r =
      s.Sweep({"extend", s.dir, WriteSpec(s, "longer.textproto", Grid(80, marks.path(), "0.05"))});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const size_t at_extend = Markers(marks.path()).size();
  EXPECT_LT(at_extend, 40u) << "the workers finished before the extension: the test proves nothing";
  int picked_up = 0;
  for (int w = 0; w < 4; ++w) {
    EXPECT_EQ(WaitExit(workers[w].pid), 0);
    const std::string log = ReadAll(s.tmp.path() + "/w" + std::to_string(w) + ".out");
    picked_up +=
        log.find("the sweep was extended to spec version 2: 40 new points") != std::string::npos;
  }
  EXPECT_EQ(picked_up, 4) << "every running worker picks up the new points";
  const auto m = Markers(marks.path());
  EXPECT_EQ(m.size(), 80u);
  for (const auto& [x, n] : m) EXPECT_EQ(n, 1) << "x=" << x;
  EXPECT_EQ(StatusCounts(s.dir)["done"], 80);
}

// Two `sweep extend`s at once, to different specs: one publishes version 2,
// the other is refused (it lost the publish, or it saw the winner's version
// and found its own spec no superset of it); the sweep is the winner's.
TEST(ExtendProcess, TwoExtensionsAtOnceOneWinsWhole) {
  TempDir marks;
  ProcSweep s(Grid(4, marks.path()));
  const std::string a = WriteSpec(s, "a.textproto", Grid(6, marks.path()));
  const std::string b = WriteSpec(s, "b.textproto", Grid(9, marks.path()));
  for (int round = 0; round < 5; ++round) {
    ProcSweep t(Grid(4, marks.path()));
    Spawned pa = Spawn({SWEEP_BIN, "extend", t.dir, a}, {}, t.tmp.path(), t.tmp.path() + "/a.out");
    Spawned pb = Spawn({SWEEP_BIN, "extend", t.dir, b}, {}, t.tmp.path(), t.tmp.path() + "/b.out");
    const int ea = WaitExit(pa.pid), eb = WaitExit(pb.pid);
    const std::string out = ReadAll(t.tmp.path() + "/a.out") + ReadAll(t.tmp.path() + "/b.out");
    EXPECT_TRUE((ea == 0) != (eb == 0) || (ea == 0 && eb == 0)) << out;
    auto ps = ReadSweepPoints(Env::Default(), t.dir);
    ASSERT_OK(ps);
    // b's spec is a superset of a's: b may legally extend a's version 2 to 3.
    if (ea == 0 && eb == 0) {
      EXPECT_EQ(ps->size(), 9u) << out;
    } else {
      EXPECT_EQ(ps->size(), ea == 0 ? 6u : 9u) << out;
      EXPECT_EQ(ps->version(), 2u) << out;
    }
  }
}

}  // namespace
}  // namespace claimsweep::testing
