#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::ReadAll;
using testing::TempDir;
using testing::WriteRaw;

// 2x2x2 images whose channel 0 is `a` and channel 1 is `b` everywhere.
std::string Image(uint8_t a, uint8_t b) {
  std::string img;
  for (int i = 0; i < 4; ++i) img += {char(a), char(b)};
  return img;
}

// train: 7 examples (3 shards of <= 3), val: 2, test: 4.
void WriteSample(const std::string& dir) {
  DatasetWriter w(dir, "tiny", {"cat", "dog", "emu"}, 2, 2, 2, /*records_per_shard=*/3);
  w.set_source("test");
  for (int i = 0; i < 7; ++i) ASSERT_OK(w.AddExample("train", Image(i % 2 ? 255 : 0, 51), i % 3));
  for (int i = 0; i < 4; ++i) {  // interleaved splits
    ASSERT_OK(w.AddExample("test", Image(uint8_t(i), 0), 2));
    if (i < 2) {
      ASSERT_OK(w.AddExample("val", Image(9, 9), 1));
    }
  }
  ASSERT_OK(w.Finish());
}

std::vector<Example> ReadSplit(const std::string& dir, const std::string& split, Status* status) {
  std::vector<Example> out;
  auto m = ReadManifest(Env::Default(), dir);
  *status = m.status();
  if (!m.ok()) return out;
  auto r = SplitReader::Open(dir, *m, split);
  *status = r.status();
  if (!r.ok()) return out;
  for (;;) {
    Example ex;
    bool eof = false;
    *status = (*r)->Next(&ex, &eof);
    if (!status->ok() || eof) return out;
    out.push_back(ex);
  }
}

TEST(Dataset, WritesShardsAndManifest) {
  TempDir tmp;
  WriteSample(tmp.path());
  auto m = ReadManifest(Env::Default(), tmp.path());
  ASSERT_OK(m) << m.status().ToString();
  EXPECT_EQ(m->format_version(), 1u);
  EXPECT_EQ(m->classes_size(), 3);
  ASSERT_EQ(m->split_size(), 3);
  EXPECT_EQ(m->split(0).name(), "train");
  EXPECT_EQ(m->split(1).name(), "val");
  EXPECT_EQ(m->split(2).name(), "test");
  EXPECT_EQ(m->split(0).count(), 7u);
  ASSERT_EQ(m->split(0).shard_size(), 3);
  EXPECT_EQ(m->split(0).shard(2).path(), "train-00002.csrec");
  EXPECT_EQ(m->split(0).shard(2).records(), 1u);
  EXPECT_EQ(m->split(2).count(), 4u);
  // Channel 0: four of seven images are 0, three are 255 -> mean 3/7.
  ASSERT_EQ(m->mean_size(), 2);
  EXPECT_NEAR(m->mean(0), 3.0 / 7, 1e-12);
  EXPECT_NEAR(m->std(0), std::sqrt(3.0 / 7 * 4.0 / 7), 1e-12);
  EXPECT_NEAR(m->mean(1), 0.2, 1e-12);
  EXPECT_NEAR(m->std(1), 0.0, 1e-6);

  Status s;
  auto test = ReadSplit(tmp.path(), "test", &s);
  ASSERT_OK(s) << s.ToString();
  ASSERT_EQ(test.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(test[i].image(), Image(uint8_t(i), 0));
    EXPECT_EQ(test[i].label(), 2);
  }
  auto train = ReadSplit(tmp.path(), "train", &s);
  ASSERT_OK(s);
  ASSERT_EQ(train.size(), 7u);
  EXPECT_EQ(train[4].label(), 1);  // the second shard's second record, in order

  uint64_t n = 0, last_progress = 0;
  ASSERT_OK(VerifyDataset(
      Env::Default(), tmp.path(), [&](uint64_t done, uint64_t) { last_progress = done; }, &n));
  EXPECT_EQ(n, 13u);
  EXPECT_EQ(last_progress, 13u);
  EXPECT_TRUE(SplitReader::Open(tmp.path(), *m, "extra").status().IsNotFound());
}

