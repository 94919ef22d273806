// Training trials end to end through the real `trial` and `sweep` binaries:
// an interrupted-and-resumed run must reproduce the uninterrupted one's
// per-epoch metrics exactly (CPU, same thread count).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "core/json.h"
#include "core/layout.h"
#include "core/rungs.h"
#include "example_specs.h"
#include "process_util.h"
#include "records.pb.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

// Small enough for 2 cores: ResNet-8 on 16x16 images, 3 epochs of 24 steps.
const char* kTrain = R"(
name: "resume"
seed: 5
grid { param { name: "lr" values: "0.05" } }
train {
  model: "resnet_cifar" depth: 8 dataset: "data" epochs: 3 batch_size: 32
  optimizer: "sgd" momentum: 0.9 weight_decay: 5e-4 schedule: "cosine" warmup_epochs: 0.5
  label_smoothing: 0.1 loader_threads: 2
}
claim { lease_seconds: 2 heartbeat_seconds: 0.5 max_attempts: 3 trials_per_job: 1 }
)";

struct TrainSweep {
  TempDir tmp;
  std::string dir = tmp.path() + "/sweep";
  SweepLayout layout{dir};
  explicit TrainSweep(const std::string& spec = kTrain) {
    ::umask(022);
    RunResult d = RunProcess({SWEEP_BIN, "data", "synth", "--out", tmp.path() + "/data",
                              "--classes", "4", "--train", "768", "--val", "128", "--test", "128",
                              "--size", "16", "--channels", "3", "--seed", "2"});
    EXPECT_EQ(d.exit_code, 0) << d.output;
    std::ofstream(tmp.path() + "/spec.textproto") << spec;
    RunResult r = RunProcess({SWEEP_BIN, "init", tmp.path() + "/spec.textproto", dir});
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  std::vector<std::string> env() const { return {"SWEEP_DIR=" + dir, "SLURM_CPUS_PER_TASK=2"}; }
  Spawned Start(const std::string& name) {
    return Spawn({TRIAL_BIN}, env(), tmp.path(), tmp.path() + "/" + name);
  }
  RunResult RunTrial() { return RunProcess({TRIAL_BIN}, env(), tmp.path()); }
  std::string Metrics() { return ReadAll(layout.trial_dir(0) + "/metrics.csv"); }
  bool HasCheckpoint(const std::string& prefix) {
    std::vector<std::string> names;
    Env::Default()
        ->ListDir(layout.trial_dir(0) + "/checkpoints", &names)
        .IgnoreError();  // none: empty
    for (const auto& n : names) {
      // Only a published checkpoint counts: the writer's temp file shares the prefix.
      if (n.rfind(prefix, 0) == 0 && n.size() > 7 && n.compare(n.size() - 7, 7, ".csckpt") == 0)
        return true;
    }
    return false;
  }
  TrialResult Result() {
    TrialResult r;
    EXPECT_OK(ParseJson(ReadAll(layout.result_path(0)), "result", &r));
    return r;
  }
};

std::vector<std::string> Uninterrupted() {
  static std::vector<std::string> rows = [] {
    TrainSweep s;
    RunResult r = s.RunTrial();
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return MetricsWithoutTimes(s.Metrics());
  }();
  return rows;
}

TEST(TrainProcess, TrainsRecordsMetricsAndResult) {
  TrainSweep s;
  RunResult r = s.RunTrial();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string csv = s.Metrics();
  EXPECT_EQ(
      csv.rfind("epoch,train_loss,train_acc,val_loss,val_acc,lr,epoch_seconds,images_per_s\n", 0),
      0u)
      << csv;
  ASSERT_EQ(MetricsWithoutTimes(csv).size(), 4u);  // header + 3 epochs
  TrialResult res = s.Result();
  const auto& m = res.metrics().fields();
  EXPECT_GT(m.at("best_val_acc").number_value(), 0.4);  // 4 classes: chance is 0.25
  EXPECT_GT(m.at("test_acc").number_value(), 0.4);
  EXPECT_EQ(m.at("epochs").number_value(), 3);
  EXPECT_GT(m.at("num_parameters").number_value(), 1000);
  EXPECT_NE(r.output.find("ETA"), std::string::npos) << r.output;
  EXPECT_EQ(MetricsWithoutTimes(csv), Uninterrupted());  // and runs are reproducible
}

TEST(TrainProcess, KillNineAfterAnEpochResumesToIdenticalMetrics) {
  TrainSweep s;
  Spawned a = s.Start("a.out");
  ASSERT_TRUE(WaitFor([&] { return s.HasCheckpoint("ckpt-0001-"); }, 120))
      << ReadAll(a.output_path);
  ::kill(a.pid, SIGKILL);
  EXPECT_EQ(WaitExit(a.pid), 128 + SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return StatusCounts(s.dir)["stale"] == 1; }, 20));
  RunResult b = s.RunTrial();
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("resuming from"), std::string::npos) << b.output;
  EXPECT_EQ(s.Result().attempt(), 2u);
  EXPECT_EQ(MetricsWithoutTimes(s.Metrics()), Uninterrupted());
}

