// The trainer module in process (loaded by src/trial/load_trainer.cc, as
// `trial` loads it): kept checkpoints (keep_checkpoints_every) with their
// before_keep hook, the resume repair, and the built-in eval task.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/layout.h"
#include "core/train_config.h"
#include "data/synth.h"
#include "test_util.h"
#include "train/checkpoint_file.h"
#include "train/train_task.h"

namespace claimsweep {
namespace {

using testing::TempDir;

// ResNet-8 on 16x16 images, 4 steps an epoch: seconds on 2 cores.
struct TinyTrial {
  TempDir tmp;
  std::string data = tmp.path() + "/data", trial = tmp.path() + "/trial";
  TrainTask config;
  TinyTrial() {
    SynthOptions o;
    o.classes = 4;
    o.train = 128;
    o.val = 32;
    o.test = 64;
    o.size = 16;
    o.seed = 2;
    EXPECT_OK(Synthesize(o, data));
    config.set_model("resnet_cifar");
    config.set_depth(8);
    config.set_dataset(data);
    config.set_epochs(4);
    config.set_batch_size(32);
    config.set_lr(0.05);
    config.set_loader_threads(1);
    config.set_keep_checkpoints_every(2);
    ApplyTrainDefaults(&config);
    EXPECT_OK(CheckTrainTask(config));
    EXPECT_OK(Env::Default()->CreateDirs(trial));
  }
  std::string kept_dir() const { return trial + "/kept"; }
  TrainRequest Request(std::vector<std::string>* events) {
    TrainRequest r;
    r.config = config;
    r.checkpoints_dir = trial + "/checkpoints";
    r.kept_dir = kept_dir();
    r.metrics_path = trial + "/metrics.csv";
    r.threads = 2;
    r.should_stop = [] { return false; };
    r.lost = [] { return false; };
    r.may_write = [] { return Status::OK(); };
    r.log = [](const std::string&) {};
    // Each call records what kept/ holds at that moment.
    r.before_keep = [this, events](int epoch) {
      events->push_back("before_keep " + std::to_string(epoch) + " kept=" + Kept());
      return Status::OK();
    };
    return r;
  }
  std::string Kept() const {
    std::vector<std::string> names;
    Env::Default()->ListDir(kept_dir(), &names).IgnoreError();  // none yet: ""
    std::sort(names.begin(), names.end());
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
    return out;
  }
};

TEST(TrainKeep, KeepsEveryNthAndTheLastEpochCallingBeforeKeepBeforeEachLink) {
  TinyTrial t;
  std::vector<std::string> events;
  TrainOutcome out;
  ASSERT_OK(RunTraining(t.Request(&events), &out));
  ASSERT_EQ(out.kind, TrainOutcome::Kind::kDone);
  EXPECT_EQ(events, (std::vector<std::string>{"before_keep 2 kept=",
                                              "before_keep 4 kept=ckpt-0002.csckpt"}));
  EXPECT_EQ(t.Kept(), "ckpt-0002.csckpt,ckpt-0004.csckpt");
  // The kept files are the epoch-end checkpoints, intact after pruning.
  for (uint32_t e : {2u, 4u}) {
    std::string bytes;
    CheckpointData c;
    ASSERT_OK(Env::Default()->ReadFile(SweepLayout::kept_file_path(t.kept_dir(), e), &bytes));
    ASSERT_OK(DecodeCheckpoint(bytes, "kept", &c));
    EXPECT_EQ(c.state.epoch(), static_cast<int>(e));
    EXPECT_EQ(c.state.step(), 0);
  }
}

// An attempt that dies after the checkpoint of kept epoch 2 but before its
// link (here: its before_keep fails) loses nothing: the next attempt resumes
// from that checkpoint, announces epoch 2 again and keeps it before training on.
TEST(TrainKeep, AResumedAttemptKeepsTheKeptEpochItsPredecessorDidNot) {
  TinyTrial t;
  std::vector<std::string> events;
  TrainRequest first = t.Request(&events);
  first.before_keep = [](int) { return Status::IOError("announce: crash"); };
  TrainOutcome out;
  Status s = RunTraining(first, &out);
  EXPECT_EQ(s.message(), "announce: crash");
  EXPECT_EQ(t.Kept(), "");
  ASSERT_TRUE(Env::Default()->Exists(EpochEndCheckpointPath(t.trial + "/checkpoints", 2)));

  std::vector<std::string> logs;
  TrainRequest second = t.Request(&events);
  second.log = [&](const std::string& l) { logs.push_back(l); };
  TrainOutcome out2;
  ASSERT_OK(RunTraining(second, &out2));
  ASSERT_EQ(out2.kind, TrainOutcome::Kind::kDone);
  EXPECT_EQ(events, (std::vector<std::string>{"before_keep 2 kept=",
                                              "before_keep 4 kept=ckpt-0002.csckpt"}));
  EXPECT_EQ(t.Kept(), "ckpt-0002.csckpt,ckpt-0004.csckpt");
  EXPECT_NE(std::find(logs.begin(), logs.end(), "kept the checkpoint of epoch 2 on resume"),
            logs.end());

  // A third attempt resuming from the kept last epoch (its result not yet
  // committed) finds it kept: no second announcement, no training.
  events.clear();
  TrainOutcome out3;
  ASSERT_OK(RunTraining(t.Request(&events), &out3));
  EXPECT_EQ(out3.kind, TrainOutcome::Kind::kDone);
  EXPECT_TRUE(events.empty());
}

// Early stopping ends the run at epoch E, and its attempt dies before
// keeping E (the last epoch). The next attempt resumes from E's checkpoint:
// it keeps E and trains no further, as the uninterrupted run did not.
TEST(TrainKeep, AnAttemptResumedWhereEarlyStoppingEndedTheRunKeepsItAndTrainsNoFurther) {
  TinyTrial t;
  t.config.set_epochs(8);
  t.config.set_lr(0.5);
  t.config.set_early_stopping_patience(1);
  t.config.set_keep_checkpoints_every(100);  // only the last epoch is kept
  std::vector<std::string> events;
  TrainRequest first = t.Request(&events);
  int last = 0;
  first.before_keep = [&last](int epoch) {
    last = epoch;
    return Status::IOError("announce: crash");
  };
  TrainOutcome out;
  EXPECT_EQ(RunTraining(first, &out).message(), "announce: crash");
  ASSERT_GT(last, 0);
  ASSERT_LT(last, 8) << "this config must stop early for the test to mean anything";

  TrainOutcome out2;
  ASSERT_OK(RunTraining(t.Request(&events), &out2));
  ASSERT_EQ(out2.kind, TrainOutcome::Kind::kDone);
  EXPECT_EQ(events, std::vector<std::string>{"before_keep " + std::to_string(last) + " kept="});
  EXPECT_EQ(t.Kept(), KeptCheckpointName(static_cast<uint32_t>(last)));
  EXPECT_EQ(out2.summary.fields().at("epochs").number_value(), last);
}

// Lost ownership: nothing is announced or kept.
TEST(TrainKeep, NothingIsKeptOnceTheTrialIsAnotherAttempts) {
  TinyTrial t;
  t.config.set_epochs(2);
  std::vector<std::string> events;
  TrainRequest r = t.Request(&events);
  int writes = 0;
  r.may_write = [&writes] {
    // Allowed: metrics.csv and checkpoint of epochs 1 and 2; refused after.
    return ++writes <= 4 ? Status::OK() : Status::Superseded("attempt 2 owns the trial");
  };
  TrainOutcome out;
  Status s = RunTraining(r, &out);
  EXPECT_TRUE(s.IsSuperseded()) << s.ToString();
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(t.Kept(), "");
}

TEST(EvalTask, TheFinalCheckpointEvaluatesToTheTrainingRunsTestMetrics) {
  TinyTrial t;
  std::vector<std::string> events;
  TrainOutcome out;
  ASSERT_OK(RunTraining(t.Request(&events), &out));
  const auto& trained = out.summary.fields();
  EvalRequest e;
  e.config = t.config;
  e.checkpoint_path = SweepLayout::kept_file_path(t.kept_dir(), 4);
  e.threads = 2;
  google::protobuf::Struct metrics;
  bool interrupted = true;
  ASSERT_OK(RunEvaluation(e, &metrics, &interrupted));
  EXPECT_FALSE(interrupted);
  const auto& m = metrics.fields();
  EXPECT_EQ(m.at("loss").number_value(), trained.at("test_loss").number_value());
  EXPECT_EQ(m.at("acc").number_value(), trained.at("test_acc").number_value());
  EXPECT_EQ(m.at("epoch").number_value(), 4);
  EXPECT_EQ(m.at("images").number_value(), 64);
  EXPECT_GE(m.at("seconds").number_value(), 0);
  // The train split: its own count, other numbers.
  e.split = "train";
  google::protobuf::Struct train;
  ASSERT_OK(RunEvaluation(e, &train, &interrupted));
  EXPECT_EQ(train.fields().at("images").number_value(), 128);
  e.split = "dev";
  Status bad = RunEvaluation(e, &train, &interrupted);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("no split 'dev'; it has: train, val, test"), std::string::npos)
      << bad.ToString();
}

TEST(EvalTask, ATornOrCorruptCheckpointIsRefusedByName) {
  TinyTrial t;
  t.config.set_epochs(2);
  std::vector<std::string> events;
  TrainOutcome out;
  ASSERT_OK(RunTraining(t.Request(&events), &out));
  std::string bytes;
  ASSERT_OK(Env::Default()->ReadFile(SweepLayout::kept_file_path(t.kept_dir(), 2), &bytes));
  const std::string torn = t.tmp.path() + "/torn.csckpt", flipped = t.tmp.path() + "/flip.csckpt";
  testing::WriteRaw(torn, bytes.substr(0, bytes.size() / 2));
  bytes[bytes.size() - 5] ^= 1;
  testing::WriteRaw(flipped, bytes);
  for (const std::string& path : {torn, flipped, t.tmp.path() + "/missing.csckpt"}) {
    EvalRequest e;
    e.config = t.config;
    e.checkpoint_path = path;
    google::protobuf::Struct metrics;
    bool interrupted = false;
    Status s = RunEvaluation(e, &metrics, &interrupted);
    EXPECT_FALSE(s.ok()) << path;
    EXPECT_NE(s.message().find(path), std::string::npos) << s.ToString();
    EXPECT_TRUE(metrics.fields().empty());
  }
}

}  // namespace
}  // namespace claimsweep
