#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/import_cifar10.h"
#include "data/import_mnist.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::ReadAll;
using testing::TempDir;
using testing::WriteRaw;

void WriteGz(const std::string& path, const std::string& data) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, data.data(), unsigned(data.size())), int(data.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

std::vector<Example> ReadSplit(const std::string& dir, const std::string& split) {
  std::vector<Example> out;
  auto m = ReadManifest(Env::Default(), dir);
  EXPECT_OK(m) << m.status().ToString();
  if (!m.ok()) return out;
  auto r = SplitReader::Open(dir, *m, split);
  EXPECT_OK(r) << r.status().ToString();
  if (!r.ok()) return out;
  for (;;) {
    Example ex;
    bool eof = false;
    Status s = (*r)->Next(&ex, &eof);
    EXPECT_OK(s) << s.ToString();
    if (!s.ok() || eof) return out;
    out.push_back(ex);
  }
}

// --- CIFAR-10 ------------------------------------------------------------------

// Record `id`: label id % 10, pixel (c, p) = (id * 31 + c * 7 + p) % 251.
std::string CifarRecord(int id) {
  std::string r(1 + 3072, 0);
  r[0] = char(id % 10);
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < 1024; ++p) r[1 + c * 1024 + p] = char((id * 31 + c * 7 + p) % 251);
  return r;
}

// Five training batches of 2 records (ids 0..9), a test batch of 3 (ids 100..102).
void WriteCifar(const std::string& dir) {
  for (int b = 1; b <= 5; ++b)
    WriteRaw(dir + "/data_batch_" + std::to_string(b) + ".bin",
             CifarRecord(2 * b - 2) + CifarRecord(2 * b - 1));
  WriteRaw(dir + "/test_batch.bin", CifarRecord(100) + CifarRecord(101) + CifarRecord(102));
  std::string meta;
  for (int k = 0; k < 10; ++k) meta += "name" + std::to_string(k) + "\n";
  WriteRaw(dir + "/batches.meta.txt", meta + "\n");
}

// The manifest's source line names the fraction exactly ("%g" wrote 0.1234567
// as 0.123457).
// The manifest of fake CIFAR-10 files written to `src`, imported into `out`.
Result<DatasetManifest> ImportFakeCifar(const TempDir& src, const TempDir& out,
                                        double val_fraction) {
  WriteCifar(src.path());
  ImportOptions o;
  o.val_fraction = val_fraction;
  CS_RETURN_IF_ERROR(ImportCifar10(src.path(), out.path(), o));
  return ReadManifest(Env::Default(), out.path());
}

TEST(ImportCifar10, TheSourceLineNamesTheValFractionExactly) {
  TempDir src, out;
  auto m = ImportFakeCifar(src, out, 0.1234567);
  ASSERT_OK(m);
  EXPECT_NE(m->source().find(" val_fraction=0.1234567 "), std::string::npos) << m->source();
}

TEST(ImportCifar10, CountsPixelsAndLabels) {
  TempDir src, out;
  auto m = ImportFakeCifar(src, out, 0.2);
  ASSERT_OK(m);
  EXPECT_EQ(m->classes(3), "name3");
  EXPECT_EQ(m->height(), 32u);
  EXPECT_EQ(m->channels(), 3u);
  auto train = ReadSplit(out.path(), "train"), val = ReadSplit(out.path(), "val"),
       test = ReadSplit(out.path(), "test");
  EXPECT_EQ(train.size(), 8u);
  EXPECT_EQ(val.size(), 2u);
  ASSERT_EQ(test.size(), 3u);
  // HWC: pixel (y=5, x=9) channel 2 of test record 101 comes from plane 2.
  const int p = 5 * 32 + 9;
  EXPECT_EQ(uint8_t(test[1].image()[p * 3 + 2]), (101 * 31 + 2 * 7 + p) % 251);
  EXPECT_EQ(uint8_t(test[1].image()[p * 3 + 0]), (101 * 31 + p) % 251);
  EXPECT_EQ(test[1].label(), 1);
  // Every training id lands in exactly one of train/val.
  std::vector<int> seen(10, 0);
  for (const auto* split : {&train, &val}) {
    for (const auto& ex : *split) {
      int id = -1;
      for (int i = 0; i < 10; ++i) {
        if (uint8_t(ex.image()[0]) == (i * 31) % 251) id = i;  // pixel 0, channel 0
      }
      ASSERT_GE(id, 0);
      ++seen[id];
      EXPECT_EQ(ex.label(), id % 10);
    }
  }
  for (int i = 0; i < 10; ++i) EXPECT_EQ(seen[i], 1) << i;

  // The carve is deterministic.
  TempDir src2, again;
  ASSERT_OK(ImportFakeCifar(src2, again, 0.2));
  EXPECT_EQ(ReadAll(out.path() + "/val-00000.csrec"), ReadAll(again.path() + "/val-00000.csrec"));
}