TEST(TrainProcess, Usr1MidEpochCheckpointsExits75AndResumesToIdenticalMetrics) {
  TrainSweep s;
  Spawned a = s.Start("a.out");
  // Signal during epoch 2 (after epoch 1's checkpoint exists).
  ASSERT_TRUE(WaitFor([&] { return s.HasCheckpoint("ckpt-0001-000000"); }, 120))
      << ReadAll(a.output_path);
  ::kill(a.pid, SIGUSR1);
  EXPECT_EQ(WaitExit(a.pid), 75) << ReadAll(a.output_path);
  std::string out = ReadAll(a.output_path);
  EXPECT_NE(out.find("checkpoint written"), std::string::npos) << out;
  EXPECT_EQ(StatusCounts(s.dir)["interrupted"], 1);
  // It stopped inside epoch 2: its checkpoint is ckpt-0001-<step > 0>.
  std::vector<std::string> names;
  Env::Default()
      ->ListDir(s.layout.trial_dir(0) + "/checkpoints", &names)
      .IgnoreError();  // none: empty
  bool mid_epoch = false;
  for (const auto& n : names)
    mid_epoch |= n.rfind("ckpt-0001-", 0) == 0 && n != "ckpt-0001-000000.csckpt";
  EXPECT_TRUE(mid_epoch) << "checkpoints: " << names.size();
  RunResult b = s.RunTrial();
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("resuming from"), std::string::npos) << b.output;
  EXPECT_EQ(MetricsWithoutTimes(s.Metrics()), Uninterrupted());
  EXPECT_EQ(s.Result().attempt(), 2u);
}

// `sweep stop` on a running training trial: it checkpoints at its next
// heartbeat, is released as stopped, and is not claimed again; `sweep reset`
// would start it over.
TEST(TrainProcess, SweepStopCheckpointsAndStopsARunningTrainingTrial) {
  // 40 epochs: long enough that the stop (seen within a 0.5 s heartbeat)
  // always lands mid-run.
  std::string spec = kTrain;
  spec.replace(spec.find("epochs: 3"), 9, "epochs: 40");
  TrainSweep s(spec);
  Spawned a = s.Start("a.out");
  ASSERT_TRUE(WaitFor([&] { return s.HasCheckpoint("ckpt-0001-000000"); }, 120))
      << ReadAll(a.output_path);
  RunResult stop = RunProcess({SWEEP_BIN, "stop", s.dir, "0"});
  ASSERT_EQ(stop.exit_code, 0) << stop.output;
  EXPECT_EQ(WaitExit(a.pid), 0) << ReadAll(a.output_path);  // a user stop is not a walltime exit
  std::string out = ReadAll(a.output_path);
  EXPECT_NE(out.find("stopped by the user (sweep stop); checkpoint written"), std::string::npos)
      << out;
  EXPECT_EQ(StatusCounts(s.dir)["stopped"], 1);
  EXPECT_LT(MetricsWithoutTimes(s.Metrics()).size(), 41u)
      << "it stopped before finishing its 40 epochs";
  RunResult b = s.RunTrial();
  EXPECT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("nothing to claim"), std::string::npos) << b.output;
}

// keep_checkpoints_every through the real `trial`: the runner gives the
// trainer the trial's kept/, which holds epoch 2 and the last (3) when the
// trial is done; kept/ does not change the trial's state.
TEST(TrainProcess, KeepCheckpointsEveryKeepsEveryNthAndTheLastInTheTrialsKeptDir) {
  std::string spec = kTrain;
  spec.replace(spec.find("epochs: 3"), 9, "epochs: 3 keep_checkpoints_every: 2");
  TrainSweep s(spec);
  RunResult r = s.RunTrial();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> kept;
  ASSERT_OK(Env::Default()->ListDir(s.layout.kept_dir(0), &kept));
  std::sort(kept.begin(), kept.end());
  EXPECT_EQ(kept, (std::vector<std::string>{"ckpt-0002.csckpt", "ckpt-0003.csckpt"}));
  EXPECT_EQ(StatusCounts(s.dir)["done"], 1);
  EXPECT_EQ(s.Result().metrics().fields().at("epochs").number_value(), 3);
}

