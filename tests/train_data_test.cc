// The torch-free half of training: batch order and augmentation determinism,
// resume by skipping, checkpoints that survive corruption, LR schedules.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/layout.h"
#include "data/dataset.h"
#include "test_util.h"
#include "train/batch_loader.h"
#include "train/checkpoint_file.h"
#include "train/train_task.h"

namespace claimsweep {
namespace {

using testing::TempDir;

// 100 examples of 4x4x3 whose first pixel encodes their number.
DatasetManifest MakeDataset(const std::string& dir) {
  DatasetWriter w(dir, "tiny", {"a", "b", "c"}, 4, 4, 3, /*records_per_shard=*/16);
  for (int i = 0; i < 100; ++i) {
    std::string img(48, static_cast<char>(i % 7));
    img[0] = static_cast<char>(i);
    EXPECT_OK(w.AddExample("train", img, i % 3));
  }
  EXPECT_OK(w.Finish());
  return w.manifest();
}

// The example numbers of an epoch, in order (first pixel, un-normalized).
std::vector<int> Order(const DatasetManifest& m, LoaderOptions o,
                       std::vector<float>* all = nullptr) {
  BatchLoader loader(m, o);
  EXPECT_OK(loader.Start());
  std::vector<int> ids;
  for (;;) {
    Batch b;
    bool done = false;
    Status s = loader.Next(&b, &done);
    EXPECT_OK(s) << s.ToString();
    if (!s.ok() || done) break;
    for (int k = 0; k < b.n; ++k) {
      float v = b.data[static_cast<size_t>(k) * 48];
      ids.push_back(static_cast<int>(std::lround((v * m.std(0) + m.mean(0)) * 255)));
    }
    if (all) all->insert(all->end(), b.data.begin(), b.data.end());
  }
  return ids;
}

LoaderOptions Opts(const std::string& dir) {
  LoaderOptions o;
  o.dir = dir;
  o.split = "train";
  o.batch_size = 8;
  o.seed = 42;
  o.shuffle = true;
  o.shuffle_buffer = 20;
  return o;
}

TEST(BatchLoader, ShuffledEpochHasEveryExampleOnceAndDependsOnSeedAndEpoch) {
  TempDir d;
  DatasetManifest m = MakeDataset(d.path());
  std::vector<int> a = Order(m, Opts(d.path()));
  ASSERT_EQ(a.size(), 100u);
  EXPECT_EQ(std::set<int>(a.begin(), a.end()).size(), 100u);
  std::vector<int> sorted(a);
  std::sort(sorted.begin(), sorted.end());
  EXPECT_NE(a, sorted);  // actually shuffled
  EXPECT_EQ(Order(m, Opts(d.path())), a);
  LoaderOptions next = Opts(d.path());
  next.epoch = 1;
  EXPECT_NE(Order(m, next), a);
}

TEST(BatchLoader, ThreadCountDoesNotChangeAugmentedData) {
  TempDir d;
  DatasetManifest m = MakeDataset(d.path());
  LoaderOptions o = Opts(d.path());
  o.augment = true;
  o.threads = 1;
  std::vector<float> one, four;
  Order(m, o, &one);
  o.threads = 4;
  Order(m, o, &four);
  EXPECT_EQ(one, four);
}

TEST(BatchLoader, ResumeBySkippingGivesTheSameRestOfTheEpoch) {
  TempDir d;
  DatasetManifest m = MakeDataset(d.path());
  LoaderOptions o = Opts(d.path());
  o.augment = true;
  std::vector<float> full, tail;
  Order(m, o, &full);
  o.skip_batches = 5;
  Order(m, o, &tail);
  ASSERT_EQ(tail.size(), full.size() - 5 * 8 * 48);
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), full.begin() + 5 * 8 * 48));
}

TEST(BatchLoader, ChannelsLastIsTheSameAugmentedBatchesInNhwcOrder) {
  TempDir d;
  LoaderOptions nchw_options = Opts(d.path());
  nchw_options.augment = true;
  LoaderOptions nhwc_options = nchw_options;
  nhwc_options.channels_last = true;
  std::vector<float> nchw, nhwc;
  const DatasetManifest m = MakeDataset(d.path());
  EXPECT_EQ(Order(m, nchw_options, &nchw), Order(m, nhwc_options, &nhwc));
  ASSERT_EQ(nhwc.size(), nchw.size());
  ASSERT_EQ(nchw.size(), 100u * 48);
  for (size_t n = 0; n < 100; ++n) {
    for (size_t c = 0; c < 3; ++c) {
      for (size_t p = 0; p < 16; ++p) {
        ASSERT_EQ(nhwc[n * 48 + p * 3 + c], nchw[n * 48 + c * 16 + p])
            << "example " << n << " channel " << c;
      }
    }
  }
}

