// A sweep with early_stopping through the real binaries: `sweep validate`
// describes the rungs, `sweep init` freezes it as format 4, `sweep extend`
// refuses new points for SHA; identical `trial` workers run SHA and ASHA,
// each epoch of each configuration trained once, each promotion made once,
// whatever the arrival order and whoever is killed with SIGKILL.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <string>

#include "core/rungs.h"
#include "proc_sweep.h"

namespace claimsweep::testing {
namespace {

std::string EarlyStoppingSpec(const std::string& xs, bool synchronous) {
  return "name: \"es\"\ngrid { param { name: \"x\" values: " + xs +
         " } }\ncommand { argv: \"sh\" argv: \"-c\" argv: \"echo {x} >> {sweep_dir}/ran.log\" "
         "}\nearly_stopping { asha { metric: \"loss\" min_epochs: 1 max_epochs: 9 reduction: 3 " +
         (synchronous ? "synchronous: true " : "") + "} }\n";
}

TEST(EarlyStoppingProcess, ValidateDescribesTheRungsAndInitMakesTheirQueues) {
  ProcSweep s(EarlyStoppingSpec("\"1\" values: \"2\"", false));
  RunResult v = s.Sweep({"validate", s.tmp.path() + "/spec.textproto"});
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_NE(v.output.find(": ok, 2 points\n  early stopping: ASHA on loss (minimize), rungs 1, "
                          "3, 9 epochs, reduction 3\n"),
            std::string::npos)
      << v.output;
  EXPECT_NE(ReadAll(s.layout.spec_path()).find("format_version: 4"), std::string::npos);

  for (uint32_t k = 1; k <= 2; ++k) {
    EXPECT_TRUE(Env::Default()->Exists(RungQueue(s.layout, k).trials_dir())) << k;
    EXPECT_TRUE(Env::Default()->Exists(RungQueue(s.layout, k).leases_dir())) << k;
  }
  for (uint32_t k = 0; k <= 2; ++k)
    EXPECT_TRUE(Env::Default()->Exists(RungScoresDir(s.layout, k))) << k;
  EXPECT_FALSE(Env::Default()->Exists(RungQueue(s.layout, 3).trials_dir()));
}

TEST(EarlyStoppingProcess, ExtendRefusesNewPointsForSHA) {
  ProcSweep s(EarlyStoppingSpec("\"1\" values: \"2\"", true));
  const std::string next = s.tmp.path() + "/next.textproto";
  std::ofstream(next) << EarlyStoppingSpec("\"1\" values: \"2\" values: \"3\"", true);
  RunResult r = s.Sweep({"extend", s.dir, next});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("synchronous early stopping (SHA)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("nothing was changed"), std::string::npos) << r.output;
  EXPECT_TRUE(s.List(s.dir + "/versions").empty());
}

// A fake trainer in the spec's directory: resumes from the epochs it
// finished (epochs.txt in its work directory), trains to its budget, one
// row of metrics.csv per epoch with val_acc = x/100 + epoch/1000 (exact in
// %.17g), and logs each epoch and each rung's end to DIR/ran.log.
// Args: x, {budget}, seconds per epoch; x = FAIL_X fails at budget FAIL_AT.
constexpr char kTrainer[] = R"SH(#!/bin/sh
set -e
x=$1; budget=$2; delay=$3
if [ "$x" = "$FAIL_X" ] && [ "$budget" = "$FAIL_AT" ]; then exit 3; fi
e=0; [ -f epochs.txt ] && e=$(cat epochs.txt)
[ -f metrics.csv ] || echo "epoch,val_acc" > metrics.csv
while [ "$e" -lt "$budget" ]; do
  e=$((e+1))
  sleep "$delay"
  echo "$e,$(awk "BEGIN{printf \"%.3f\", $x/100 + $e/1000}")" >> metrics.csv
  echo "$e" > epochs.txt
  echo "epoch $x $e" >> "$SWEEP_DIR/ran.log"
done
echo "rung $x $budget $SWEEP_BUDGET" >> "$SWEEP_DIR/ran.log"
)SH";

// 9 configurations x = 0..8 trained by train.sh. `delay`: sh arithmetic
// over x giving the seconds per epoch (in hundredths).
std::string RunSpec(bool synchronous, const std::string& delay_cs, const std::string& claim) {
  return "name: \"es\"\ngrid { param { name: \"x\" range { start: 0 stop: 9 step: 1 } } }\n"
         "command { argv: \"sh\" argv: \"-c\" argv: \"exec {spec_dir}/train.sh {x} {budget} "
         "$(awk 'BEGIN{{print (" +
         delay_cs +
         ")/100}}')\" }\n"
         "early_stopping { asha { metric: \"val_acc\" maximize: true min_epochs: 1 "
         "max_epochs: 9 reduction: 3 synchronous: " +
         (synchronous ? "true" : "false") + " } }\nclaim { " + claim + " }\n";
}

struct EsSweep : ProcSweep {
  explicit EsSweep(const std::string& spec) : ProcSweep(spec) {
    const std::string path = tmp.path() + "/train.sh";
    std::ofstream(path) << kTrainer;
    ::chmod(path.c_str(), 0755);
  }
  std::string log() const { return dir + "/ran.log"; }
  // The configurations with a committed record at rung k.
  std::set<uint64_t> DoneAt(uint32_t k) {
    std::set<uint64_t> out;
    for (uint64_t c = 0; c < 9; ++c) {
      if (Env::Default()->Exists(RungQueue(layout, k).result_path(RungKey(k, c)))) out.insert(c);
    }
    return out;
  }
  TrialResult RungRecord(uint32_t k, uint64_t c) {
    TrialResult r;
    const std::string path = RungQueue(layout, k).result_path(RungKey(k, c));
    EXPECT_OK(ParseJson(ReadAll(path), path, &r));
    return r;
  }
  pid_t Owner(uint32_t k, uint64_t c, uint32_t attempt) {
    AttemptOwner o;
    if (!ParseJson(ReadAll(RungQueue(layout, k).owner_path(RungKey(k, c), attempt)), "owner", &o)
             .ok())
      return -1;
    return static_cast<pid_t>(o.pid());
  }
  // Every epoch of every configuration was trained exactly once, up to the
  // budget of the highest rung it finished; each rung it finished ran to its
  // end once, with {budget} and SWEEP_BUDGET equal.
  void ExpectEachEpochOnce(const std::vector<int>& budgets) {
    auto ran = CountLines(log());
    size_t lines = 0;
    for (uint64_t c = 0; c < 9; ++c) {
      int reached = 0;
      for (uint32_t k = 0; k < budgets.size(); ++k) {
        const bool done = DoneAt(k).count(c) > 0;
        const std::string b = std::to_string(budgets[k]);
        EXPECT_EQ(ran["rung " + std::to_string(c) + " " + b + " " + b], done ? 1 : 0)
            << "config " << c << " rung " << k << "\n"
            << ReadAll(log());
        if (done) reached = budgets[k];
      }
      for (int e = 1; e <= reached; ++e)
        EXPECT_EQ(ran["epoch " + std::to_string(c) + " " + std::to_string(e)], 1) << c << " " << e;
      EXPECT_EQ(ran["epoch " + std::to_string(c) + " " + std::to_string(reached + 1)], 0) << c;
      lines += static_cast<size_t>(reached);
    }
    size_t epochs = 0;
    for (const auto& [line, n] : ran) epochs += line.rfind("epoch ", 0) == 0 ? n : 0;
    EXPECT_EQ(epochs, lines);
  }
};

// SHA with three identical workers: rung 0 trains all 9 for 1 epoch, the top
// 3 (x = 6, 7, 8) go on to 3 epochs by resuming, the best to 9: 21 epochs in
// all instead of 81, each once; each rung's record carries its rung, budget
// and the exact metric.
TEST(EarlyStoppingProcess, ShaWithThreeIdenticalWorkersPromotesTheTopThirdAndTrainsEachEpochOnce) {
  EsSweep s(RunSpec(true, "5", "lease_seconds: 30 heartbeat_seconds: 0.5 trials_per_job: 0"));
  std::vector<Spawned> workers;
  for (int w = 0; w < 3; ++w) workers.push_back(s.StartTrial("w" + std::to_string(w)));
  for (Spawned& w : workers) EXPECT_EQ(WaitExit(w.pid), 0) << ReadAll(w.output_path);
  EXPECT_EQ(s.DoneAt(0).size(), 9u);
  EXPECT_EQ(s.DoneAt(1), (std::set<uint64_t>{6, 7, 8}));
  EXPECT_EQ(s.DoneAt(2), std::set<uint64_t>{8});
  s.ExpectEachEpochOnce({1, 3, 9});
  const TrialResult top = s.RungRecord(2, 8);
  EXPECT_EQ(top.stage(), "rung-2");
  EXPECT_EQ(top.item(), "000008-0000");
  EXPECT_EQ(top.index(), 8u);
  EXPECT_EQ(top.rung(), 2u);
  EXPECT_EQ(top.budget(), 9u);
  EXPECT_EQ(top.params().at("x"), "8");
  EXPECT_EQ(top.metrics().fields().at("val_acc").number_value(), 0.089);
  EXPECT_EQ(s.RungRecord(0, 3).budget(), 1u);
  EXPECT_EQ(s.RungRecord(0, 3).metrics().fields().at("val_acc").number_value(), 0.031);
  // The whole curve is in the configuration's own trial directory.
  EXPECT_EQ(Count(ReadAll(s.layout.work_dir(8) + "/metrics.csv"), "\n"), 10u);
  // Published scores: 9, 3 and 1; no lease entry left in any queue.
  EXPECT_EQ(s.List(RungScoresDir(s.layout, 0)).size(), 9u);
  EXPECT_EQ(s.List(RungScoresDir(s.layout, 1)),
            (std::vector<std::string>{"000006=0.063", "000007=0.073", "000008=0.083"}));
  EXPECT_EQ(s.List(RungScoresDir(s.layout, 2)), std::vector<std::string>{"000008=0.089"});
  for (uint32_t k = 0; k <= 2; ++k)
    EXPECT_TRUE(s.List(RungQueue(s.layout, k).leases_dir()).empty());
}

// The promotion set depends on the results only: the fastest configurations
// finishing first or last gives the same rungs; x = 8 failing at rung 1 (3
// epochs, no retries) ranks last there and is never promoted.
TEST(EarlyStoppingProcess, ShaPromotionsDoNotDependOnArrivalOrderAndAFailureIsNeverPromoted) {
  for (const std::string delay : {"1 + 3 * $1", "1 + 3 * (8 - $1)"}) {
    SCOPED_TRACE(delay);
    std::string d = delay;
    // The spec's awk gets x as {x}.
    for (size_t at; (at = d.find("$1")) != std::string::npos;) d.replace(at, 2, "{x}");
    EsSweep s(RunSpec(
        true, d, "lease_seconds: 30 heartbeat_seconds: 0.5 max_attempts: 1 trials_per_job: 0"));
    std::vector<Spawned> workers;
    for (int w = 0; w < 3; ++w)
      workers.push_back(s.StartTrial("w" + std::to_string(w), {"FAIL_X=8", "FAIL_AT=3"}));
    for (Spawned& w : workers) EXPECT_LE(WaitExit(w.pid), 1) << ReadAll(w.output_path);
    EXPECT_EQ(s.DoneAt(0).size(), 9u);
    EXPECT_EQ(s.DoneAt(1), (std::set<uint64_t>{6, 7}));
    EXPECT_EQ(s.List(RungScoresDir(s.layout, 1)),
              (std::vector<std::string>{"000006=0.063", "000007=0.073", "000008=fail"}));
    EXPECT_EQ(s.DoneAt(2), std::set<uint64_t>{7});
    s.ExpectEachEpochOnce({1, 3, 9});
  }
}

// Control: a rung is named as a stage; reset is refused (the published
// results have decided promotions already).
TEST(EarlyStoppingProcess, ControlNamesRungsAsStagesAndRefusesReset) {
  EsSweep s(RunSpec(true, "1", "lease_seconds: 30 heartbeat_seconds: 0.5 trials_per_job: 0"));
  ASSERT_EQ(s.RunTrial().exit_code, 0);
  RunResult r = s.Sweep({"reset", s.dir, "0"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("reset is not supported in a sweep with early stopping"),
            std::string::npos)
      << r.output;
  EXPECT_TRUE(Env::Default()->Exists(s.layout.result_path(0)));
  r = s.Sweep({"stop", s.dir, "--stage", "rung-3", "0"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("its stages: trials, rung-1, rung-2)"), std::string::npos) << r.output;
  r = s.Sweep({"stop", s.dir, "--stage", "rung-2", "8"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("rung-2 000008-0000: already done"), std::string::npos) << r.output;
}

// ASHA with four identical workers, one killed with SIGKILL while it trains a
// promoted configuration: its item is taken over and resumed as attempt 2;
// every promotion ran once, every epoch was trained once, nothing is left
// open.
TEST(EarlyStoppingProcess, AshaWithRacingWorkersAndAKillNinePromotesOnceAndLosesNothing) {
  EsSweep s(RunSpec(false, "20", "lease_seconds: 3 heartbeat_seconds: 0.5 trials_per_job: 0"));
  std::vector<Spawned> workers;
  for (int w = 0; w < 4; ++w) workers.push_back(s.StartTrial("w" + std::to_string(w)));
  uint64_t victim_c = 0;
  pid_t victim = -1;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (uint64_t c = 0; c < 9 && victim < 0; ++c) {
          victim = s.Owner(1, c, 1);
          victim_c = c;
        }
        return victim > 0;
      },
      30))
      << ReadAll(workers[0].output_path);
  KillNineWithChildren(victim);
  for (Spawned& w : workers)
    EXPECT_EQ(WaitExit(w.pid), w.pid == victim ? 128 + SIGKILL : 0) << ReadAll(w.output_path);
  EXPECT_EQ(s.DoneAt(0).size(), 9u);
  EXPECT_TRUE(s.DoneAt(1).count(victim_c)) << victim_c;
  EXPECT_TRUE(Env::Default()->Exists(RungQueue(s.layout, 1).attempt_dir(RungKey(1, victim_c), 2)));
  // Promoted from rung k only what rung k finished; the top rung's best is
  // among rung 1's.
  for (uint64_t c : s.DoneAt(2)) EXPECT_TRUE(s.DoneAt(1).count(c)) << c;
  EXPECT_GE(s.DoneAt(1).size(), 3u);
  EXPECT_GE(s.DoneAt(2).size(), 1u);
  s.ExpectEachEpochOnce({1, 3, 9});
  for (uint32_t k = 0; k <= 2; ++k)
    EXPECT_TRUE(s.List(RungQueue(s.layout, k).leases_dir()).empty());
}

}  // namespace
}  // namespace claimsweep::testing