// Issue 13's example as written (DATA a `sweep data synth` dataset): three
// identical workers train both points, evaluate every kept checkpoint (2 x
// 3) while training goes on, and run the funnel once over all six.
TEST(TrainProcess, TheStagesExampleRunsEndToEndWithThreeIdenticalWorkers) {
  TrainSweep s(kPipelineSpec);
  const SweepLayout eval = SweepLayout::ForStage(s.dir, "eval");
  const SweepLayout collect = SweepLayout::ForStage(s.dir, "collect");
  std::vector<Spawned> workers;
  for (int w = 0; w < 3; ++w) workers.push_back(s.Start("w" + std::to_string(w)));
  // Evaluation overlaps training: some trial's epoch-2 checkpoint is
  // evaluated before that trial is done.
  bool overlapped = false;
  WaitFor(
      [&] {
        for (uint64_t i = 0; i < 2; ++i) {
          if (Env::Default()->Exists(eval.result_path(ItemKey(i, 2))) &&
              !Env::Default()->Exists(s.layout.result_path(i)))
            overlapped = true;
        }
        return overlapped || Env::Default()->Exists(s.layout.result_path(1));
      },
      300);
  for (Spawned& w : workers) EXPECT_EQ(WaitExit(w.pid), 0) << ReadAll(w.output_path);
  EXPECT_TRUE(overlapped) << "no eval item was done before its trial";
  for (uint64_t i = 0; i < 2; ++i) {
    std::vector<std::string> kept;
    ASSERT_OK(Env::Default()->ListDir(s.layout.kept_dir(i), &kept));
    std::sort(kept.begin(), kept.end());
    EXPECT_EQ(kept, (std::vector<std::string>{"ckpt-0002.csckpt", "ckpt-0004.csckpt",
                                              "ckpt-0006.csckpt"}));
    for (uint32_t e : {2u, 4u, 6u}) {
      TrialResult r;
      ASSERT_OK(ParseJson(ReadAll(eval.result_path(ItemKey(i, e))), "eval result", &r));
      EXPECT_EQ(r.stage(), "eval");
      EXPECT_EQ(r.epoch(), e);
      EXPECT_EQ(r.index(), i);
      EXPECT_EQ(r.metrics().fields().at("epoch").number_value(), e);
      const double acc = r.metrics().fields().at("acc").number_value();
      EXPECT_GE(acc, 0);
      EXPECT_LE(acc, 1);
      EXPECT_GT(r.metrics().fields().at("images").number_value(), 0);
    }
  }
  EXPECT_EQ(ReadAll(collect.work_dir(ItemKey(0, 1)) + "/n.txt"), "6\n");
  EXPECT_EQ(StatusCounts(s.dir)["done"], 2);
  EXPECT_EQ(StatusCounts(s.dir, "eval")["done"], 6);
  EXPECT_EQ(StatusCounts(s.dir, "collect")["done"], 1);
}

// The trust issue's ablation: weight_decay {0, 5e-4} x momentum {0, 0.9}.
// Zeros used to be replaced by the defaults (5e-4, 0.9), so all four points
// trained the same way. Now each trains as written and says so.
TEST(TrainProcess, ZeroWeightDecayAndMomentumTrainFourDifferentWays) {
  TrainSweep s(R"(
name: "ablation"
seed: 5
grid {
  param { name: "weight_decay" values: "0" values: "5e-4" }
  param { name: "momentum" values: "0" values: "0.9" }
}
train { model: "resnet_cifar" depth: 8 dataset: "data" epochs: 1 batch_size: 64 lr: 0.05 loader_threads: 1 }
claim { lease_seconds: 30 heartbeat_seconds: 2 max_attempts: 1 trials_per_job: 0 }
)");
  RunResult r = s.RunTrial();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::set<double> losses;
  // weight_decay is the slower grid parameter.
  const double wd[] = {0, 0, 5e-4, 5e-4}, mom[] = {0, 0.9, 0, 0.9};
  for (int i = 0; i < 4; ++i) {
    TrialResult res;
    ASSERT_OK(ParseJson(ReadAll(s.layout.result_path(i)), "result", &res));
    const auto& c = res.config().fields();
    ASSERT_TRUE(c.count("weight_decay") && c.count("momentum")) << ToJson(res);
    EXPECT_EQ(c.at("weight_decay").number_value(), wd[i]) << "point " << i;
    EXPECT_EQ(c.at("momentum").number_value(), mom[i]) << "point " << i;
    EXPECT_EQ(c.at("lr").number_value(), 0.05);
    EXPECT_EQ(c.at("epochs").number_value(), 1);
    losses.insert(res.metrics().fields().at("final_train_loss").number_value());
    // The attempt's log starts with the effective config.
    const std::string log = ReadAll(s.layout.log_path(i, 1));
    const std::string tag = "# effective config (spec, point values, then defaults): ";
    const size_t at = log.find(tag);
    ASSERT_NE(at, std::string::npos) << log.substr(0, 300);
    google::protobuf::Struct logged;  // its keys come in no fixed order: compare values
    ASSERT_OK(ParseJson(log.substr(at + tag.size(), log.find('\n', at) - at - tag.size()), "log",
                        &logged));
    EXPECT_EQ(logged.fields().at("momentum").number_value(), mom[i]) << log.substr(0, 400);
    EXPECT_EQ(logged.fields().at("weight_decay").number_value(), wd[i]) << log.substr(0, 400);
  }
  EXPECT_EQ(losses.size(), 4u) << "the four points must train four different ways";
}