TEST(BatchLoader, CorruptShardIsAnErrorNamingTheFile) {
  TempDir d;
  DatasetManifest m = MakeDataset(d.path());
  const std::string shard = d.path() + "/" + m.split(0).shard(1).path();
  std::string bytes;
  ASSERT_OK(Env::Default()->ReadFile(shard, &bytes));
  bytes[bytes.size() / 2] ^= 0x5a;
  ASSERT_OK(Env::Default()->WriteFileAtomic(shard, bytes));
  BatchLoader loader(m, Opts(d.path()));
  ASSERT_OK(loader.Start());
  Status s;
  for (int i = 0; i < 100 && s.ok(); ++i) {
    Batch b;
    bool done = false;
    s = loader.Next(&b, &done);
    if (done) break;
  }
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(m.split(0).shard(1).path()), std::string::npos) << s.message();
}

TEST(Checkpoint, KeepsTwoAndFallsBackFromACorruptOne) {
  TempDir d;
  Env* env = Env::Default();
  for (int e = 1; e <= 3; ++e) {
    TrainState st;
    st.set_epoch(e);
    ASSERT_OK(WriteCheckpoint(env, d.path(), st, std::string(1000, static_cast<char>('a' + e))));
  }
  std::vector<std::string> names;
  ASSERT_OK(env->ListDir(d.path(), &names));
  EXPECT_EQ(names.size(), 2u);
  CheckpointData c;
  bool found = false;
  ASSERT_OK(LoadLatestCheckpoint(env, d.path(), &c, &found, nullptr));
  ASSERT_TRUE(found);
  EXPECT_EQ(c.state.epoch(), 3);
  EXPECT_EQ(c.tensors, std::string(1000, 'd'));
  // Tear the newest: the previous one is used, with a warning.
  std::string newest = c.path, bytes;
  ASSERT_OK(env->ReadFile(newest, &bytes));
  ASSERT_OK(env->RemoveFile(newest));
  ASSERT_OK(env->CreateExclusive(newest, bytes.substr(0, bytes.size() - 10)));
  std::vector<std::string> warnings;
  ASSERT_OK(LoadLatestCheckpoint(env, d.path(), &c, &found,
                                 [&](const std::string& w) { warnings.push_back(w); }));
  ASSERT_TRUE(found);
  EXPECT_EQ(c.state.epoch(), 2);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("truncated"), std::string::npos) << warnings[0];
}

// Kept checkpoints (keep_checkpoints_every): hard links in kept/ beside
// checkpoints/, which pruning never lists.
struct KeptDirs {
  TempDir d;
  Env* env = Env::Default();
  std::string ckpts = d.path() + "/checkpoints", kept = d.path() + "/kept";
  void Write(int epoch) {
    TrainState st;
    st.set_epoch(epoch);
    ASSERT_OK(WriteCheckpoint(env, ckpts, st, std::string(100, static_cast<char>('a' + epoch))));
  }
  std::vector<std::string> Kept() {
    std::vector<std::string> names;
    env->ListDir(kept, &names).IgnoreError();  // none yet: empty
    std::sort(names.begin(), names.end());
    return names;
  }
  int KeptEpoch(int epoch) {  // the epoch inside kept/ckpt-<epoch>, -1 if unreadable
    std::string bytes;
    CheckpointData c;
    if (!env->ReadFile(SweepLayout::kept_file_path(kept, epoch), &bytes).ok() ||
        !DecodeCheckpoint(bytes, "kept", &c).ok()) {
      return -1;
    }
    return c.state.epoch();
  }
};

TEST(Checkpoint, PruningLeavesKeptCheckpointsAlone) {
  KeptDirs k;
  for (int e = 1; e <= 6; ++e) {
    k.Write(e);
    if (e % 2 == 0) {
      ASSERT_OK(
          KeepCheckpoint(k.env, EpochEndCheckpointPath(k.ckpts, e), k.kept, e, nullptr, nullptr));
    }
  }
  std::vector<std::string> names;
  ASSERT_OK(k.env->ListDir(k.ckpts, &names));
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names,
            (std::vector<std::string>{"ckpt-0005-000000.csckpt", "ckpt-0006-000000.csckpt"}));
  EXPECT_EQ(k.Kept(),
            (std::vector<std::string>{"ckpt-0002.csckpt", "ckpt-0004.csckpt", "ckpt-0006.csckpt"}));
  EXPECT_EQ(k.KeptEpoch(2), 2);  // intact after its checkpoints/ name was pruned
  EXPECT_EQ(k.KeptEpoch(4), 4);
  // Resume reads checkpoints/ only: never a kept file.
  CheckpointData c;
  bool found = false;
  ASSERT_OK(LoadLatestCheckpoint(k.env, k.ckpts, &c, &found, nullptr));
  EXPECT_EQ(c.state.epoch(), 6);
}

