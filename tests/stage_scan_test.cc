// The states of derived stages' items (core/stage_scan.h), on hand-made sweep
// directories laid out as docs/derived-work.md §1.1 says: blocked names its
// input, a retried input unblocks, kept checkpoints are items.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/layout.h"
#include "core/stage_scan.h"
#include "core/sweep_scan.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::WriteRaw;

constexpr const char* kSpec = R"(
grid { param { name: "seed" range { start: 0 stop: 4 step: 1 } } }
train { model: "resnet_cifar" depth: 8 dataset: "d" epochs: 4 keep_checkpoints_every: 2 }
claim { lease_seconds: 300 heartbeat_seconds: 1 max_attempts: 3 }
stage { name: "post" each_trial: true command { argv: "true" } }
stage { name: "eval" each_checkpoint: true command { argv: "true" } }
stage { name: "all_post" after_all: "post" command { argv: "true" } }
stage { name: "all_eval" after_all: "eval" command { argv: "true" } }
stage { name: "all_trials" after_all: "trials" command { argv: "true" } }
)";

void MkDirs(const std::string& path) {
  for (size_t p = 1; p != std::string::npos; p = path.find('/', p + 1))
    ::mkdir(path.substr(0, p).c_str(), 0755);
  ::mkdir(path.c_str(), 0755);
}

struct Fixture {
  testing::InitedSweep sweep{kSpec};
  const SweepLayout& points = sweep.layout;
  SweepLayout Stage(const std::string& s) { return SweepLayout::ForStage(points.root(), s); }

  // An attempt k of entry `index` in `l`, open with a fresh heartbeat.
  void Attempt(const SweepLayout& l, uint64_t index, uint32_t k) {
    MkDirs(l.attempt_dir(index, k));
    WriteRaw(l.owner_path(index, k), "{}");
  }
  void Done(const SweepLayout& l, uint64_t index) {
    Attempt(l, index, 1);
    WriteRaw(l.result_path(index), "{\"index\":0}");
  }
  void Failed(const SweepLayout& l, uint64_t index, uint32_t attempts) {
    for (uint32_t k = 1; k <= attempts; ++k) {
      Attempt(l, index, k);
      WriteRaw(l.failed_path(index, k), "{}");
    }
  }
  void Kept(uint64_t index, uint32_t epoch) {
    MkDirs(points.kept_dir(index));
    WriteRaw(points.kept_checkpoint_path(index, epoch), "x");
  }
  std::vector<StageScan> Scan() {
    SweepScan trials;
    EXPECT_TRUE(testing::IsOk(ScanSweep(Env::Default(), points, sweep.spec, 4, &trials)));
    std::vector<StageScan> out;
    bool from_fs = false;
    const int64_t now = ScanClock(Env::Default(), points, &from_fs);
    EXPECT_TRUE(testing::IsOk(
        ScanStages(Env::Default(), points.root(), sweep.spec, trials, 4, 1, now, &out)));
    return out;
  }
};

const StageScan& Named(const std::vector<StageScan>& v, const std::string& name) {
  for (const auto& s : v) {
    if (s.name == name) return s;
  }
  ADD_FAILURE() << "no stage " << name;
  return v[0];
}

const ScannedItem* Item(const StageScan& s, uint64_t key) {
  for (const auto& it : s.items) {
    if (it.key == key) return &it;
  }
  return nullptr;
}

uint64_t N(const StageScan& s, TrialState st) { return s.counts[static_cast<int>(st)]; }

TEST(StageState, AnItemWithoutItsDirectoryIsReadyWaitingOrBlockedByItsInput) {
  ItemInput in;
  in.name = "trials/000042";
  in.state = TrialState::kRunning;
  EXPECT_EQ(DeriveItemState(in).state, TrialState::kPending);  // waiting
  in.state = TrialState::kFailed;
  in.attempts = 3;
  DerivedState d = DeriveItemState(in);
  EXPECT_EQ(d.state, TrialState::kBlocked);
  EXPECT_EQ(d.problem, "trials/000042 failed (3 attempts)");
  in.attempts = 1;
  EXPECT_EQ(DeriveItemState(in).problem, "trials/000042 failed (1 attempt)");
  in.state = TrialState::kStopped;
  EXPECT_EQ(DeriveItemState(in).problem, "trials/000042 stopped");
  in.state = TrialState::kInterrupted;  // retried: claimable again
  EXPECT_EQ(DeriveItemState(in).state, TrialState::kPending);
  in.state = TrialState::kBroken;  // never claimed, never final: waiting
  EXPECT_EQ(DeriveItemState(in).state, TrialState::kPending);
  ItemInput item{false, TrialState::kBlocked, "stages/post/items/000042-0000", 0,
                 "trials/000042 failed (3 attempts)"};
  d = DeriveItemState(item);
  EXPECT_EQ(d.state, TrialState::kBlocked);
  EXPECT_EQ(d.problem, "stages/post/items/000042-0000 blocked: trials/000042 failed (3 attempts)");
  ItemInput done{true, TrialState::kDone, "trials/000001", 1, ""};
  EXPECT_EQ(DeriveItemState(done).state, TrialState::kPending);  // ready
  EXPECT_EQ(TrialStateName(TrialState::kBlocked), std::string("blocked"));
}

