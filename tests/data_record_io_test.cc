#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "data/crc32c.h"
#include "data/record_io.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::ReadAll;
using testing::TempDir;
using testing::WriteRaw;

std::vector<std::string> SampleRecords() {
  return {"", "a", "seven..", std::string(100, 'x'), std::string(300, '\x7f'), "last record"};
}

ShardSummary MustWrite(const std::string& path, const std::vector<std::string>& records) {
  auto w = RecordWriter::Create(path);
  EXPECT_OK(w) << w.status().ToString();
  for (const auto& r : records) EXPECT_OK((*w)->Add(r));
  auto s = (*w)->Finish();
  EXPECT_OK(s) << s.status().ToString();
  return *s;
}

// Reads until eof or error; returns the final status and the records seen.
Status ReadAllRecords(const std::string& path, std::vector<std::string>* out) {
  out->clear();
  auto r = RecordReader::Open(path);
  if (!r.ok()) return r.status();
  for (;;) {
    std::string p;
    bool eof = false;
    Status s = (*r)->Next(&p, &eof);
    if (!s.ok() || eof) return s;
    out->push_back(p);
  }
}

TEST(RecordIo, RoundTripIncludingLargeRecords) {
  TempDir tmp;
  const std::string path = tmp.path() + "/a.csrec";
  auto records = SampleRecords();
  records.push_back(std::string(3 << 20, 'L'));  // larger than the 1 MiB buffers
  records.push_back("after the large one");
  ShardSummary sum = MustWrite(path, records);
  const std::string bytes = ReadAll(path);
  EXPECT_EQ(sum.records, records.size());
  EXPECT_EQ(sum.bytes, bytes.size());
  EXPECT_EQ(sum.crc32c, crc32c::Value(bytes.data(), bytes.size()));
  EXPECT_EQ(bytes.substr(0, 8), std::string("CSREC\0\x01\0", 8));

  std::vector<std::string> got;
  ASSERT_OK(ReadAllRecords(path, &got));
  EXPECT_EQ(got, records);
}

TEST(RecordIo, WriterPublishesOnlyOnFinish) {
  TempDir tmp;
  const std::string path = tmp.path() + "/a.csrec";
  Env* env = Env::Default();
  {
    auto w = RecordWriter::Create(path);
    ASSERT_OK(w);
    ASSERT_OK((*w)->Add("x"));
    EXPECT_FALSE(env->Exists(path));
  }  // destroyed unfinished: no shard, no temp file left behind
  std::vector<std::string> names;
  ASSERT_OK(env->ListDir(tmp.path(), &names));
  EXPECT_TRUE(names.empty());
}

// Ninja-style: cut the shard at every byte length. Reading must stop either
// with a clean EOF exactly at a record boundary, or with Corruption naming
// the file and the offset of the first incomplete record, having returned
// exactly the intact records before it.
TEST(RecordIo, TruncatedAtEveryByteLength) {
  TempDir tmp;
  const std::string path = tmp.path() + "/full.csrec";
  const auto records = SampleRecords();
  MustWrite(path, records);
  const std::string full = ReadAll(path);
  std::vector<size_t> ends = {8};  // file offset where record i ends
  for (const auto& r : records) ends.push_back(ends.back() + 8 + r.size());
  ASSERT_EQ(ends.back(), full.size());

  const std::string cut = tmp.path() + "/cut.csrec";
  for (size_t len = 0; len < full.size(); ++len) {
    WriteRaw(cut, full.substr(0, len));
    std::vector<std::string> got;
    Status s = ReadAllRecords(cut, &got);
    size_t whole = 0;  // records wholly inside the prefix
    while (whole + 1 < ends.size() && ends[whole + 1] <= len) ++whole;
    ASSERT_EQ(got.size(), len < 8 ? 0 : whole) << "len " << len;
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], records[i]) << "len " << len;
    const bool boundary = len >= 8 && ends[whole] == len;
    if (boundary) {
      EXPECT_OK(s) << "len " << len << ": " << s.ToString();
    } else {
      ASSERT_EQ(s.code(), Status::Code::kCorruption) << "len " << len << ": " << s.ToString();
      EXPECT_NE(s.message().find(cut), std::string::npos) << s.message();
      if (len >= 8) {
        EXPECT_NE(s.message().find("record at offset " + std::to_string(ends[whole]) + ":"),
                  std::string::npos)
            << s.message();
      }
    }
  }
}

// Any single flipped byte is detected: the reader returns intact records and
// then an error, never altered data and never a clean end.
TEST(RecordIo, EveryFlippedByteIsDetected) {
  TempDir tmp;
  const std::string path = tmp.path() + "/full.csrec";
  const auto records = SampleRecords();
  MustWrite(path, records);
  const std::string full = ReadAll(path);
  const std::string bad = tmp.path() + "/bad.csrec";
  for (unsigned char mask : {0x01, 0x80, 0xFF}) {
    for (size_t i = 0; i < full.size(); ++i) {
      std::string b = full;
      b[i] = char(b[i] ^ mask);
      WriteRaw(bad, b);
      std::vector<std::string> got;
      Status s = ReadAllRecords(bad, &got);
      ASSERT_FALSE(s.ok()) << "byte " << i << " mask " << int(mask);
      if (i == 6 || i == 7) {
        EXPECT_EQ(s.code(), Status::Code::kUnsupported) << s.ToString();
      } else {
        EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
      }
      ASSERT_LE(got.size(), records.size());
      for (size_t k = 0; k < got.size(); ++k) ASSERT_EQ(got[k], records[k]) << "byte " << i;
    }
  }
}

TEST(RecordIo, UnknownVersionIsUnsupportedAndNamed) {
  TempDir tmp;
  const std::string path = tmp.path() + "/v7.csrec";
  WriteRaw(path, std::string("CSREC\0\x07\0", 8));
  auto r = RecordReader::Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnsupported);
  EXPECT_NE(r.status().message().find("version 7"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(path), std::string::npos);
}

TEST(RecordIo, AbsurdLengthIsCorruptionWithoutAllocating) {
  TempDir tmp;
  const std::string path = tmp.path() + "/huge.csrec";
  std::string data("CSREC\0\x01\0", 8);
  data += std::string("\xff\xff\xff\x7f", 4) + std::string(4, '\0') + "tiny";
  WriteRaw(path, data);
  std::vector<std::string> got;
  Status s = ReadAllRecords(path, &got);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("record at offset 8: length 2147483647 exceeds the 64 MiB"),
            std::string::npos)
      << s.message();
}

TEST(RecordIo, NotAShard) {
  TempDir tmp;
  const std::string path = tmp.path() + "/x.csrec";
  WriteRaw(path, "PK\x03\x04 this is a zip file");
  auto r = RecordReader::Open(path);
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_NE(r.status().message().find("bad magic"), std::string::npos);
  EXPECT_TRUE(RecordReader::Open(tmp.path() + "/missing.csrec").status().IsNotFound());
}

}  // namespace
}  // namespace claimsweep