TEST(Dataset, RejectsBadExamples) {
  TempDir tmp;
  DatasetWriter w(tmp.path(), "x", {"a", "b"}, 2, 2, 2);
  EXPECT_EQ(w.AddExample("train", std::string(7, 'x'), 0).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(w.AddExample("train", Image(1, 1), 2).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(w.AddExample("train", Image(1, 1), -1).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(w.AddExample("../x", Image(1, 1), 0).code(), Status::Code::kInvalidArgument);
}

TEST(Dataset, VerifyFindsFlippedByteWithFileAndOffset) {
  TempDir tmp;
  WriteSample(tmp.path());
  const std::string shard = tmp.path() + "/train-00001.csrec";
  std::string b = ReadAll(shard);
  b[b.size() - 3] ^= 0x20;  // inside the last record's payload
  WriteRaw(shard, b);
  Status s = VerifyDataset(Env::Default(), tmp.path());
  ASSERT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find(shard + ": record at offset "), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("checksum mismatch"), std::string::npos) << s.message();
}

TEST(Dataset, VerifyFindsTruncatedAndSwappedShards) {
  TempDir tmp;
  WriteSample(tmp.path());
  const std::string a = tmp.path() + "/train-00000.csrec", b = tmp.path() + "/train-00001.csrec";
  const std::string sa = ReadAll(a), sb = ReadAll(b);
  // Same sizes and record counts, different bytes: only the file CRC differs.
  WriteRaw(a, sb);
  WriteRaw(b, sa);
  Status s = VerifyDataset(Env::Default(), tmp.path());
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("checksum does not match the manifest"), std::string::npos)
      << s.message();

  WriteRaw(a, sa.substr(0, sa.size() - 1));
  WriteRaw(b, sb);
  s = VerifyDataset(Env::Default(), tmp.path());
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find(a + ": is "), std::string::npos) << s.message();

  WriteRaw(a, sa);
  ASSERT_OK(Env::Default()->RemoveFile(b));
  EXPECT_TRUE(VerifyDataset(Env::Default(), tmp.path()).IsNotFound());
}

TEST(Dataset, LabelOutsideManifestClassesIsCorruption) {
  TempDir tmp;
  WriteSample(tmp.path());
  auto m = ReadManifest(Env::Default(), tmp.path());
  ASSERT_OK(m);
  m->mutable_classes()->RemoveLast();  // "emu" (label 2) no longer exists
  std::string text;
  google::protobuf::TextFormat::PrintToString(*m, &text);
  WriteRaw(tmp.path() + "/manifest.textproto", text);
  Status s = VerifyDataset(Env::Default(), tmp.path());
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("train-00000.csrec: record at offset "), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("label 2 outside [0, 2)"), std::string::npos) << s.message();
}

TEST(Dataset, ManifestErrorsNameTheFile) {
  TempDir tmp;
  const std::string path = tmp.path() + "/manifest.textproto";
  EXPECT_TRUE(ReadManifest(Env::Default(), tmp.path()).status().IsNotFound());

  WriteRaw(path, "format_version: 1\nname: \"x\"\nheight: oops\n");
  auto m = ReadManifest(Env::Default(), tmp.path());
  EXPECT_EQ(m.status().code(), Status::Code::kCorruption);
  EXPECT_EQ(m.status().message().rfind(path + ":3:", 0), 0u) << m.status().message();

  WriteRaw(path, "format_version: 2\nclasses: \"a\"\nheight: 1 width: 1 channels: 1\n");
  m = ReadManifest(Env::Default(), tmp.path());
  EXPECT_EQ(m.status().code(), Status::Code::kUnsupported);
  EXPECT_NE(m.status().message().find("format_version 2"), std::string::npos)
      << m.status().message();

  WriteRaw(path,
           "format_version: 1\nclasses: \"a\"\nheight: 1 width: 1 channels: 1\n"
           "split { name: \"train\" count: 1 shard { path: \"../../etc/passwd\" records: 1 } }\n");
  m = ReadManifest(Env::Default(), tmp.path());
  EXPECT_EQ(m.status().code(), Status::Code::kCorruption);
  EXPECT_NE(m.status().message().find("plain file name"), std::string::npos);

  WriteRaw(path,
           "format_version: 1\nclasses: \"a\"\nheight: 1 width: 1 channels: 1\n"
           "split { name: \"train\" count: 5 shard { path: \"train-00000.csrec\" records: 1 } }\n");
  m = ReadManifest(Env::Default(), tmp.path());
  EXPECT_EQ(m.status().code(), Status::Code::kCorruption);
  EXPECT_NE(m.status().message().find("count 5 but its shards hold 1"), std::string::npos);
}

TEST(Dataset, RewritingRemovesTheOldManifestFirst) {
  TempDir tmp;
  WriteSample(tmp.path());
  DatasetWriter w(tmp.path(), "again", {"a"}, 2, 2, 2);
  ASSERT_OK(w.AddExample("train", Image(1, 2), 0));
  EXPECT_FALSE(Env::Default()->Exists(tmp.path() + "/manifest.textproto"));
  ASSERT_OK(w.Finish());
  uint64_t n = 0;
  ASSERT_OK(VerifyDataset(Env::Default(), tmp.path(), nullptr, &n));
  EXPECT_EQ(n, 1u);
}

}  // namespace
}  // namespace claimsweep