// A non-finite loss ends the attempt at once as failed "diverged: ...", and
// the trial is not retried (the same config diverges again).
TEST(TrainProcess, DivergedLossFailsTheTrialAtOnceWithoutRetry) {
  TrainSweep s(R"(
name: "diverge"
seed: 5
grid { param { name: "lr" values: "1e30" } }
train { model: "resnet_cifar" depth: 8 dataset: "data" epochs: 3 batch_size: 32 schedule: "constant" loader_threads: 1 }
claim { lease_seconds: 30 heartbeat_seconds: 2 max_attempts: 3 trials_per_job: 0 }
)");
  RunResult r = s.RunTrial();
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("diverged: loss became "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("not retryable"), std::string::npos) << r.output;
  EXPECT_FALSE(Env::Default()->Exists(s.layout.result_path(0)));
  EXPECT_TRUE(Env::Default()->Exists(s.layout.fatal_path(0, 1)));
  TrialResult rec;
  ASSERT_OK(ParseJson(ReadAll(s.layout.failed_path(0, 1)), "failed", &rec));
  EXPECT_EQ(rec.message().rfind("diverged: loss became ", 0), 0u) << rec.message();
  EXPECT_NE(rec.message().find(" at epoch 1 step "), std::string::npos) << rec.message();
  EXPECT_EQ(StatusCounts(s.dir)["failed"], 1);
  RunResult sum = RunProcess({SWEEP_BIN, "summary", s.dir, "--format", "csv"});
  EXPECT_NE(sum.output.find(",failed (diverged),"), std::string::npos) << sum.output;
  RunResult again = s.RunTrial();  // max_attempts 3, but nothing to retry
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("nothing to claim"), std::string::npos) << again.output;
  EXPECT_FALSE(Env::Default()->Exists(s.layout.attempt_dir(0, 2)));
}