TEST(Checkpoint, KeepRunsBeforeKeepThenLinksAndTheFirstWriterWins) {
  KeptDirs k;
  k.Write(2);
  const std::string src = EpochEndCheckpointPath(k.ckpts, 2);
  EXPECT_EQ(src, k.ckpts + "/ckpt-0002-000000.csckpt");
  // Fenced: no announcement and no link once the trial is someone else's.
  int calls = 0;
  auto before = [&](int e) {
    ++calls;
    EXPECT_EQ(e, 2);
    EXPECT_TRUE(k.Kept().empty());  // before the link
    return Status::OK();
  };
  Status lost = KeepCheckpoint(k.env, src, k.kept, 2, before,
                               [] { return Status::Superseded("attempt 2 owns it"); });
  EXPECT_TRUE(lost.IsSuperseded()) << lost.ToString();
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(k.Kept().empty());
  // A failed before_keep fails the keep: nothing is linked.
  Status s = KeepCheckpoint(
      k.env, src, k.kept, 2, [](int) { return Status::IOError("announce failed"); }, nullptr);
  EXPECT_EQ(s.message(), "announce failed");
  EXPECT_TRUE(k.Kept().empty());
  ASSERT_OK(KeepCheckpoint(k.env, src, k.kept, 2, before, [] { return Status::OK(); }));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(k.Kept(), std::vector<std::string>{"ckpt-0002.csckpt"});
  // A second keep of epoch 2 from another file succeeds and changes nothing.
  k.Write(3);
  ASSERT_OK(KeepCheckpoint(k.env, EpochEndCheckpointPath(k.ckpts, 3), k.kept, 2, nullptr, nullptr));
  EXPECT_EQ(k.KeptEpoch(2), 2);
}

TEST(Checkpoint, KeepIfMissingRedoesBeforeKeepOnlyWhenKeptLacksTheEpoch) {
  KeptDirs k;
  k.Write(2);
  const std::string src = EpochEndCheckpointPath(k.ckpts, 2);
  std::vector<int> calls;
  auto before = [&](int e) {
    calls.push_back(e);
    return Status::OK();
  };
  bool kept_now = false;
  ASSERT_OK(KeepCheckpointIfMissing(k.env, src, k.kept, 2, before, nullptr, &kept_now));
  EXPECT_TRUE(kept_now);
  ASSERT_OK(KeepCheckpointIfMissing(k.env, src, k.kept, 2, before, nullptr, &kept_now));
  EXPECT_FALSE(kept_now);
  EXPECT_EQ(calls, std::vector<int>{2});
  EXPECT_EQ(k.KeptEpoch(2), 2);
}

TEST(Checkpoint, KeptEpochsAreEveryNthAndTheLast) {
  std::vector<int> kept;
  for (int e = 1; e <= 7; ++e)
    if (IsKeptEpoch(3, e, /*last=*/e == 7)) kept.push_back(e);
  EXPECT_EQ(kept, (std::vector<int>{3, 6, 7}));
  EXPECT_FALSE(IsKeptEpoch(0, 4, /*last=*/true));  // 0: keep none, not even the last
  EXPECT_TRUE(IsKeptEpoch(2, 5, /*last=*/true));   // early stopping at epoch 5
  EXPECT_FALSE(IsKeptEpoch(2, 5, /*last=*/false));
}

TEST(Checkpoint, ADeadWritersTempFileIsRemovedAtResume) {
  TempDir d;
  Env* env = Env::Default();
  TrainState st;
  st.set_epoch(1);
  ASSERT_OK(WriteCheckpoint(env, d.path(), st, "t"));
  // What kill -9 leaves behind in the middle of the next write.
  const std::string torn = d.path() + "/ckpt-0002-000000.csckpt.tmp.deadbeef.0";
  ASSERT_OK(env->CreateExclusive(torn, "partial"));
  CheckpointData c;
  bool found = false;
  ASSERT_OK(LoadLatestCheckpoint(env, d.path(), &c, &found, nullptr));
  ASSERT_TRUE(found);
  EXPECT_EQ(c.state.epoch(), 1);
  EXPECT_FALSE(env->Exists(torn));
}

