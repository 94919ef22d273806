#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/rng.h"
#include "data/crc32c.h"

namespace claimsweep {
namespace {

// Bit-at-a-time reference: slow, obviously right.
uint32_t Reference(const std::string& s) {
  uint32_t c = 0xFFFFFFFF;
  for (unsigned char b : s) {
    c ^= b;
    for (int i = 0; i < 8; ++i) c = (c >> 1) ^ ((c & 1) ? 0x82F63B78 : 0);
  }
  return ~c;
}

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c::Value("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c::Value("", 0), 0u);
  // RFC 3720 (iSCSI) B.4.
  std::string zeros(32, '\0'), ones(32, '\xff'), up(32, 0), down(32, 0);
  for (int i = 0; i < 32; ++i) {
    up[i] = char(i);
    down[i] = char(31 - i);
  }
  EXPECT_EQ(crc32c::Value(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(crc32c::Value(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(crc32c::Value(up.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(crc32c::Value(down.data(), 32), 0x113FDB5Cu);
}

TEST(Crc32c, MatchesReferenceAtEveryLengthAndAlignment) {
  SplitMix64 r(7);
  std::string buf(200, 0);
  for (auto& ch : buf) ch = char(r.Next());
  for (size_t off = 0; off < 9; ++off) {
    for (size_t n = 0; off + n <= buf.size(); n += 3) {
      ASSERT_EQ(crc32c::Value(buf.data() + off, n), Reference(buf.substr(off, n)))
          << off << "+" << n;
    }
  }
}

TEST(Crc32c, ExtendEqualsWhole) {
  const std::string s = "hello, world: the quick brown fox jumps over the lazy dog";
  for (size_t split = 0; split <= s.size(); ++split) {
    uint32_t a = crc32c::Value(s.data(), split);
    EXPECT_EQ(crc32c::Extend(a, s.data() + split, s.size() - split),
              crc32c::Value(s.data(), s.size()));
  }
}

}  // namespace
}  // namespace claimsweep