TEST(StageScan, EachTrialItemsFollowTheirTrialsAndARetryUnblocks) {
  Fixture f;
  f.Done(f.points, 0);
  f.Done(f.Stage("post"), ItemKey(0, 0));  // post of trial 0 done
  f.Done(f.points, 1);                     // ready
  f.Failed(f.points, 2, 3);                // its post item is blocked
  std::vector<StageScan> scan = f.Scan();
  const StageScan& post = Named(scan, "post");
  EXPECT_EQ(post.kind, StageKind::kEachTrial);
  EXPECT_EQ(post.total, 4u);
  EXPECT_EQ(N(post, TrialState::kDone), 1u);
  EXPECT_EQ(N(post, TrialState::kPending), 2u);  // trial 1's (ready), trial 3's (waiting)
  EXPECT_EQ(N(post, TrialState::kBlocked), 1u);
  ASSERT_NE(Item(post, ItemKey(2, 0)), nullptr);
  EXPECT_EQ(Item(post, ItemKey(2, 0))->derived.problem, "trials/000002 failed (3 attempts)");
  EXPECT_EQ(Item(post, ItemKey(3, 0)), nullptr);  // unclaimed: counted only
  // The funnel over post is blocked by its first blocked item, naming it and why.
  const ScannedItem* all = Item(Named(scan, "all_post"), ItemKey(0, 1));
  ASSERT_NE(all, nullptr);
  EXPECT_EQ(all->derived.state, TrialState::kBlocked);
  EXPECT_EQ(all->derived.problem,
            "stages/post/items/000002-0000 blocked: trials/000002 failed (3 attempts)");
  EXPECT_EQ(Named(scan, "all_post").total, 1u);
  // And the funnel over the trials by the failed trial itself.
  EXPECT_EQ(Item(Named(scan, "all_trials"), ItemKey(0, 1))->derived.problem,
            "trials/000002 failed (3 attempts)");

  // `sweep retry` of trial 2: its failures no longer count, so it is claimable
  // again, and nothing downstream is blocked any more.
  WriteRaw(f.points.trial_entry_path(2, RetryMarkerName(3)), "");
  scan = f.Scan();
  EXPECT_EQ(N(Named(scan, "post"), TrialState::kBlocked), 0u);
  EXPECT_EQ(Item(Named(scan, "post"), ItemKey(2, 0))->derived.state, TrialState::kPending);
  EXPECT_EQ(Item(Named(scan, "all_post"), ItemKey(0, 1))->derived.state, TrialState::kPending);
  EXPECT_EQ(Item(Named(scan, "all_trials"), ItemKey(0, 1))->derived.state, TrialState::kPending);
}

TEST(StageScan, AStoppedTrialBlocksAndItsItemDirectoryWinsOverItsInput) {
  Fixture f;
  f.Attempt(f.points, 0, 1);
  WriteRaw(f.points.stop_path(0), "");
  std::vector<StageScan> scan = f.Scan();
  EXPECT_EQ(Item(Named(scan, "post"), ItemKey(0, 0))->derived.problem, "trials/000000 stopped");
  // An item that runs has its files' state whatever its input shows.
  f.Attempt(f.Stage("post"), ItemKey(0, 0), 1);
  scan = f.Scan();
  const ScannedItem* it = Item(Named(scan, "post"), ItemKey(0, 0));
  EXPECT_EQ(it->derived.state, TrialState::kRunning);
  EXPECT_TRUE(it->has_dir);
}

TEST(StageScan, EachCheckpointHasAnItemPerKeptCheckpointReadyAtOnce) {
  Fixture f;
  f.Attempt(f.points, 0, 1);  // still training
  f.Kept(0, 2);
  f.Kept(0, 4);
  f.Done(f.Stage("eval"), ItemKey(0, 2));
  f.Failed(f.points, 1, 3);
  f.Kept(1, 2);  // kept before it failed: still evaluated
  WriteRaw(f.points.trial_entry_path(1, "kept") + "/ckpt-2.csckpt.tmp", "");  // not a kept name
  std::vector<StageScan> scan = f.Scan();
  const StageScan& eval = Named(scan, "eval");
  EXPECT_EQ(eval.total, 3u);
  EXPECT_EQ(N(eval, TrialState::kDone), 1u);
  EXPECT_EQ(N(eval, TrialState::kPending), 2u);
  EXPECT_EQ(N(eval, TrialState::kBlocked), 0u);
  ASSERT_NE(Item(eval, ItemKey(0, 4)), nullptr);
  ASSERT_NE(Item(eval, ItemKey(1, 2)), nullptr);
  // The funnel over eval needs every trial done: trial 1 failed blocks it.
  const ScannedItem* all = Item(Named(scan, "all_eval"), ItemKey(0, 1));
  ASSERT_NE(all, nullptr);
  EXPECT_EQ(all->derived.state, TrialState::kBlocked);
  EXPECT_EQ(all->derived.problem, "trials/000001 failed (3 attempts)");
  // A failed eval item blocks it first.
  f.Failed(f.Stage("eval"), ItemKey(0, 4), 3);
  scan = f.Scan();
  EXPECT_EQ(Item(Named(scan, "all_eval"), ItemKey(0, 1))->derived.problem,
            "stages/eval/items/000000-0004 failed (3 attempts)");
}

TEST(StageScan, AFunnelIsTheNewestVersionsItemAndItsDirectorySaysItsState) {
  Fixture f;
  for (uint64_t i = 0; i < 4; ++i) f.Done(f.points, i);
  f.Done(f.Stage("all_trials"), ItemKey(0, 1));
  std::vector<StageScan> scan = f.Scan();
  const StageScan& all = Named(scan, "all_trials");
  ASSERT_EQ(all.items.size(), 1u);
  EXPECT_EQ(all.items[0].key, ItemKey(0, 1));
  EXPECT_EQ(all.items[0].derived.state, TrialState::kDone);
  EXPECT_EQ(Item(Named(scan, "all_post"), ItemKey(0, 1))->derived.state, TrialState::kPending);
  EXPECT_EQ(N(Named(scan, "post"), TrialState::kPending), 4u);  // all ready
}

}  // namespace
}  // namespace claimsweep