// A checkpoint whose TrainState is of a newer format is refused by name, and
// resume does not fall back to an older checkpoint (it would redo, and then
// overwrite, the newer one's work).
TEST(Checkpoint, ANewerStateVersionIsRefusedNotSkipped) {
  Env* env = Env::Default();
  TempDir d;
  TrainState st;
  st.set_format_version(1);
  st.set_epoch(1);
  ASSERT_OK(WriteCheckpoint(env, d.path(), st, "old"));
  st.set_format_version(7);
  st.set_epoch(2);
  ASSERT_OK(WriteCheckpoint(env, d.path(), st, "new"));
  CheckpointData c;
  bool found = false;
  Status s = LoadLatestCheckpoint(env, d.path(), &c, &found, nullptr);
  EXPECT_EQ(s.code(), Status::Code::kUnsupported);
  EXPECT_NE(s.message().find(
                d.path() +
                "/ckpt-0002-000000.csckpt has format_version 7; this claimsweep reads up to 1"),
            std::string::npos)
      << s.message();
  EXPECT_FALSE(found);
}

// The header's version field is outside the checksum: a flipped bit there is
// damage like any other, and resume falls back to the previous checkpoint.
TEST(Checkpoint, ADamagedHeaderVersionFallsBackToThePreviousCheckpoint) {
  Env* env = Env::Default();
  TempDir d;
  TrainState st;
  st.set_format_version(1);
  for (int e = 1; e <= 2; ++e) {
    st.set_epoch(e);
    ASSERT_OK(WriteCheckpoint(env, d.path(), st, "t"));
  }
  CheckpointData c;
  bool found = false;
  ASSERT_OK(LoadLatestCheckpoint(env, d.path(), &c, &found, nullptr));
  std::string bytes;
  ASSERT_OK(env->ReadFile(c.path, &bytes));
  bytes[8] ^= 0x04;  // the version field follows the 8-byte magic
  const std::string newest = c.path;
  ASSERT_OK(env->RemoveFile(newest));
  ASSERT_OK(env->CreateExclusive(newest, bytes));
  std::vector<std::string> warnings;
  ASSERT_OK(LoadLatestCheckpoint(env, d.path(), &c, &found,
                                 [&](const std::string& w) { warnings.push_back(w); }));
  ASSERT_TRUE(found);
  EXPECT_EQ(c.state.epoch(), 1);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("unknown checkpoint header version 5"), std::string::npos)
      << warnings[0];
}

TEST(Checkpoint, EveryTruncationAndBitFlipIsDetected) {
  TrainState st;
  st.set_epoch(4);
  TempDir d;
  ASSERT_OK(WriteCheckpoint(Env::Default(), d.path(), st, "tensor-bytes"));
  std::vector<std::string> names;
  ASSERT_OK(Env::Default()->ListDir(d.path(), &names));
  std::string bytes;
  ASSERT_OK(Env::Default()->ReadFile(d.path() + "/" + names[0], &bytes));
  CheckpointData c;
  ASSERT_OK(DecodeCheckpoint(bytes, "x", &c));
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(DecodeCheckpoint(bytes.substr(0, n), "x", &c).ok()) << n;
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string flipped = bytes;
    flipped[i] ^= 0x01;
    EXPECT_FALSE(DecodeCheckpoint(flipped, "x", &c).ok()) << i;
  }
}

TEST(LearningRate, WarmupCosineAndStep) {
  TrainTask t;
  t.set_lr(0.1);
  t.set_epochs(10);
  t.set_schedule("cosine");
  EXPECT_DOUBLE_EQ(LearningRateAt(t, 0, 0, 100), 0.1);
  EXPECT_NEAR(LearningRateAt(t, 5, 0, 100), 0.05, 1e-12);
  EXPECT_LT(LearningRateAt(t, 9, 99, 100), 1e-4);
  t.set_warmup_epochs(1);
  EXPECT_NEAR(LearningRateAt(t, 0, 49, 100), 0.05, 1e-12);
  t.set_schedule("step");
  t.set_warmup_epochs(0);
  t.set_step_size(3);
  t.set_gamma(0.5);
  EXPECT_DOUBLE_EQ(LearningRateAt(t, 2, 0, 100), 0.1);
  EXPECT_DOUBLE_EQ(LearningRateAt(t, 3, 0, 100), 0.05);
}

}  // namespace
TEST(Checkpoint, LargeFilesAreMappedAndSmallOnesCopiedWithTheSameBytes) {
  TempDir d;
  Env* env = Env::Default();
  for (size_t size : {size_t{100}, size_t{3} << 20}) {  // below and above the mapping threshold
    std::string data(size, '\0');
    for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(i * 131 + 7);
    const std::string path = d.path() + "/f" + std::to_string(size);
    ASSERT_OK(env->WriteFileAtomic(path, data));
    std::string_view view;
    std::shared_ptr<const void> keep;
    ASSERT_OK(env->ReadFileShared(path, &view, &keep));
    ASSERT_OK(env->RemoveFile(path));  // the bytes outlive the name
    EXPECT_EQ(view, data) << size;
    std::string copy;
    EXPECT_TRUE(env->ReadFile(d.path() + "/missing", &copy).IsNotFound());
  }
}

}  // namespace claimsweep