// Issue 14's spec as written is accepted; a smaller SHA run of its shape
// (4 configurations, rungs 1, 2, 4 epochs, a cosine schedule) through three
// identical workers: the configuration promoted twice resumed its checkpoint
// each time, and its per-epoch metrics equal those of the same configuration
// trained straight to max_epochs without early stopping.
TEST(TrainProcess, ShaPromotedTrialsResumeAndMatchAnUnpromotedRunEpochForEpoch) {
  const std::string issue = R"(
name: "asha"
seed: 2
random {
  samples: 27
  param { name: "lr" log_uniform { low: 0.001 high: 0.5 } }
  param { name: "weight_decay" log_uniform { low: 0.000001 high: 0.01 } }
}
train { model: "resnet_cifar" depth: 8 dataset: "data" batch_size: 64 optimizer: "sgd" schedule: "constant" }
early_stopping { asha { metric: "val_acc" maximize: true min_epochs: 1 max_epochs: 9 reduction: 3 synchronous: true } }
claim { lease_seconds: 30 heartbeat_seconds: 2 max_attempts: 3 trials_per_job: 0 }
)";
  auto spec = [](const std::string& params, const std::string& es, int epochs) {
    return "name: \"asha\"\nseed: 2\n" + params +
           "\ntrain { model: \"resnet_cifar\" depth: 8 dataset: \"data\" batch_size: 64 "
           "optimizer: \"sgd\" schedule: \"cosine\" loader_threads: 1" +
           (epochs ? " epochs: " + std::to_string(epochs) : std::string()) + " }\n" + es +
           "claim { lease_seconds: 30 heartbeat_seconds: 2 max_attempts: 3 trials_per_job: 0 }\n";
  };
  TrainSweep s(spec(
      "random { samples: 4 param { name: \"lr\" log_uniform { low: 0.001 high: 0.5 } } param { "
      "name: \"weight_decay\" log_uniform { low: 0.000001 high: 0.01 } } }",
      "early_stopping { asha { metric: \"val_acc\" maximize: true min_epochs: 1 max_epochs: 4 "
      "reduction: 2 synchronous: true } }\n",
      0));
  std::ofstream(s.tmp.path() + "/issue.textproto") << issue;
  RunResult v = RunProcess({SWEEP_BIN, "validate", s.tmp.path() + "/issue.textproto"});
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_NE(v.output.find("rungs 1, 3, 9 epochs, reduction 3"), std::string::npos) << v.output;

  std::vector<Spawned> workers;
  for (int w = 0; w < 3; ++w) workers.push_back(s.Start("w" + std::to_string(w)));
  for (Spawned& w : workers) EXPECT_EQ(WaitExit(w.pid), 0) << ReadAll(w.output_path);
  // 4 -> 2 -> 1: rung 1's and rung 2's records, each config's curve as long
  // as its highest rung.
  std::vector<uint64_t> top, stopped;
  for (uint64_t c = 0; c < 4; ++c) {
    ASSERT_TRUE(Env::Default()->Exists(s.layout.result_path(c))) << c;
    const bool at2 = Env::Default()->Exists(RungQueue(s.layout, 2).result_path(RungKey(2, c)));
    const bool at1 = Env::Default()->Exists(RungQueue(s.layout, 1).result_path(RungKey(1, c)));
    EXPECT_TRUE(at1 || !at2) << c;
    const size_t epochs =
        MetricsWithoutTimes(ReadAll(s.layout.trial_dir(c) + "/metrics.csv")).size() - 1;
    EXPECT_EQ(epochs, at2 ? 4u : at1 ? 2u : 1u) << c;
    if (at2) top.push_back(c);
    if (!at1) stopped.push_back(c);
  }
  ASSERT_EQ(top.size(), 1u);
  ASSERT_EQ(stopped.size(), 2u);
  // The same configuration trained to 4 epochs in one go, no early stopping.
  const std::vector<uint64_t> compare = {top[0]};
  std::string grid = "grid { zip { ";
  std::string lr = "param { name: \"lr\"", wd = "param { name: \"weight_decay\"";
  for (uint64_t c : compare) {
    TrialResult r;
    ASSERT_OK(ParseJson(ReadAll(s.layout.result_path(c)), "result", &r));
    lr += " values: \"" + r.params().at("lr") + "\"";
    wd += " values: \"" + r.params().at("weight_decay") + "\"";
  }
  TrainSweep straight(spec(grid + lr + " } " + wd + " } } }", "", 4));
  RunResult r = straight.RunTrial();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (size_t i = 0; i < compare.size(); ++i) {
    SCOPED_TRACE("config " + std::to_string(compare[i]));
    const auto full = MetricsWithoutTimes(ReadAll(straight.layout.trial_dir(i) + "/metrics.csv"));
    const auto got = MetricsWithoutTimes(ReadAll(s.layout.trial_dir(compare[i]) + "/metrics.csv"));
    ASSERT_EQ(full.size(), 5u);
    EXPECT_EQ(got, full);
  }
  // The promoted rung's record: its budget's epochs and the exact metric.
  TrialResult best;
  ASSERT_OK(ParseJson(ReadAll(RungQueue(s.layout, 2).result_path(RungKey(2, top[0]))), "r", &best));
  EXPECT_EQ(best.rung(), 2u);
  EXPECT_EQ(best.budget(), 4u);
  EXPECT_EQ(best.metrics().fields().at("epochs").number_value(), 4);
  // Each promotion resumed the rung below's last checkpoint.
  for (uint32_t k = 1; k <= 2; ++k) {
    const std::string log = ReadAll(RungQueue(s.layout, k).log_path(RungKey(k, top[0]), 1));
    EXPECT_NE(log.find("resuming from"), std::string::npos) << log;
    EXPECT_NE(log.find("(epoch " + std::to_string(k == 1 ? 2 : 3) + ", step 0)"), std::string::npos)
        << log;
  }
}

}  // namespace
}  // namespace claimsweep::testing