TEST(ImportCifar10, TruncatedOrMissingFileIsNamed) {
  TempDir src, out;
  WriteCifar(src.path());
  const std::string b3 = src.path() + "/data_batch_3.bin";
  WriteRaw(b3, ReadAll(b3).substr(0, 3073 + 100));
  Status s = ImportCifar10(src.path(), out.path());
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find(b3 + ": 3173 bytes is not a whole number"), std::string::npos)
      << s.message();

  ASSERT_OK(Env::Default()->RemoveFile(b3));
  s = ImportCifar10(src.path(), out.path());
  EXPECT_TRUE(s.IsNotFound());
  EXPECT_NE(s.message().find(b3), std::string::npos);

  WriteCifar(src.path());
  std::string bad = CifarRecord(0);
  bad[0] = 10;
  WriteRaw(src.path() + "/test_batch.bin", bad);
  s = ImportCifar10(src.path(), out.path());
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("label 10"), std::string::npos) << s.message();

  ImportOptions o;
  o.val_fraction = 1.0;
  EXPECT_EQ(ImportCifar10(src.path(), out.path(), o).code(), Status::Code::kInvalidArgument);
}

// --- MNIST ---------------------------------------------------------------------

std::string BE32(uint32_t v) { return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }

// n images of 4 rows x 3 cols, pixel (i, p) = i * 16 + p; label (i + first_label) % 10.
std::string Images(uint32_t n) {
  std::string d = BE32(2051) + BE32(n) + BE32(4) + BE32(3);
  for (uint32_t i = 0; i < n; ++i)
    for (int p = 0; p < 12; ++p) d += char(i * 16 + p);
  return d;
}
std::string Labels(uint32_t n, int first) {
  std::string d = BE32(2049) + BE32(n);
  for (uint32_t i = 0; i < n; ++i) d += char((i + first) % 10);
  return d;
}

void WriteMnist(const std::string& dir) {
  WriteGz(dir + "/train-images-idx3-ubyte.gz", Images(5));
  WriteRaw(dir + "/train-labels-idx1-ubyte", Labels(5, 0));
  WriteRaw(dir + "/t10k-images-idx3-ubyte", Images(2));
  WriteRaw(dir + "/t10k-labels-idx1-ubyte", Labels(2, 7));
}

TEST(ImportMnist, CountsPixelsAndLabels) {
  TempDir src, out;
  WriteMnist(src.path());
  ImportOptions o;
  o.val_fraction = 0.2;
  ASSERT_OK(ImportMnist(src.path(), out.path(), o));
  auto m = ReadManifest(Env::Default(), out.path());
  ASSERT_OK(m);
  EXPECT_EQ(m->height(), 4u);
  EXPECT_EQ(m->width(), 3u);
  EXPECT_EQ(m->channels(), 1u);
  EXPECT_EQ(m->classes_size(), 10);
  auto train = ReadSplit(out.path(), "train"), val = ReadSplit(out.path(), "val"),
       test = ReadSplit(out.path(), "test");
  EXPECT_EQ(train.size(), 4u);
  ASSERT_EQ(val.size(), 1u);
  ASSERT_EQ(test.size(), 2u);
  EXPECT_EQ(uint8_t(test[1].image()[2 * 3 + 1]), 16 + 7);  // image 1, row 2, col 1
  EXPECT_EQ(test[1].label(), 8);
  const int val_id = uint8_t(val[0].image()[0]) / 16;
  EXPECT_EQ(val[0].label(), val_id);
  for (const auto& ex : train) EXPECT_NE(uint8_t(ex.image()[0]) / 16, val_id);
}

TEST(ImportMnist, BadFilesAreNamed) {
  TempDir src, out;
  WriteMnist(src.path());
  // A gzip stream cut short.
  const std::string gz = src.path() + "/train-images-idx3-ubyte.gz";
  std::string z = ReadAll(gz);
  WriteRaw(gz, z.substr(0, z.size() - 12));
  Status s = ImportMnist(src.path(), out.path());
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find(gz), std::string::npos) << s.message();

  // A plain file cut short.
  WriteMnist(src.path());
  const std::string imgs = src.path() + "/t10k-images-idx3-ubyte";
  WriteRaw(imgs, Images(2).substr(0, 16 + 20));
  s = ImportMnist(src.path(), out.path());
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find(imgs + ": header says 2 items"), std::string::npos) << s.message();

  // Labels where images belong.
  WriteRaw(imgs, Labels(2, 0));
  s = ImportMnist(src.path(), out.path());
  EXPECT_NE(s.message().find(imgs + ": magic number 2049, expected 2051"), std::string::npos)
      << s.message();

  // Counts that disagree.
  WriteRaw(imgs, Images(2));
  WriteRaw(src.path() + "/t10k-labels-idx1-ubyte", Labels(3, 0));
  s = ImportMnist(src.path(), out.path());
  EXPECT_NE(s.message().find("holds 2 images but"), std::string::npos) << s.message();

  ASSERT_OK(Env::Default()->RemoveFile(imgs));
  s = ImportMnist(src.path(), out.path());
  EXPECT_TRUE(s.IsNotFound());
  EXPECT_NE(s.message().find(imgs), std::string::npos);
}

}  // namespace
}  // namespace claimsweep
